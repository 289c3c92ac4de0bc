#include "pkgtrust/scoring/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "pkgtrust/scoring/typosquat.hpp"

namespace pkgtrust::scoring {
namespace {

constexpr double kDay = 24.0 * 3600 * 1000;
constexpr double kWeightActivity = 0.40, kWeightProvenance = 0.35, kWeightPopularity = 0.25;
constexpr double kCapDeprecated = 3.0, kCapArchived = 4.0, kCapTyposquat = 1.0, kCapSecurityHolder = 0.0;
constexpr double kTagWindowDays = 7;  // a version "matches" a tag published within this many days

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

// Tag names a release of `version` usually carries.
bool TagMatches(const std::string& tag, const std::string& version, const std::string& short_name) {
  std::string v = version;
  if (!v.empty() && v.front() == 'v') v = v.substr(1);
  return tag == v || tag == "v" + v || tag == short_name + "@" + v || tag == short_name + "-v" + v ||
         tag == short_name + "-" + v || tag.ends_with("/v" + v) || tag.ends_with("@" + v);
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
  std::string short_name = in.key.name.substr(
      in.key.name.find_last_of("/:") == std::string::npos ? 0 : in.key.name.find_last_of("/:") + 1);
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

}  // namespace

Report Score(const Inputs& in, core::Millis now, const PopularPackages* popular) {
  Report r;
  r.activity = Activity(in, now);
  r.provenance = Provenance(in);
  r.popularity = Popularity(in, popular);
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
  auto cap = [&](double limit, std::string why) {
    if (score > limit) {
      r.reasons.push_back({std::move(why), limit - score});
      score = limit;
    }
  };
  r.deprecated = in.deprecated;
  if (!in.deprecated.empty())
    cap(kCapDeprecated, fmt::format("deprecated: \"{}\"", in.deprecated.substr(0, 200)));
  if (in.github && in.github->found && in.github->archived) {
    r.archived = true;
    cap(kCapArchived, "the repository is archived");
  }
  if (popular) {
    if (auto look_alike = popular->FindLookAlike(in.key, in.downloads_last_month)) {
      r.typosquat_of = *look_alike;
      cap(kCapTyposquat, fmt::format("the name looks like the much more popular package '{}'", *look_alike));
    }
  }
  if (in.security_holder) cap(kCapSecurityHolder, "npm replaced this package with a security placeholder");
  if (!in.malicious_advisory.empty()) {
    r.malicious = in.malicious_advisory;
    cap(0, fmt::format("known malicious package: advisory {}", in.malicious_advisory));
  }
  r.score = Round1(Clamp(score));
  return r;
}

std::string Report::ToJson() const {
  auto component = [](const Component& c) { return nlohmann::json{{"value", c.value}, {"facts", c.facts}}; };
  nlohmann::json reasons_json = nlohmann::json::array();
  for (const Reason& reason : reasons)
    reasons_json.push_back({{"reason", reason.text}, {"effect", Round1(reason.effect)}});
  nlohmann::json flags = {{"malicious", !malicious.empty()},
                          {"deprecated", !deprecated.empty()},
                          {"archived", archived},
                          {"typosquatting", !typosquat_of.empty()}};
  if (!malicious.empty()) flags["advisory"] = malicious;
  if (!deprecated.empty()) flags["deprecation_message"] = deprecated;
  if (!typosquat_of.empty()) flags["looks_like"] = typosquat_of;
  return nlohmann::json{{"model_version", model_version},
                        {"score", score},
                        {"components",
                         {{"activity", component(activity)},
                          {"provenance", component(provenance)},
                          {"popularity", component(popularity)}}},
                        {"flags", std::move(flags)},
                        {"explanation", std::move(reasons_json)}}
      .dump();
}

}  // namespace pkgtrust::scoring
