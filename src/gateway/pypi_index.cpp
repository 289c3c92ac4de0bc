#include "pkgtrust/gateway/pypi_index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "core/json_document.hpp"
#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/core/version.hpp"

namespace pkgtrust::gateway {

namespace {

constexpr std::string_view kJsonType = "application/vnd.pypi.simple.v1+json";
constexpr std::string_view kHtmlType = "application/vnd.pypi.simple.v1+html";

// PEP 503's normalized name: lower case, every run of '-', '_' and '.' one '-'.
std::string Normalize(std::string_view name) {
  std::string out;
  bool separator = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      separator = true;
      continue;
    }
    if (separator && !out.empty()) out += '-';
    separator = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void AppendHtml(std::string& out, std::string_view text) {
  for (char c : text) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
}

// A PEP 658/714 metadata mark as HTML writes it: "true", or "sha256=HEX"; empty when absent.
std::string MetadataMark(simdjson::dom::element mark) {
  bool flag;
  if (mark.get(flag) == simdjson::SUCCESS) return flag ? "true" : "";
  simdjson::dom::object hashes;
  if (mark.get(hashes) != simdjson::SUCCESS) return "";
  for (auto [algorithm, value] : hashes) {
    std::string_view hex;
    if (value.get(hex) == simdjson::SUCCESS) return fmt::format("{}={}", algorithm, hex);
  }
  return "true";
}

struct File {
  simdjson::dom::object object;
  std::string filename, version, url;
  core::Millis uploaded = 0;
};

}  // namespace

PypiForm PypiFormFor(std::string_view accept) {
  double json_q = -1, html_q = -1;
  while (!accept.empty()) {
    std::size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    std::size_t semicolon = item.find(';');
    std::string_view type = Trim(item.substr(0, semicolon));
    double q = 1;
    if (semicolon != std::string_view::npos) {
      std::string_view params = item.substr(semicolon + 1);
      if (std::size_t at = params.find("q="); at != std::string_view::npos)
        q = std::strtod(std::string(Trim(params.substr(at + 2))).c_str(), nullptr);
    }
    if (type == kJsonType) json_q = std::max(json_q, q);
    if (type == kHtmlType || type == "text/html") html_q = std::max(html_q, q);
  }
  return json_q >= 0 && json_q >= html_q ? PypiForm::kJson : PypiForm::kHtml;
}

std::string_view PypiContentType(PypiForm form, std::string_view accept) {
  if (form == PypiForm::kJson) return kJsonType;
  return accept.find(kHtmlType) != std::string_view::npos ? kHtmlType : std::string_view("text/html");
}

std::string PypiFileVersion(std::string_view project, std::string_view filename,
                            const std::vector<std::string>& versions) {
  std::string wanted = Normalize(project);
  for (std::size_t dash = filename.find('-'); dash != std::string_view::npos;
       dash = filename.find('-', dash + 1)) {
    if (Normalize(filename.substr(0, dash)) != wanted) continue;
    std::string_view rest = filename.substr(dash + 1);
    std::string best;
    for (const std::string& v : versions)
      if (v.size() > best.size() && rest.starts_with(v) &&
          (rest.size() == v.size() || rest[v.size()] == '-' || rest[v.size()] == '.'))
        best = v;
    if (!best.empty()) return best;
    // The version the file's name spells (wheels carry it normalized: "2023.1.5" for a
    // release listed as "2023.01.05"), matched to a listed one as PEP 440 orders them.
    std::string spelled;
    if (filename.ends_with(".whl") || filename.ends_with(".egg")) {
      spelled = std::string(rest.substr(0, rest.find('-')));
    } else {
      for (std::string_view suffix : {".tar.gz", ".tar.bz2", ".tgz", ".zip", ".tar.xz"})
        if (rest.ends_with(suffix)) spelled = std::string(rest.substr(0, rest.size() - suffix.size()));
    }
    if (versions.empty() || spelled.empty()) return spelled;
    for (const std::string& v : versions)
      if (core::CompareVersions(core::Ecosystem::kPypi, v, spelled) == std::optional<int>(0)) return v;
    return {};
  }
  return {};
}

core::Result<PypiIndex> FilterPypiIndex(
    std::string_view upstream, PypiForm form, std::string_view files_base,
    std::string_view gateway_files_base,
    const std::function<Decision(std::string_view version, core::Millis published)>& decide) {
  std::string upstream_prefix(files_base), gateway_prefix(gateway_files_base);
  if (!upstream_prefix.ends_with('/')) upstream_prefix += '/';
  if (!gateway_prefix.ends_with('/')) gateway_prefix += '/';
  core::JsonDocument doc(upstream);
  if (!doc.ok())
    return core::Status::InvalidArgument(fmt::format("the upstream index is not JSON ({})", doc.error()));
  simdjson::dom::object root;
  simdjson::dom::array files;
  if (doc.root().get(root) != simdjson::SUCCESS || root["files"].get(files) != simdjson::SUCCESS)
    return core::Status::InvalidArgument(
        "the upstream index is not a PEP 691 project page (no \"files\" list)");
  std::string name = core::StringAt(doc.root(), "name");
  if (name.empty()) return core::Status::InvalidArgument("the upstream index names no project");
  std::vector<std::string> versions;
  simdjson::dom::array listed;
  if (root["versions"].get(listed) == simdjson::SUCCESS)
    for (simdjson::dom::element v : listed) {
      std::string_view text;
      if (v.get(text) == simdjson::SUCCESS) versions.emplace_back(text);
    }

  // Each file's version and upload time; each version's first upload.
  std::vector<File> all;
  std::map<std::string, core::Millis> first_upload;
  for (simdjson::dom::element item : files) {
    File f;
    if (item.get(f.object) != simdjson::SUCCESS) continue;
    f.filename = core::StringAt(item, "filename");
    f.url = core::StringAt(item, "url");
    if (f.filename.empty()) continue;
    f.version = PypiFileVersion(name, f.filename, versions);
    f.uploaded = core::ParseTimestamp(core::StringAt(item, "upload-time")).value_or(0);
    core::Millis& first = first_upload[f.version];
    if (f.uploaded > 0 && (first == 0 || f.uploaded < first)) first = f.uploaded;
    all.push_back(std::move(f));
  }
  for (const std::string& v : versions) first_upload.try_emplace(v, 0);
  // A version is judged at its first upload; each file also at its own, since PyPI lets new
  // files join an old release (a wheel added today is as young as a release made today).
  std::map<std::pair<std::string, core::Millis>, Decision> decisions;
  auto decision_for = [&](const std::string& version, core::Millis uploaded) -> const Decision& {
    auto [it, added] = decisions.try_emplace({version, uploaded});
    if (added) it->second = decide(version, uploaded);
    return it->second;
  };

  PypiIndex result;
  std::vector<const File*> kept;
  std::vector<std::string> rewritten;
  for (const File& f : all) {
    if (f.version.empty()) {  // a file no listed version claims is never judged as another: out
      result.removed.push_back({f.filename,
                                "",
                                {Action::kBlock, "unknown_version",
                                 fmt::format("{}: no listed version of {}", f.filename, name), true}});
      continue;
    }
    const Decision& decision = decision_for(f.version, f.uploaded > 0 ? f.uploaded : first_upload[f.version]);
    if (decision.refused) {
      result.removed.push_back({f.filename, f.version, decision});
      continue;
    }
    if (!f.url.starts_with(upstream_prefix)) {
      result.removed.push_back(
          {f.filename,
           f.version,
           {Action::kBlock, "file_host",
            fmt::format("{}: not on the configured upstream file host", f.filename), true}});
      continue;
    }
    if (decision.action != Action::kOff) result.warned.push_back({f.filename, f.version, decision});
    kept.push_back(&f);
    rewritten.push_back(gateway_prefix + f.url.substr(upstream_prefix.size()));
  }
  result.kept = kept.size();
  // Nothing left by the policy's choice: the refused files are listed as yanked, the
  // refusal as the reason, and their downloads answer 403. pip and uv print a yank reason
  // (and then the 403's); an empty page or a 403 page would only say "no versions".
  std::vector<std::string> yank_reasons(kept.size());
  if (kept.empty())
    for (const File& f : all) {
      if (f.version.empty() || !f.url.starts_with(upstream_prefix)) continue;
      const Decision& decision =
          decision_for(f.version, f.uploaded > 0 ? f.uploaded : first_upload[f.version]);
      if (!decision.refused) continue;
      kept.push_back(&f);
      rewritten.push_back(gateway_prefix + f.url.substr(upstream_prefix.size()));
      yank_reasons.push_back("blocked by the pkgtrust gateway: " + decision.reason);
      result.yanked_refused++;
    }

  std::string& out = result.body;
  if (form == PypiForm::kJson) {
    out += R"({"meta":{"api-version":"1.1"},"name":)";
    core::AppendJsonString(out, name);
    out += R"(,"files":[)";
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (i) out += ',';
      out += '{';
      bool first = true;
      for (auto [key, value] : kept[i]->object) {
        if (!yank_reasons[i].empty() && key == "yanked") continue;
        if (!first) out += ',';
        first = false;
        core::AppendJsonString(out, key);
        out += ':';
        if (key == "url")
          core::AppendJsonString(out, rewritten[i]);
        else
          out += simdjson::to_string(value);
      }
      if (!yank_reasons[i].empty()) {
        out += first ? "\"yanked\":" : ",\"yanked\":";
        core::AppendJsonString(out, yank_reasons[i]);
      }
      out += '}';
    }
    out += R"(],"versions":[)";
    bool first = true;
    for (const std::string& v : versions) {
      if (decision_for(v, first_upload[v]).refused && result.yanked_refused == 0) continue;
      if (!first) out += ',';
      first = false;
      core::AppendJsonString(out, v);
    }
    out += "]}";
    return result;
  }
  out +=
      "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" "
      "content=\"1.1\">\n<title>Links for ";
  AppendHtml(out, name);
  out += "</title>\n</head>\n<body>\n<h1>Links for ";
  AppendHtml(out, name);
  out += "</h1>\n";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    simdjson::dom::object file = kept[i]->object;
    out += "<a href=\"";
    AppendHtml(out, rewritten[i]);
    simdjson::dom::object hashes;
    if (file["hashes"].get(hashes) == simdjson::SUCCESS) {
      std::string_view sha256;
      if (hashes["sha256"].get(sha256) == simdjson::SUCCESS) {
        out += "#sha256=";
        AppendHtml(out, sha256);
      }
    }
    out += '"';
    std::string_view text;
    if (file["requires-python"].get(text) == simdjson::SUCCESS && !text.empty()) {
      out += " data-requires-python=\"";
      AppendHtml(out, text);
      out += '"';
    }
    bool yanked = false;
    if (!yank_reasons[i].empty()) {
      out += " data-yanked=\"";
      AppendHtml(out, yank_reasons[i]);
      out += '"';
    } else if (file["yanked"].get(text) == simdjson::SUCCESS) {
      out += " data-yanked=\"";
      AppendHtml(out, text);
      out += '"';
    } else if (file["yanked"].get(yanked) == simdjson::SUCCESS && yanked) {
      out += " data-yanked=\"\"";
    }
    simdjson::dom::element mark;
    if (file["core-metadata"].get(mark) == simdjson::SUCCESS ||
        file["dist-info-metadata"].get(mark) == simdjson::SUCCESS)
      if (std::string value = MetadataMark(mark); !value.empty()) {
        // PEP 714 renamed the attribute; both are written so that older clients find it too.
        for (const char* attribute : {" data-core-metadata=\"", " data-dist-info-metadata=\""}) {
          out += attribute;
          AppendHtml(out, value);
          out += '"';
        }
      }
    out += '>';
    AppendHtml(out, kept[i]->filename);
    out += "</a><br/>\n";
  }
  out += "</body>\n</html>\n";
  return result;
}

}  // namespace pkgtrust::gateway
