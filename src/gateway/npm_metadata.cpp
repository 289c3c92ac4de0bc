#include "pkgtrust/gateway/npm_metadata.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/json_document.hpp"
#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/core/version.hpp"

namespace pkgtrust::gateway {

namespace {

// The members of a version in the abbreviated form (npm's registry documentation,
// "Abbreviated version object"); `hasInstallScript` is derived from `scripts`.
const std::set<std::string_view> kAbbreviatedVersionMembers = {"name",
                                                               "version",
                                                               "deprecated",
                                                               "dependencies",
                                                               "optionalDependencies",
                                                               "devDependencies",
                                                               "bundleDependencies",
                                                               "peerDependencies",
                                                               "peerDependenciesMeta",
                                                               "acceptDependencies",
                                                               "bin",
                                                               "directories",
                                                               "dist",
                                                               "engines",
                                                               "_hasShrinkwrap",
                                                               "hasInstallScript",
                                                               "cpu",
                                                               "os",
                                                               "libc",
                                                               "funding"};

void AppendMember(std::string& out, bool& first, std::string_view key) {
  if (!first) out += ',';
  first = false;
  core::AppendJsonString(out, key);
  out += ':';
}

bool IsPrerelease(std::string_view version) {
  std::size_t dash = version.find('-');
  return dash != std::string_view::npos && dash < version.find('+');
}

bool HasInstallScript(simdjson::dom::object version) {
  simdjson::dom::object scripts;
  if (version.at_key("scripts").get(scripts) != simdjson::SUCCESS) return false;
  for (const char* name : {"preinstall", "install", "postinstall"})
    if (scripts.at_key(name).error() == simdjson::SUCCESS) return true;
  return false;
}

// The version object for the client: every member (full form) or the abbreviated ones,
// with dist.tarball rewritten.
void AppendVersion(std::string& out, simdjson::dom::object version, NpmForm form,
                   const std::string& tarball) {
  out += '{';
  bool first = true;
  bool install_script_written = false;
  for (auto [key, value] : version) {
    if (form == NpmForm::kAbbreviated && !kAbbreviatedVersionMembers.contains(key)) continue;
    if (key == "hasInstallScript") install_script_written = true;
    AppendMember(out, first, key);
    simdjson::dom::object dist;
    if (key == "dist" && value.get(dist) == simdjson::SUCCESS) {
      out += '{';
      bool first_in_dist = true;
      for (auto [dist_key, dist_value] : dist) {
        AppendMember(out, first_in_dist, dist_key);
        if (dist_key == "tarball")
          core::AppendJsonString(out, tarball);
        else
          out += simdjson::to_string(dist_value);
      }
      out += '}';
      continue;
    }
    out += simdjson::to_string(value);
  }
  if (form == NpmForm::kAbbreviated && !install_script_written && HasInstallScript(version)) {
    AppendMember(out, first, "hasInstallScript");
    out += "true";
  }
  out += '}';
}

}  // namespace

NpmForm NpmFormFor(std::string_view accept) {
  return accept.find("application/vnd.npm.install-v1+json") != std::string_view::npos ? NpmForm::kAbbreviated
                                                                                      : NpmForm::kFull;
}

core::Result<NpmMetadata> FilterNpmPackument(
    std::string_view upstream, NpmForm form, std::string_view upstream_base, std::string_view gateway_base,
    const std::function<Decision(std::string_view version, core::Millis published)>& decide) {
  // Bases end with '/', so "https://registry.npmjs.org" never matches a tarball on
  // "https://registry.npmjs.org.evil.example/".
  std::string upstream_prefix(upstream_base), gateway_prefix(gateway_base);
  if (!upstream_prefix.ends_with('/')) upstream_prefix += '/';
  if (!gateway_prefix.ends_with('/')) gateway_prefix += '/';
  core::JsonDocument doc(upstream);
  if (!doc.ok())
    return core::Status::InvalidArgument(fmt::format("the upstream packument is not JSON ({})", doc.error()));
  simdjson::dom::object root;
  if (doc.root().get(root) != simdjson::SUCCESS)
    return core::Status::InvalidArgument("the upstream packument is not a JSON object");
  simdjson::dom::object versions, times, tags;
  bool has_versions = root["versions"].get(versions) == simdjson::SUCCESS;
  bool has_times = root["time"].get(times) == simdjson::SUCCESS;
  bool has_tags = root["dist-tags"].get(tags) == simdjson::SUCCESS;

  // `time` read once (simdjson's at_key is a linear search: per version it would make a
  // packument of n versions cost n² comparisons).
  std::unordered_map<std::string_view, std::string_view> published_at;
  if (has_times)
    for (auto [key, value] : times) {
      std::string_view text;
      if (value.get(text) == simdjson::SUCCESS) published_at.emplace(key, text);
    }
  std::unordered_set<std::string_view> version_names;

  NpmMetadata result;
  // Each version's fate, in the upstream's order: kept ones with their rewritten tarball.
  std::map<std::string, std::string, std::less<>> kept_tarballs;
  std::vector<std::string> kept_order;
  if (has_versions) {
    for (auto [key, value] : versions) {
      std::string version(key);
      version_names.insert(key);
      core::Millis published = 0;
      if (auto at = published_at.find(key); at != published_at.end())
        published = core::ParseTimestamp(at->second).value_or(0);
      Decision decision = decide(version, published);
      if (decision.refused) {
        result.removed.push_back({version, std::move(decision)});
        continue;
      }
      std::string_view tarball;
      if (value["dist"]["tarball"].get(tarball) != simdjson::SUCCESS ||
          !tarball.starts_with(upstream_prefix)) {
        result.removed.push_back(
            {version,
             {Action::kBlock, "tarball_host",
              fmt::format("{}: its tarball is not on the configured upstream registry", version), true}});
        continue;
      }
      if (decision.action != Action::kOff) result.warned.push_back({version, std::move(decision)});
      std::string rewritten = gateway_prefix;
      rewritten += tarball.substr(upstream_prefix.size());
      kept_tarballs.emplace(version, std::move(rewritten));
      kept_order.push_back(version);
    }
  }
  result.kept = kept_order.size();

  // dist-tags: a tag naming a removed version moves to the highest version left at or below
  // it of the same kind (release or pre-release), so `latest` steps back to the previous
  // release and a maintenance tag never crosses to a newer line; with none such, to the
  // highest version left (a release when there is one).
  auto higher = [](const std::string& a, const std::string& b) {  // whether a should replace b
    if (b.empty()) return true;
    bool a_pre = IsPrerelease(a), b_pre = IsPrerelease(b);
    if (a_pre != b_pre) return b_pre;
    return core::CompareVersions(core::Ecosystem::kNpm, a, b).value_or(0) > 0;
  };
  std::string highest;
  for (const std::string& v : kept_order)
    if (higher(v, highest)) highest = v;
  auto retarget = [&](std::string_view tagged) -> std::string {
    std::string best;
    for (const std::string& v : kept_order)
      if (IsPrerelease(v) == IsPrerelease(tagged) &&
          core::CompareVersions(core::Ecosystem::kNpm, v, tagged).value_or(1) <= 0 &&
          (best.empty() || core::CompareVersions(core::Ecosystem::kNpm, v, best).value_or(0) > 0))
        best = v;
    return best.empty() ? highest : best;
  };
  auto append_tags = [&](std::string& out) {
    out += '{';
    bool first = true;
    if (has_tags)
      for (auto [tag, value] : tags) {
        std::string_view named;
        if (value.get(named) != simdjson::SUCCESS) continue;
        std::string target = kept_tarballs.contains(named) ? std::string(named) : retarget(named);
        if (target.empty()) continue;
        AppendMember(out, first, tag);
        core::AppendJsonString(out, target);
      }
    out += '}';
  };
  auto append_versions = [&](std::string& out) {
    out += '{';
    bool first = true;
    for (auto [key, value] : versions) {
      auto kept = kept_tarballs.find(key);
      simdjson::dom::object version;
      if (kept == kept_tarballs.end() || value.get(version) != simdjson::SUCCESS) continue;
      AppendMember(out, first, key);
      AppendVersion(out, version, form, kept->second);
    }
    out += '}';
  };

  std::string& out = result.body;
  out.reserve(form == NpmForm::kFull ? upstream.size() : upstream.size() / 4);
  out += '{';
  bool first = true;
  if (form == NpmForm::kAbbreviated) {
    std::string_view text;
    if (root["name"].get(text) == simdjson::SUCCESS) {
      AppendMember(out, first, "name");
      core::AppendJsonString(out, text);
    }
    if ((has_times && times["modified"].get(text) == simdjson::SUCCESS) ||
        root["modified"].get(text) == simdjson::SUCCESS) {
      AppendMember(out, first, "modified");
      core::AppendJsonString(out, text);
    }
    AppendMember(out, first, "dist-tags");
    append_tags(out);
    AppendMember(out, first, "versions");
    if (has_versions)
      append_versions(out);
    else
      out += "{}";
    out += '}';
    return result;
  }
  for (auto [key, value] : root) {
    AppendMember(out, first, key);
    if (key == "versions" && has_versions) {
      append_versions(out);
    } else if (key == "dist-tags" && has_tags) {
      append_tags(out);
    } else if (key == "time" && has_times) {
      out += '{';
      bool first_time = true;
      for (auto [version, when] : times) {
        // Versions removed here leave `time` too; created, modified and unpublished stay.
        bool is_version = version_names.contains(version);
        if (is_version && !kept_tarballs.contains(version)) continue;
        AppendMember(out, first_time, version);
        out += simdjson::to_string(when);
      }
      out += '}';
    } else {
      out += simdjson::to_string(value);
    }
  }
  out += '}';
  return result;
}

}  // namespace pkgtrust::gateway
