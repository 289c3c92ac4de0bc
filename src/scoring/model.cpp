#include "pkgtrust/scoring/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/version.hpp"

#include "pkgtrust/scoring/typosquat.hpp"

namespace pkgtrust::scoring {
namespace {

constexpr double kDay = 24.0 * 3600 * 1000;
constexpr double kWeightActivity = 0.40, kWeightProvenance = 0.35, kWeightPopularity = 0.25;
constexpr double kCapDeprecated = 3.0, kCapArchived = 4.0, kCapTyposquat = 1.0, kCapSecurityHolder = 0.0;
constexpr double kCapInstallScriptAdded = 2.0, kCapRepositoryMismatch = 2.0, kCapDependencyConfusion = 1.0;
constexpr double kPenaltyInstallScripts = 1.0, kPenaltyYoungPackage = 1.0, kPenaltyYoungVersion = 0.5;
constexpr double kPenaltyThrowaway = 1.5, kPenaltyNewPublisher = 1.0;

double Clamp(double v) { return std::clamp(v, 0.0, 10.0); }
// 0 at `low`, 10 at `high` and above, logarithmic in between.
double LogScale(double value, double low, double high) {
  if (value <= low) return 0;
  return Clamp(10 * std::log10(value / low) / std::log10(high / low));
}
// 10 up to `good` days, 0 from `bad` days, linear in between.
double Recency(double days, double good, double bad) {
  if (days <= good) return 10;
  if (days >= bad) return 0;
  return 10 * (bad - days) / (bad - good);
}
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
double Mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

Component Activity(const Inputs& in, core::Millis now) {
  Component c;
  std::vector<double> parts;
  if (in.github && in.github->found) {
    const auto& gh = *in.github;
    if (gh.commits_last_year >= 0) {
      parts.push_back(LogScale(static_cast<double>(gh.commits_last_year) + 1, 1, 100));
      c.facts.push_back(fmt::format("{} commits in the last year", gh.commits_last_year));
    }
    if (gh.contributors >= 0) {
      parts.push_back(LogScale(static_cast<double>(gh.contributors), 1, 30));
      c.facts.push_back(fmt::format("{} contributors", gh.contributors));
    }
    if (gh.pushed > 0) {
      double days = (now - gh.pushed) / kDay;
      parts.push_back(Recency(days, 30, 365));
      c.facts.push_back(fmt::format("last push {:.0f} days ago", days));
    }
  }
  core::Millis last_release = 0;
  int releases_last_year = 0;
  for (const auto& v : in.versions) {
    last_release = std::max(last_release, v.published);
    if (v.published > 0 && now - v.published < 365 * kDay) releases_last_year++;
  }
  if (last_release > 0) {
    double days = (now - last_release) / kDay;
    parts.push_back(Recency(days, 90, 730));
    c.facts.push_back(fmt::format("last release {:.0f} days ago", days));
    parts.push_back(Clamp(releases_last_year * 10.0 / 6));
    c.facts.push_back(fmt::format("{} releases in the last year", releases_last_year));
  }
  c.value = Mean(parts);
  return c;
}

Component Provenance(const Inputs& in) {
  Component c;
  if (!in.has_repository) {
    c.facts.push_back("no source repository declared");
    return c;
  }
  std::vector<std::pair<double, double>> parts;  // (value, weight)
  std::string short_name = TagShortName(in.key);
  if (in.github && in.github->found) {
    const auto& gh = *in.github;
    // Historical provenance: versions whose tag exists, published near the tag's date.
    int checked = 0, matched = 0;
    for (auto it = in.versions.rbegin(); it != in.versions.rend() && checked < 50; ++it, ++checked) {
      for (const auto& tag : gh.tags) {
        if (!TagMatches(tag.name, it->version, short_name)) continue;
        bool close = tag.date == 0 || it->published == 0 ||
                     std::abs(static_cast<double>(tag.date - it->published)) <= kTagWindowDays * kDay;
        if (close) matched++;
        break;
      }
    }
    if (checked > 0 && !gh.tags.empty()) {
      parts.emplace_back(10.0 * matched / checked, 0.5);
      c.facts.push_back(
          fmt::format("{} of the {} newest versions match a tag of the repository", matched, checked));
    } else {
      parts.emplace_back(0, 0.5);
      c.facts.push_back("the repository has no tags to match versions against");
    }
    // Is the repository really the package's? Its manifest says so; its name only suggests it.
    double own = gh.fork ? 2 : 6;
    using Manifest = Inputs::GitHub::Manifest;
    switch (gh.manifest) {
      case Manifest::kDeclaresPackage:
        own += 4;
        c.facts.push_back(fmt::format("{} in the repository declares this package", gh.manifest_path));
        break;
      case Manifest::kDeclaresOther:
        own += 1;  // a monorepo's root, or another package's repository
        c.facts.push_back(
            gh.manifest_name.empty()
                ? fmt::format("{} in the repository declares no readable name", gh.manifest_path)
                : fmt::format("{} in the repository declares '{}', not this package", gh.manifest_path,
                              gh.manifest_name.substr(0, 200)));
        break;
      case Manifest::kMissing:
        c.facts.push_back("the repository has no manifest for this package where one is expected");
        break;
      case Manifest::kNotRead:
      case Manifest::kUnreadable: {
        std::string repo = Lower(in.repository_name), name = Lower(short_name);
        bool named =
            repo == name || repo == name + ".js" || Lower(in.repository_subdirectory).ends_with(name);
        if (named) own += 3;
        c.facts.push_back(named ? "the repository is named like the package (its manifest was not read)"
                                : "the repository's manifest was not read");
        break;
      }
    }
    if (gh.moved) own -= 2;
    parts.emplace_back(Clamp(own), 0.3);
    c.facts.push_back(gh.fork ? "the repository is a fork" : "the repository is not a fork");
    if (gh.moved) c.facts.push_back("the declared repository has moved");
  } else if (in.github && !in.github->found) {
    parts.emplace_back(0, 0.8);
    c.facts.push_back("the declared repository does not exist");
  } else {
    parts.emplace_back(4, 0.8);
    c.facts.push_back(fmt::format("the repository is on {} (not read)", in.repository_host));
  }
  if (in.key.ecosystem == core::Ecosystem::kNpm) {
    int recent = 0, attested = 0;
    for (auto it = in.versions.rbegin(); it != in.versions.rend() && recent < 10; ++it, ++recent)
      attested += it->attested ? 1 : 0;
    if (recent > 0) {
      parts.emplace_back(10.0 * attested / recent, 0.2);
      c.facts.push_back(fmt::format("{} of the {} newest versions have registry provenance attestations",
                                    attested, recent));
    }
  }
  double sum = 0, weights = 0;
  for (auto [v, w] : parts) {
    sum += v * w;
    weights += w;
  }
  c.value = weights > 0 ? sum / weights : 0;
  return c;
}

Component Popularity(const Inputs& in, const PopularPackages* popular) {
  Component c;
  std::vector<double> parts;
  // PyPI publishes no download counts; its place in the popular-package list stands in.
  if (in.key.ecosystem == core::Ecosystem::kPypi && popular) {
    if (auto rank = popular->Rank(in.key)) {
      // 10 in the top 10, 5 at rank 15,000 (the shipped list's end), logarithmic.
      double r = std::max<double>(10, static_cast<double>(*rank));
      parts.push_back(Clamp(10 - 5 * std::log10(r / 10) / std::log10(1500)));
      c.facts.push_back(fmt::format("rank {} among PyPI packages by downloads", *rank));
    }
  }
  if (in.downloads_last_month >= 0) {
    parts.push_back(LogScale(static_cast<double>(in.downloads_last_month), 10, 1e7));
    c.facts.push_back(fmt::format("{} downloads in the last month", in.downloads_last_month));
  } else if (in.downloads_last_90_days >= 0) {
    parts.push_back(LogScale(static_cast<double>(in.downloads_last_90_days) / 3, 10, 1e6));
    c.facts.push_back(fmt::format("{} downloads in the last 90 days", in.downloads_last_90_days));
  }
  if (in.github && in.github->found) {
    parts.push_back(LogScale(static_cast<double>(in.github->stars), 1, 10000));
    c.facts.push_back(fmt::format("{} stars", in.github->stars));
    parts.push_back(LogScale(static_cast<double>(in.github->forks), 1, 2000));
    c.facts.push_back(fmt::format("{} forks", in.github->forks));
  }
  c.value = Mean(parts);
  return c;
}

double Round1(double v) { return std::round(v * 10) / 10; }

std::string Shorten(std::string_view text, std::size_t max = 120) {
  std::string out(text.substr(0, max));
  if (text.size() > max) out += "...";
  return out;
}

std::string Ago(double millis) {
  double hours = millis / 3'600'000.0;
  return hours < 48 ? fmt::format("{:.0f} hours ago", hours) : fmt::format("{:.0f} days ago", hours / 24);
}

std::string ListVersions(const std::vector<std::string>& versions, std::size_t shown = 5) {
  std::string out;
  for (std::size_t i = 0; i < versions.size() && i < shown; ++i) out += (i ? ", " : "") + versions[i];
  if (versions.size() > shown) out += fmt::format(" and {} more", versions.size() - shown);
  return out;
}

std::string DescribeScripts(const std::vector<std::pair<std::string, std::string>>& scripts) {
  std::string out;
  for (const auto& [name, command] : scripts) out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", name, Shorten(command, 80));
  return out;
}

// Sorts versions in the ecosystem's order; versions it cannot order go last, as written.
void SortVersions(core::Ecosystem eco, std::vector<std::string>& versions) {
  std::stable_sort(versions.begin(), versions.end(), [eco](const std::string& a, const std::string& b) {
    bool va = core::IsValidVersion(eco, a), vb = core::IsValidVersion(eco, b);
    if (va != vb) return va;
    if (!va) return a < b;
    return core::CompareVersions(eco, a, b).value_or(0) < 0;
  });
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative matching of '*' (any run) and '?' (one character), case-insensitive.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  auto same = [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); };
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && same(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The model's judgement of the advisories in force: which known versions each names, whether
// the package as a whole (every version, or the latest) is malicious, and the newest clean
// version otherwise.
void JudgeAdvisories(const Inputs& in, Report& r) {
  std::set<std::string> named;
  for (const Inputs::Advisory& advisory : in.advisories) {
    AdvisoryFinding finding{advisory.id, advisory.summary, advisory.affected.AllVersions(), {}, advisory.affected};
    bool latest_named = false;
    for (const auto& v : in.versions)
      if (finding.all_versions || advisory.affected.Affects(in.key.ecosystem, v.version)) {
        finding.versions.push_back(v.version);
        latest_named = latest_named || v.version == in.latest_version;
      }
    bool whole = finding.all_versions || latest_named || finding.versions.size() == in.versions.size();
    if (whole && r.malicious.empty()) r.malicious = advisory.id;
    named.insert(finding.versions.begin(), finding.versions.end());
    named.insert(advisory.affected.versions.begin(), advisory.affected.versions.end());  // removed ones too
    SortVersions(in.key.ecosystem, finding.versions);
    r.advisories.push_back(std::move(finding));
  }
  r.malicious_versions.assign(named.begin(), named.end());
  SortVersions(in.key.ecosystem, r.malicious_versions);
  if (r.malicious.empty() && !r.malicious_versions.empty()) {
    std::vector<std::string> clean;
    for (const auto& v : in.versions)
      if (!v.yanked && !named.count(v.version)) clean.push_back(v.version);
    SortVersions(in.key.ecosystem, clean);
    if (!clean.empty()) r.latest_clean_version = clean.back();
  }
}

}  // namespace

std::string MatchInternalName(const core::PackageKey& key, const std::vector<std::string>& patterns) {
  for (const std::string& pattern : patterns) {
    std::string_view glob = pattern;
    if (auto colon = glob.find(':'); colon != std::string_view::npos) {
      if (auto eco = core::ParseEcosystem(glob.substr(0, colon))) {  // "npm:acme-*"
        if (*eco != key.ecosystem) continue;
        glob.remove_prefix(colon + 1);
      }
    }
    // PyPI and crates.io treat '-', '_' (and for PyPI '.') alike: so do their patterns.
    std::string folded(glob);
    if (key.ecosystem == core::Ecosystem::kPypi || key.ecosystem == core::Ecosystem::kCrates)
      for (char& c : folded)
        if (c == '_' || (c == '.' && key.ecosystem == core::Ecosystem::kPypi)) c = '-';
    if (GlobMatch(folded, key.name)) return pattern;
  }
  return {};
}

Report Score(const Inputs& in, core::Millis now, const PopularPackages* popular) {
  ModelOptions options;
  options.popular = popular;
  return Score(in, now, options);
}

Report Score(const Inputs& in, core::Millis now, const ModelOptions& options) {
  Report r;
  r.activity = Activity(in, now);
  r.provenance = Provenance(in);
  r.popularity = Popularity(in, options.popular);
  for (Component* c : {&r.activity, &r.provenance, &r.popularity}) c->value = Round1(c->value);
  double mean = kWeightActivity * r.activity.value + kWeightProvenance * r.provenance.value +
                kWeightPopularity * r.popularity.value;
  r.reasons.push_back(
      {fmt::format("activity {:.1f}/10 (weight {:.0f}%)", r.activity.value, kWeightActivity * 100),
       kWeightActivity * r.activity.value});
  r.reasons.push_back(
      {fmt::format("provenance {:.1f}/10 (weight {:.0f}%)", r.provenance.value, kWeightProvenance * 100),
       kWeightProvenance * r.provenance.value});
  r.reasons.push_back(
      {fmt::format("popularity {:.1f}/10 (weight {:.0f}%)", r.popularity.value, kWeightPopularity * 100),
       kWeightPopularity * r.popularity.value});
  double score = mean;
  // A signal that counts against the package: its points come off (never below 0), and the
  // reason is kept with its evidence even when nothing was left to take.
  auto penalize = [&](double points, std::string why, const char* signal) {
    double effect = -std::min(points, std::max(score, 0.0));
    score += effect;
    r.reasons.push_back({std::move(why), effect, signal});
  };
  auto cap = [&](double limit, std::string why, const char* signal) {
    double effect = score > limit ? limit - score : 0;
    score = std::min(score, limit);
    r.reasons.push_back({std::move(why), effect, signal});
  };

  // --- Signals beyond names (docs/scoring.md, "Signals").
  const Inputs::Version* latest = nullptr;
  std::size_t latest_index = 0;
  for (std::size_t i = 0; i < in.versions.size(); ++i)
    if (in.versions[i].version == in.latest_version) {
      latest = &in.versions[i];
      latest_index = i;
    }
  if (latest && !latest->install_scripts.empty()) {
    bool earlier_had = false;
    for (std::size_t i = 0; i < latest_index; ++i) earlier_had = earlier_had || !in.versions[i].install_scripts.empty();
    if (latest_index > 0 && !earlier_had) {
      r.install_script_added = true;
      cap(kCapInstallScriptAdded,
          fmt::format("the newest version, {}, added an install script ({}); none of the {} earlier versions had one",
                      latest->version, DescribeScripts(latest->install_scripts), latest_index),
          "install_script_added");
    } else {
      penalize(kPenaltyInstallScripts,
               fmt::format("{} runs install scripts ({})", latest->version, DescribeScripts(latest->install_scripts)),
               "install_scripts");
    }
  }
  core::Millis created = in.created;
  for (const auto& v : in.versions)
    if (v.published > 0 && (created == 0 || v.published < created)) created = v.published;
  if (created > 0 && now - created < options.young_package_days * kDay) {
    penalize(kPenaltyYoungPackage, fmt::format("first published {}", Ago(static_cast<double>(now - created))),
             "young_package");
  } else if (latest && latest->published > 0 && now - latest->published < options.young_version_hours * 3'600'000) {
    penalize(kPenaltyYoungVersion,
             fmt::format("the newest version, {}, was published {}", latest->version,
                         Ago(static_cast<double>(now - latest->published))),
             "young_version");
  }
  if (in.versions.size() == 1 && !in.has_repository)
    penalize(kPenaltyThrowaway, "a single version and no source repository", "single_version_no_repository");
  if (latest && !latest->publisher.empty() && !latest->attested && latest_index > 0) {
    std::set<std::string> earlier;
    for (std::size_t i = 0; i < latest_index; ++i)
      if (!in.versions[i].publisher.empty()) earlier.insert(in.versions[i].publisher);
    if (!earlier.empty() && !earlier.count(latest->publisher))
      penalize(kPenaltyNewPublisher,
               fmt::format("the newest version, {}, was published by '{}', who published none of the {} earlier versions",
                           latest->version, Shorten(latest->publisher, 60), latest_index),
               "new_publisher");
  }

  // --- Flags: caps.
  r.deprecated = in.deprecated;
  if (!in.deprecated.empty())
    cap(kCapDeprecated, fmt::format("deprecated: \"{}\"", in.deprecated.substr(0, 200)), "deprecated");
  if (in.github && in.github->found && in.github->archived) {
    r.archived = true;
    cap(kCapArchived, "the repository is archived", "archived");
  }
  if (options.popular) {
    if (auto look_alike = options.popular->FindLookAlike(in.key, in.downloads_last_month)) {
      r.typosquat_of = look_alike->name;
      r.typosquat_rule = LookAlikeRuleName(look_alike->rule);
      cap(kCapTyposquat,
          fmt::format("the name looks like the much more popular package '{}' ({})", look_alike->name,
                      DescribeLookAlikeRule(look_alike->rule)),
          "typosquatting");
    }
    // Star-jacking: the declared repository is a popular package's own.
    if (in.github && in.github->found && in.github->manifest == Inputs::GitHub::Manifest::kDeclaresOther &&
        !in.github->manifest_name.empty()) {
      auto declared = core::MakePackageKey(in.key.ecosystem, in.github->manifest_name);
      if (declared.ok() && declared->name != in.key.name && options.popular->Rank(*declared)) {
        r.repository_declares = declared->name;
        cap(kCapRepositoryMismatch,
            fmt::format("the declared repository belongs to the popular package '{}' ({} declares it)",
                        declared->name, in.github->manifest_path),
            "repository_mismatch");
      }
    }
  }
  if (std::string pattern = MatchInternalName(in.key, options.internal_names); !pattern.empty()) {
    r.dependency_confusion = pattern;
    cap(kCapDependencyConfusion,
        fmt::format("the name matches the internal package names '{}': a public package so named is a "
                    "dependency-confusion risk",
                    pattern),
        "dependency_confusion");
  }
  if (in.security_holder) cap(kCapSecurityHolder, "npm replaced this package with a security placeholder", "security_holder");
  JudgeAdvisories(in, r);
  if (!r.malicious.empty()) {
    cap(0, fmt::format("known malicious package: advisory {}", r.malicious), "malicious");
  } else if (!r.malicious_versions.empty()) {
    std::vector<std::string> ids;
    for (const auto& a : r.advisories)
      if (!a.versions.empty() || !a.affected.versions.empty()) ids.push_back(a.id);
    r.reasons.push_back(
        {fmt::format("versions {} are named malicious by {}; the latest, {}, is not{}", ListVersions(r.malicious_versions),
                     fmt::join(ids, ", "), in.latest_version,
                     r.latest_clean_version.empty() || r.latest_clean_version == in.latest_version
                         ? ""
                         : fmt::format(" (newest clean version {})", r.latest_clean_version)),
         0, "malicious_versions"});
  }
  r.score = Round1(Clamp(score));
  return r;
}

std::string Report::ToJson() const {
  return ToJsonValue().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json Report::ToJsonValue() const {
  using nlohmann::json;
  auto component = [](const Component& c) { return json{{"value", c.value}, {"facts", c.facts}}; };
  json reasons_json = json::array();
  for (const Reason& reason : reasons) {
    json item = {{"reason", reason.text}, {"effect", Round1(reason.effect)}};
    if (!reason.signal.empty()) item["signal"] = reason.signal;
    reasons_json.push_back(std::move(item));
  }
  json flags = {{"malicious", !malicious.empty()},
                {"has_malicious_versions", !malicious_versions.empty()},
                {"deprecated", !deprecated.empty()},
                {"archived", archived},
                {"typosquatting", !typosquat_of.empty()},
                {"install_script_added", install_script_added},
                {"dependency_confusion", !dependency_confusion.empty()},
                {"repository_mismatch", !repository_declares.empty()}};
  if (!malicious.empty()) flags["advisory"] = malicious;
  if (!malicious_versions.empty()) flags["malicious_versions"] = malicious_versions;
  if (!latest_clean_version.empty()) flags["latest_clean_version"] = latest_clean_version;
  if (!deprecated.empty()) flags["deprecation_message"] = deprecated;
  if (!typosquat_of.empty()) {
    flags["looks_like"] = typosquat_of;
    flags["looks_like_rule"] = typosquat_rule;
  }
  if (!dependency_confusion.empty()) flags["internal_name_pattern"] = dependency_confusion;
  if (!repository_declares.empty()) flags["repository_declares"] = repository_declares;
  json advisories_json = json::array();
  for (const AdvisoryFinding& a : advisories)
    advisories_json.push_back({{"id", a.id},
                               {"summary", a.summary},
                               {"all_versions", a.all_versions},
                               {"versions", a.versions},
                               {"affected", json::parse(a.affected.ToJson())}});
  return json{{"model_version", model_version},
              {"score", score},
              {"components",
               {{"activity", component(activity)},
                {"provenance", component(provenance)},
                {"popularity", component(popularity)}}},
              {"flags", std::move(flags)},
              {"advisories", std::move(advisories_json)},
              {"explanation", std::move(reasons_json)}};
}

core::Result<Report> Report::FromJson(std::string_view text) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return core::Status::InvalidArgument("the stored score is not a JSON object");
  auto string_at = [](const json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_string()
               ? object[key].get<std::string>()
               : std::string();
  };
  auto strings_at = [](const json& object, const char* key) {
    std::vector<std::string> out;
    if (object.is_object() && object.contains(key) && object[key].is_array())
      for (const json& item : object[key])
        if (item.is_string()) out.push_back(item.get<std::string>());
    return out;
  };
  auto number_at = [](const json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_number() ? object[key].get<double>()
                                                                                 : 0.0;
  };
  auto bool_at = [](const json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_boolean() && object[key].get<bool>();
  };
  static const json kEmpty = json::object();
  auto object_at = [](const json& object, const char* key) -> const json& {
    return object.is_object() && object.contains(key) && object[key].is_object() ? object[key] : kEmpty;
  };
  Report r;
  r.model_version = string_at(j, "model_version");
  r.score = number_at(j, "score");
  const json& components = object_at(j, "components");
  for (auto [name, component] : {std::pair{"activity", &r.activity}, std::pair{"provenance", &r.provenance},
                                 std::pair{"popularity", &r.popularity}}) {
    component->value = number_at(object_at(components, name), "value");
    component->facts = strings_at(object_at(components, name), "facts");
  }
  const json& flags = object_at(j, "flags");
  r.malicious = string_at(flags, "advisory");
  r.malicious_versions = strings_at(flags, "malicious_versions");
  r.latest_clean_version = string_at(flags, "latest_clean_version");
  r.deprecated = string_at(flags, "deprecation_message");
  r.archived = bool_at(flags, "archived");
  r.typosquat_of = string_at(flags, "looks_like");
  r.typosquat_rule = string_at(flags, "looks_like_rule");
  r.install_script_added = bool_at(flags, "install_script_added");
  r.dependency_confusion = string_at(flags, "internal_name_pattern");
  r.repository_declares = string_at(flags, "repository_declares");
  if (j.contains("advisories") && j["advisories"].is_array())
    for (const json& a : j["advisories"]) {
      // Without its affected versions an entry would read as naming every version: skipped.
      if (!a.is_object() || !a.contains("affected") || !a["affected"].is_object()) continue;
      AdvisoryFinding finding{string_at(a, "id"),
                              string_at(a, "summary"),
                              bool_at(a, "all_versions"),
                              strings_at(a, "versions"),
                              {}};
      auto affected = OsvAffected::FromJson(object_at(a, "affected").dump());
      if (!affected.ok()) return affected.status();
      finding.affected = std::move(affected).value();
      r.advisories.push_back(std::move(finding));
    }
  if (j.contains("explanation") && j["explanation"].is_array())
    for (const json& reason : j["explanation"])
      r.reasons.push_back(
          {string_at(reason, "reason"), number_at(reason, "effect"), string_at(reason, "signal")});
  return r;
}

std::vector<std::string> Report::AdvisoriesNaming(core::Ecosystem ecosystem, std::string_view version) const {
  std::vector<std::string> ids;
  for (const AdvisoryFinding& a : advisories)
    if (a.affected.Affects(ecosystem, version)) ids.push_back(a.id);
  return ids;
}

std::string TagShortName(const core::PackageKey& key) {
  std::size_t slash = key.name.find_last_of("/:");
  return key.name.substr(slash == std::string::npos ? 0 : slash + 1);
}

bool TagMatches(const std::string& tag, const std::string& version, const std::string& short_name) {
  std::string v = version;
  if (!v.empty() && v.front() == 'v') v = v.substr(1);
  return tag == v || tag == "v" + v || tag == short_name + "@" + v || tag == short_name + "-v" + v ||
         tag == short_name + "-" + v || tag.ends_with("/v" + v) || tag.ends_with("@" + v);
}

}  // namespace pkgtrust::scoring
