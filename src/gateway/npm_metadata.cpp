#include "pkgtrust/gateway/npm_metadata.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

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

using simdjson::ondemand::object;
using simdjson::ondemand::value;

// A member's key (unescaped) and value; false when the document is malformed there.
bool ReadField(simdjson::simdjson_result<simdjson::ondemand::field>& field, std::string_view& key, value& v) {
  return field.unescaped_key().get(key) == simdjson::SUCCESS && field.value().get(v) == simdjson::SUCCESS;
}

// Appends `v` as the upstream wrote it (a raw span of the document: no re-serialisation).
bool AppendRaw(std::string& out, value& v) {
  std::string_view raw;
  if (simdjson::to_json_string(v).get(raw) != simdjson::SUCCESS) return false;
  out += raw;
  return true;
}

// The version object for the client: every member (full form) or the abbreviated ones
// (with `hasInstallScript` derived from `scripts`), with dist.tarball rewritten.
bool AppendVersion(std::string& out, object version, NpmForm form, const std::string& tarball) {
  out += '{';
  bool first = true;
  bool install_script_written = false, install_script = false;
  for (auto field : version) {
    std::string_view key;
    value v;
    if (!ReadField(field, key, v)) return false;
    if (form == NpmForm::kAbbreviated && key == "scripts") {
      object scripts;
      if (v.get_object().get(scripts) == simdjson::SUCCESS)
        for (auto script : scripts) {
          std::string_view name;
          if (script.unescaped_key().get(name) != simdjson::SUCCESS) return false;
          if (name == "preinstall" || name == "install" || name == "postinstall") install_script = true;
        }
      continue;
    }
    if (form == NpmForm::kAbbreviated && !kAbbreviatedVersionMembers.contains(key)) continue;
    if (key == "hasInstallScript") install_script_written = true;
    AppendMember(out, first, key);
    object dist;
    if (key == "dist" && v.get_object().get(dist) == simdjson::SUCCESS) {
      out += '{';
      bool first_in_dist = true;
      for (auto dist_field : dist) {
        std::string_view dist_key;
        value dist_value;
        if (!ReadField(dist_field, dist_key, dist_value)) return false;
        AppendMember(out, first_in_dist, dist_key);
        if (dist_key == "tarball")
          core::AppendJsonString(out, tarball);
        else if (!AppendRaw(out, dist_value))
          return false;
      }
      out += '}';
      continue;
    }
    if (!AppendRaw(out, v)) return false;
  }
  if (install_script && !install_script_written) {
    AppendMember(out, first, "hasInstallScript");
    out += "true";
  }
  out += '}';
  return true;
}

}  // namespace

NpmForm NpmFormFor(std::string_view accept) {
  return accept.find("application/vnd.npm.install-v1+json") != std::string_view::npos ? NpmForm::kAbbreviated
                                                                                      : NpmForm::kFull;
}

core::Result<NpmMetadata> FilterNpmPackument(
    std::string_view upstream, NpmForm form, std::string_view upstream_base, std::string_view gateway_base,
    const std::function<Decision(std::string_view version, core::Millis published)>& decide,
    std::size_t readable_after) {
  // Bases end with '/', so "https://registry.npmjs.org" never matches a tarball on
  // "https://registry.npmjs.org.evil.example/".
  std::string upstream_prefix(upstream_base), gateway_prefix(gateway_base);
  if (!upstream_prefix.ends_with('/')) upstream_prefix += '/';
  if (!gateway_prefix.ends_with('/')) gateway_prefix += '/';
  // simdjson's On-Demand parser: no document tree, only an index of the structure (about half
  // the body for a packument, where a tree costs twice the body); values are copied from the
  // upstream's bytes as they are. Two passes: what the decisions need, then the answer.
  simdjson::padded_string copy;
  simdjson::padded_string_view input;
  if (readable_after >= kJsonPadding) {
    input = simdjson::padded_string_view(upstream.data(), upstream.size(), upstream.size() + readable_after);
  } else {
    copy = simdjson::padded_string(upstream);
    input = copy;
  }
  auto not_json = [] { return core::Status::InvalidArgument("the upstream packument is not valid JSON"); };
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  object root;
  if (parser.iterate(input).get(doc) != simdjson::SUCCESS) return not_json();
  if (doc.get_object().get(root) != simdjson::SUCCESS)
    return core::Status::InvalidArgument("the upstream packument is not a JSON object");

  // Pass 1: versions with their tarballs, publish times, dist-tags, the name.
  struct Listed {
    std::string version, tarball;
    bool has_tarball = false;
  };
  std::vector<Listed> listed;
  std::unordered_map<std::string, std::string> published_at;  // `time`
  std::vector<std::pair<std::string, std::string>> tags;
  std::string name, modified;
  bool modified_in_time = false;
  for (auto field : root) {
    std::string_view key;
    value v;
    if (!ReadField(field, key, v)) return not_json();
    object members;
    if (key == "versions" && v.get_object().get(members) == simdjson::SUCCESS) {
      for (auto version_field : members) {
        Listed entry;
        std::string_view version;
        value version_value;
        if (!ReadField(version_field, version, version_value)) return not_json();
        entry.version = std::string(version);
        object version_object, dist;
        std::string_view tarball;
        if (version_value.get_object().get(version_object) == simdjson::SUCCESS &&
            version_object.find_field_unordered("dist").get_object().get(dist) == simdjson::SUCCESS &&
            dist.find_field_unordered("tarball").get_string().get(tarball) == simdjson::SUCCESS) {
          entry.tarball = std::string(tarball);
          entry.has_tarball = true;
        }
        listed.push_back(std::move(entry));
      }
    } else if (key == "time" && v.get_object().get(members) == simdjson::SUCCESS) {
      for (auto time_field : members) {
        std::string_view version, when;
        if (time_field.unescaped_key().get(version) != simdjson::SUCCESS) return not_json();
        std::string version_copy(version);
        if (time_field.value().get_string().get(when) != simdjson::SUCCESS) continue;
        if (version_copy == "modified") {
          modified = std::string(when);
          modified_in_time = true;
        }
        published_at.insert_or_assign(std::move(version_copy), std::string(when));
      }
    } else if (key == "dist-tags" && v.get_object().get(members) == simdjson::SUCCESS) {
      for (auto tag_field : members) {
        std::string_view tag, named;
        if (tag_field.unescaped_key().get(tag) != simdjson::SUCCESS) return not_json();
        std::string tag_copy(tag);
        if (tag_field.value().get_string().get(named) != simdjson::SUCCESS) continue;
        tags.emplace_back(std::move(tag_copy), std::string(named));
      }
    } else if (key == "name") {
      std::string_view text;
      if (v.get_string().get(text) == simdjson::SUCCESS) name = std::string(text);
    } else if (key == "modified" && !modified_in_time) {
      std::string_view text;
      if (v.get_string().get(text) == simdjson::SUCCESS) modified = std::string(text);
    }
  }

  // An error the loops above stepped over (in a value they skipped) leaves the reader unusable.
  if (!doc.is_alive()) return not_json();

  NpmMetadata result;
  std::unordered_set<std::string> version_names;
  std::unordered_map<std::string, std::string> kept_tarballs;  // version -> its tarball through the gateway
  std::vector<std::string> kept_order;
  for (Listed& entry : listed) {
    if (!version_names.insert(entry.version).second) continue;  // a repeated key: judged once
    core::Millis published = 0;
    if (auto at = published_at.find(entry.version); at != published_at.end())
      published = core::ParseTimestamp(at->second).value_or(0);
    Decision decision = decide(entry.version, published);
    if (decision.refused) {
      result.removed.push_back({entry.version, std::move(decision)});
      continue;
    }
    if (!entry.has_tarball || !std::string_view(entry.tarball).starts_with(upstream_prefix)) {
      result.removed.push_back(
          {entry.version,
           {Action::kBlock, "tarball_host",
            fmt::format("{}: its tarball is not on the configured upstream registry", entry.version), true}});
      continue;
    }
    if (decision.action != Action::kOff) result.warned.push_back({entry.version, std::move(decision)});
    kept_tarballs.emplace(entry.version, gateway_prefix + entry.tarball.substr(upstream_prefix.size()));
    kept_order.push_back(entry.version);
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
    for (const auto& [tag, named] : tags) {
      std::string target = kept_tarballs.contains(named) ? named : retarget(named);
      if (target.empty()) continue;
      AppendMember(out, first, tag);
      core::AppendJsonString(out, target);
    }
    out += '}';
  };
  // Pass 2 writes each kept version (once) as the upstream wrote it, its tarball rewritten.
  auto append_versions = [&](std::string& out, object versions) -> bool {
    out += '{';
    bool first = true;
    std::unordered_set<std::string> written;
    for (auto version_field : versions) {
      std::string_view version;
      value version_value;
      if (!ReadField(version_field, version, version_value)) return false;
      std::string version_copy(version);
      auto kept = kept_tarballs.find(version_copy);
      object version_object;
      if (kept == kept_tarballs.end() || written.contains(version_copy) ||
          version_value.get_object().get(version_object) != simdjson::SUCCESS)
        continue;
      written.insert(version_copy);
      AppendMember(out, first, version_copy);
      if (!AppendVersion(out, version_object, form, kept->second)) return false;
    }
    out += '}';
    return true;
  };

  std::string& out = result.body;
  // The answer is at most about the upstream's size (longer tarball URLs aside): reserved
  // whole at once (only the pages written become resident), so that growing does not hold
  // two copies of it.
  out.reserve(upstream.size() + upstream.size() / 16 + 4096);
  doc.rewind();
  if (doc.get_object().get(root) != simdjson::SUCCESS) return not_json();
  out += '{';
  bool first = true;
  if (form == NpmForm::kAbbreviated) {
    if (!name.empty()) {
      AppendMember(out, first, "name");
      core::AppendJsonString(out, name);
    }
    if (!modified.empty()) {
      AppendMember(out, first, "modified");
      core::AppendJsonString(out, modified);
    }
    AppendMember(out, first, "dist-tags");
    append_tags(out);
    AppendMember(out, first, "versions");
    bool versions_written = false;
    for (auto field : root) {
      std::string_view key;
      value v;
      if (!ReadField(field, key, v)) return not_json();
      object versions;
      if (key != "versions" || versions_written || v.get_object().get(versions) != simdjson::SUCCESS)
        continue;
      if (!append_versions(out, versions)) return not_json();
      versions_written = true;
    }
    if (!versions_written) out += "{}";
    out += '}';
    if (!doc.is_alive()) return not_json();
    return result;
  }
  std::unordered_set<std::string> members_written;
  for (auto field : root) {
    std::string_view key;
    value v;
    if (!ReadField(field, key, v)) return not_json();
    std::string key_copy(key);
    // A repeated member is written once (the first), so the client reads what was filtered.
    if (!members_written.insert(key_copy).second) continue;
    AppendMember(out, first, key_copy);
    object members;
    if (key_copy == "versions" && v.get_object().get(members) == simdjson::SUCCESS) {
      if (!append_versions(out, members)) return not_json();
    } else if (key_copy == "dist-tags" && v.get_object().get(members) == simdjson::SUCCESS) {
      append_tags(out);
    } else if (key_copy == "time" && v.get_object().get(members) == simdjson::SUCCESS) {
      out += '{';
      bool first_time = true;
      for (auto time_field : members) {
        std::string_view version;
        value when;
        if (!ReadField(time_field, version, when)) return not_json();
        // Versions removed here leave `time` too; created, modified and unpublished stay.
        std::string version_copy(version);
        if (version_names.contains(version_copy) && !kept_tarballs.contains(version_copy)) continue;
        AppendMember(out, first_time, version_copy);
        if (!AppendRaw(out, when)) return not_json();
      }
      out += '}';
    } else if (!AppendRaw(out, v)) {
      return not_json();
    }
  }
  out += '}';
  if (!doc.is_alive()) return not_json();
  return result;
}

}  // namespace pkgtrust::gateway
