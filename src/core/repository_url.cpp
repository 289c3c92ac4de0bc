#include "pkgtrust/core/repository_url.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace pkgtrust::core {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Lower(s.substr(0, prefix.size())) == prefix;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool ValidPart(std::string_view part) {
  return !part.empty() && part != "." && part != ".." && std::all_of(part.begin(), part.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

std::string TrimSlashes(std::string_view s) {
  while (!s.empty() && s.front() == '/') s.remove_prefix(1);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string RepositoryRef::Url() const { return "https://" + host + "/" + owner + "/" + name; }

std::optional<RepositoryRef> ParseRepositoryUrl(std::string_view text, std::string_view directory) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty() || s.size() > 2048) return std::nullopt;
  // Unexpanded Maven properties ("${project.scm.tag}") end the useful part.
  if (auto placeholder = s.find("${"); placeholder != std::string_view::npos) s = s.substr(0, placeholder);
  // Maven SCM prefixes: "scm:git:", "scm:svn:", "scm:".
  while (StartsWithNoCase(s, "scm:")) {
    s.remove_prefix(4);
    if (auto colon = s.find(':'); colon != std::string_view::npos && colon < 6 && s.find("//") != colon + 1)
      s.remove_prefix(colon + 1);
  }
  if (StartsWithNoCase(s, "git+")) s.remove_prefix(4);
  if (auto hash = s.find('#'); hash != std::string_view::npos) s = s.substr(0, hash);
  if (auto query = s.find('?'); query != std::string_view::npos) s = s.substr(0, query);

  std::string host;
  std::string_view path;
  if (auto scheme = s.find("://"); scheme != std::string_view::npos) {
    std::string_view rest = s.substr(scheme + 3);
    if (auto at = rest.find('@'); at != std::string_view::npos && at < rest.find('/')) rest = rest.substr(at + 1);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    host = Lower(rest.substr(0, slash));
    if (auto colon = host.find(':'); colon != std::string::npos) host = host.substr(0, colon);
    path = rest.substr(slash + 1);
  } else if (auto at = s.find('@'); at != std::string_view::npos && at < s.find('/')) {
    // git@github.com:owner/repo or git@github.com/owner/repo
    std::string_view rest = s.substr(at + 1);
    auto sep = rest.find_first_of(":/");
    if (sep == std::string_view::npos) return std::nullopt;
    host = Lower(rest.substr(0, sep));
    path = rest.substr(sep + 1);
  } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
    // npm shorthands: github:o/r, gitlab:o/r, bitbucket:o/r, gist:...
    std::string prefix = Lower(s.substr(0, colon));
    if (prefix == "github") host = "github.com";
    else if (prefix == "gitlab") host = "gitlab.com";
    else if (prefix == "bitbucket") host = "bitbucket.org";
    else return std::nullopt;
    path = s.substr(colon + 1);
  } else {
    auto parts = Split(s, '/');
    if (parts.size() == 2 && parts[0].find('.') == std::string_view::npos) {
      host = "github.com";  // npm's "owner/repo" shorthand
      path = s;
    } else if (!parts.empty() && parts[0].find('.') != std::string_view::npos) {
      host = Lower(parts[0]);  // "github.com/o/r" without a scheme
      path = s.substr(parts[0].size());
    } else {
      return std::nullopt;
    }
  }
  if (host.starts_with("www.")) host = host.substr(4);
  if (host.empty()) return std::nullopt;

  auto parts = Split(path, '/');
  if (parts.size() < 2) return std::nullopt;
  RepositoryRef ref;
  ref.host = host;
  ref.owner = std::string(parts[0]);
  std::string_view name = parts[1];
  if (name.size() > 4 && Lower(name.substr(name.size() - 4)) == ".git") name.remove_suffix(4);
  ref.name = std::string(name);
  if (!ValidPart(ref.owner) || !ValidPart(ref.name)) return std::nullopt;
  // ".../tree/<branch>/<dir>" and ".../blob/<branch>/<file>" name a place inside the repository.
  if (parts.size() >= 4 && (parts[2] == "tree" || parts[2] == "blob" || parts[2] == "src")) {
    std::string sub;
    for (std::size_t i = 4; i < parts.size(); ++i) sub += (sub.empty() ? "" : "/") + std::string(parts[i]);
    ref.subdirectory = sub;
  }
  if (ref.subdirectory.empty()) ref.subdirectory = TrimSlashes(directory);
  return ref;
}

std::optional<RepositoryRef> RepositoryFromGoModule(std::string_view module_path) {
  auto parts = Split(module_path, '/');
  if (parts.size() < 3) return std::nullopt;
  std::string host = Lower(parts[0]);
  if (host != "github.com" && host != "gitlab.com" && host != "bitbucket.org") return std::nullopt;
  RepositoryRef ref{host, std::string(parts[1]), std::string(parts[2]), {}};
  if (!ValidPart(ref.owner) || !ValidPart(ref.name)) return std::nullopt;
  std::size_t end = parts.size();
  auto is_major = [](std::string_view p) {
    return p.size() >= 2 && p[0] == 'v' && std::all_of(p.begin() + 1, p.end(), ::isdigit);
  };
  if (end > 3 && is_major(parts[end - 1])) --end;
  for (std::size_t i = 3; i < end; ++i) ref.subdirectory += (ref.subdirectory.empty() ? "" : "/") + std::string(parts[i]);
  return ref;
}

}  // namespace pkgtrust::core
