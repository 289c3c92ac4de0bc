#include "pkgtrust/adoption/user_agent.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "pkgtrust/core/json_limits.hpp"

namespace pkgtrust::adoption {

namespace {

constexpr std::size_t kMaxField = 32;

// The field if it is short and plain, else empty.
std::string Plain(std::string_view text) {
  if (text.empty() || text.size() > kMaxField) return {};
  for (char c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '+' && c != '-')
      return {};
  return std::string(text);
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string OsFamily(std::string_view text) {
  std::string os = Lower(std::string(text));
  if (os == "win32" || os.starts_with("windows")) return "windows";
  if (os == "darwin" || os == "macos" || os == "mac os x") return "darwin";
  if (os == "linux" || os == "freebsd" || os == "openbsd" || os == "netbsd" || os == "sunos" || os == "aix" ||
      os == "android")
    return os;
  return {};
}

std::vector<std::string_view> Tokens(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

}  // namespace

ClientInfo ReduceUserAgent(std::string_view user_agent) {
  ClientInfo info;
  if (user_agent.empty()) return info;
  std::size_t brace = user_agent.find('{');
  std::string_view head = user_agent.substr(0, brace);
  auto tokens = Tokens(head);
  if (tokens.empty()) {
    info.tool = "other";
    return info;
  }
  std::string_view first = tokens[0];
  std::size_t slash = first.find('/');
  info.tool = Lower(Plain(first.substr(0, slash)));
  if (info.tool.empty()) info.tool = "other";
  if (slash != std::string_view::npos) info.tool_version = Plain(first.substr(slash + 1));
  // npm and its kin: "node/v20.10.0 linux x64 ... ci/github-actions".
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    std::string_view t = tokens[i];
    if (t.starts_with("node/")) {
      std::string_view v = t.substr(5);
      if (v.starts_with('v')) v.remove_prefix(1);
      if (std::string version = Plain(v); !version.empty()) info.runtime = "node/" + version;
      if (i + 1 < tokens.size() && info.os.empty()) info.os = OsFamily(tokens[i + 1]);
    } else if (t.starts_with("ci/") && t != "ci/false") {
      info.ci = true;
    } else if (t.starts_with("python/") || t.starts_with("CPython/") || t.starts_with("PyPy/")) {
      std::size_t s = t.find('/');
      if (std::string version = Plain(t.substr(s + 1)); !version.empty())
        info.runtime = (t.starts_with("PyPy/")      ? "pypy/"
                        : t.starts_with("CPython/") ? "cpython/"
                                                    : "python/") +
                       version;
    } else if (info.os.empty()) {
      if (std::string os = OsFamily(t); !os.empty()) info.os = os;
    }
  }
  // pip and uv: a JSON object after the tool.
  if (brace != std::string_view::npos && user_agent.size() - brace <= 4096 &&
      core::JsonNestingWithin(user_agent.substr(brace))) {
    auto data = nlohmann::json::parse(user_agent.substr(brace), nullptr, false);
    if (data.is_object()) {
      if (auto ci = data.find("ci"); ci != data.end() && ci->is_boolean()) info.ci = ci->get<bool>();
      if (auto impl = data.find("implementation"); impl != data.end() && impl->is_object()) {
        auto name = impl->find("name");
        auto version = impl->find("version");
        if (name != impl->end() && name->is_string() && version != impl->end() && version->is_string()) {
          std::string n = Lower(Plain(name->get<std::string>()));
          std::string v = Plain(version->get<std::string>());
          if (!n.empty() && !v.empty()) info.runtime = n + "/" + v;
        }
      }
      if (auto system = data.find("system"); system != data.end() && system->is_object())
        if (auto name = system->find("name"); name != system->end() && name->is_string())
          info.os = OsFamily(name->get<std::string>());
    }
  }
  return info;
}

}  // namespace pkgtrust::adoption
