#include "pkgtrust/adoption/routes.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "pkgtrust/adoption/events.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/registry/package_facts.hpp"

namespace pkgtrust::adoption {

using nlohmann::json;

namespace {

constexpr std::int64_t kMaxDays = 3 * 366;  // the widest range one request may ask for
constexpr int kDefaultDays = 30;
constexpr auto kAnswerReuse = std::chrono::seconds(1);
constexpr std::size_t kMaxAnswers = 256;  // answers kept (a year of a package's days is about 1 MB)

api::ServerResponse Json(std::string body) {
  api::ServerResponse r;
  r.body = std::move(body);
  return r;
}

}  // namespace

core::Result<std::int64_t> ParseDay(std::string_view text) {
  auto digits = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    int y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
    if (y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
      std::int64_t day = store::DayOf(core::UtcMillis(y, m, d));
      if (FormatDay(day) == text) return day;  // rejects 2026-02-31
    }
  }
  return core::Status::InvalidArgument(fmt::format("'{}' is not a date (YYYY-MM-DD)", text.substr(0, 40)));
}

std::string FormatDay(std::int64_t day) {
  return core::FormatTimestamp(day * store::kMillisPerDay).substr(0, 10);
}

MajorPublished MajorsPublished(store::Store& store, const core::PackageKey& key) {
  MajorPublished out;
  auto fact = store.GetFact(key, store::kRegistryFact);
  if (!fact.ok() || !*fact) return out;
  auto facts = registry::PackageFacts::FromJson(**fact);
  if (!facts.ok()) return out;
  for (const auto& v : facts->versions) {
    if (v.published <= 0) continue;
    std::string major = MajorOf(v.version);
    if (major.empty()) continue;
    auto [it, inserted] = out.try_emplace(major, v.published);
    if (!inserted) it->second = std::min(it->second, v.published);
  }
  return out;
}

std::string AdoptionReportJson(const store::PackageAdoption& adoption, std::int64_t from_day,
                               std::int64_t to_day, const MajorPublished& published) {
  json days = json::array();
  std::map<std::string, json> versions;                   // version -> its days
  std::map<std::string, std::int64_t> version_downloads;  // over the range
  std::map<std::int64_t, std::int64_t> day_downloads;
  std::map<std::string, std::map<std::int64_t, std::int64_t>> major_day;  // major -> day -> downloads
  std::int64_t downloads = 0, metadata = 0, origin_days = 0;
  for (const auto& row : adoption.rows) {
    if (row.version.empty()) {
      days.push_back({{"day", FormatDay(row.day)},
                      {"downloads", row.downloads},
                      {"origins", row.origins},
                      {"metadata", row.metadata}});
      downloads += row.downloads;
      metadata += row.metadata;
      origin_days += row.origins;
      day_downloads[row.day] += row.downloads;
      continue;
    }
    auto& list = versions[row.version];
    if (list.is_null()) list = json::array();
    list.push_back({{"day", FormatDay(row.day)}, {"downloads", row.downloads}, {"origins", row.origins}});
    version_downloads[row.version] += row.downloads;
    if (std::string major = MajorOf(row.version); !major.empty()) major_day[major][row.day] += row.downloads;
  }
  json version_list = json::array();
  for (auto& [version, list] : versions)
    version_list.push_back({{"version", version},
                            {"major", MajorOf(version)},
                            {"downloads", version_downloads[version]},
                            {"days", std::move(list)}});
  // Each major's share of the day's downloads; the days from its first publish (or, when the
  // registry gives none, its first download here) to the first day it had half of them.
  json majors = json::array();
  for (const auto& [major, by_day] : major_day) {
    json share = json::array();
    std::optional<std::int64_t> half_day;
    std::int64_t total = 0;
    for (const auto& [day, n] : day_downloads) {
      if (n == 0) continue;
      auto it = by_day.find(day);
      std::int64_t mine = it == by_day.end() ? 0 : it->second;
      total += mine;
      double fraction = static_cast<double>(mine) / static_cast<double>(n);
      share.push_back({{"day", FormatDay(day)}, {"share", std::round(fraction * 10000) / 10000}});
      if (!half_day && mine * 2 >= n && mine > 0) half_day = day;
    }
    json entry = {{"major", major}, {"downloads", total}, {"share", std::move(share)}};
    std::int64_t start_day = by_day.begin()->first;
    if (auto p = published.find(major); p != published.end()) {
      entry["first_published"] = core::FormatTimestamp(p->second);
      start_day = store::DayOf(p->second);
    } else {
      entry["first_published"] = nullptr;
    }
    entry["days_to_half"] = half_day ? json(std::max<std::int64_t>(0, *half_day - start_day)) : json(nullptr);
    majors.push_back(std::move(entry));
  }
  json out = {
      {"ecosystem", core::EcosystemName(adoption.key.ecosystem)},
      {"name", adoption.key.name},
      {"from", FormatDay(from_day)},
      {"to", FormatDay(to_day)},
      {"first_seen_at",
       adoption.first_seen_at > 0 ? json(core::FormatTimestamp(adoption.first_seen_at)) : json(nullptr)},
      {"totals", {{"downloads", downloads}, {"metadata", metadata}, {"origin_days", origin_days}}},
      {"days", std::move(days)},
      {"versions", std::move(version_list)},
      {"majors", std::move(majors)}};
  return out.dump();
}

void AdoptionRoutes::Handle(api::ServerRequest request, api::Responder respond) {
  if (request.method != "GET" || request.path == "/v1/alerts") return Answer(request, respond);
  std::string key = request.path + "?" + request.query;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(answers_mu_);
    if (auto it = answers_.find(key); it != answers_.end() && now - it->second.at < kAnswerReuse) {
      api::ServerResponse cached;
      cached.shared_body = it->second.body;
      return respond(std::move(cached));
    }
  }
  // Answered once more, and kept when it is a 200.
  Answer(request, [this, key = std::move(key), now, &respond](api::ServerResponse response) {
    if (response.status == 200) {
      auto body = std::make_shared<const std::string>(std::move(response.body));
      {
        std::lock_guard lock(answers_mu_);
        if (answers_.size() >= kMaxAnswers) answers_.clear();
        answers_[key] = {now, body};
      }
      response.body.clear();
      response.shared_body = std::move(body);
    }
    respond(std::move(response));
  });
}

void AdoptionRoutes::Answer(const api::ServerRequest& request, const api::Responder& respond) {
  if (request.method != "GET")
    return respond(api::ErrorResponse(405, "method_not_allowed", "adoption routes take GET"));
  auto params = core::ParseQueryString(request.query);
  if (!params.ok()) return respond(api::ErrorResponse(400, "invalid_query", params.status().message()));
  auto param = [&](const char* name) {
    auto it = params->find(name);
    return it == params->end() ? std::string() : it->second;
  };
  std::int64_t today = store::DayOf(clock_.NowMillis());
  auto range = [&](std::int64_t* from, std::int64_t* to) -> core::Status {
    *to = today;
    if (std::string t = param("to"); !t.empty()) {
      auto day = ParseDay(t);
      if (!day.ok()) return day.status();
      *to = *day;
    }
    *from = *to - (kDefaultDays - 1);
    if (std::string f = param("from"); !f.empty()) {
      auto day = ParseDay(f);
      if (!day.ok()) return day.status();
      *from = *day;
    }
    if (*from > *to) return core::Status::InvalidArgument("'from' is after 'to'");
    if (*to - *from + 1 > kMaxDays)
      return core::Status::InvalidArgument(fmt::format("at most {} days at once", kMaxDays));
    return core::Status::Ok();
  };
  auto limit_of = [&](std::size_t fallback, std::size_t max) -> core::Result<std::size_t> {
    std::string text = param("limit");
    if (text.empty()) return fallback;
    std::size_t n = 0;
    for (char c : text) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || n > max)
        return core::Status::InvalidArgument(fmt::format("'limit' must be a number from 1 to {}", max));
      n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n == 0 || n > max)
      return core::Status::InvalidArgument(fmt::format("'limit' must be a number from 1 to {}", max));
    return n;
  };
  auto unavailable = [&](const core::Status& s) {
    respond(api::ErrorResponse(503, "store_unavailable", s.message()));
  };

  if (request.path == "/v1/alerts") {
    auto limit = limit_of(100, 1000);
    if (!limit.ok()) return respond(api::ErrorResponse(400, "invalid_argument", limit.status().message()));
    std::string open = param("open");
    if (!open.empty() && open != "true" && open != "false")
      return respond(api::ErrorResponse(400, "invalid_argument", "'open' must be true or false"));
    std::int64_t before = 0;
    if (std::string b = param("before"); !b.empty()) {
      auto [ptr, ec] = std::from_chars(b.data(), b.data() + b.size(), before);
      if (ec != std::errc() || ptr != b.data() + b.size() || before < 0)
        return respond(api::ErrorResponse(400, "invalid_argument", "'before' must be an alert id"));
    }
    auto alerts = store_.ListAlerts(open == "true", before, *limit);
    if (!alerts.ok()) return unavailable(alerts.status());
    std::string body = "{\"alerts\":[";
    for (std::size_t i = 0; i < alerts->size(); ++i) {
      if (i) body += ',';
      body += store::AlertJson((*alerts)[i]);
    }
    body += "]";
    if (alerts->size() == *limit) body += fmt::format(",\"next_before\":{}", alerts->back().id);
    body += "}";
    return respond(Json(std::move(body)));
  }

  constexpr std::string_view kPrefix = "/v1/adoption/";
  if (!request.path.starts_with(kPrefix))
    return respond(api::ErrorResponse(404, "not_found", "no such route"));
  std::string_view rest = std::string_view(request.path).substr(kPrefix.size());
  std::int64_t from = 0, to = 0;
  if (rest == "top") {
    if (auto s = range(&from, &to); !s.ok())
      return respond(api::ErrorResponse(400, "invalid_argument", s.message()));
    auto limit = limit_of(50, 1000);
    if (!limit.ok()) return respond(api::ErrorResponse(400, "invalid_argument", limit.status().message()));
    std::string ecosystem = param("ecosystem");
    if (!ecosystem.empty()) {
      auto eco = core::ParseEcosystemOrError(ecosystem);
      if (!eco.ok()) return respond(api::ErrorResponse(400, "invalid_argument", eco.status().message()));
      ecosystem = std::string(core::EcosystemName(*eco));
    }
    auto top = store_.ReadAdoptionTop(from, to, ecosystem, *limit);
    if (!top.ok()) return unavailable(top.status());
    json packages = json::array();
    for (const auto& row : *top)
      packages.push_back({{"ecosystem", core::EcosystemName(row.key.ecosystem)},
                          {"name", row.key.name},
                          {"downloads", row.downloads},
                          {"origin_days", row.origin_days},
                          {"metadata", row.metadata}});
    return respond(Json(
        json{{"from", FormatDay(from)}, {"to", FormatDay(to)}, {"packages", std::move(packages)}}.dump()));
  }
  // {ecosystem}/{name}: a scoped npm name keeps its slash ("@scope/name", "@scope%2fname").
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size())
    return respond(
        api::ErrorResponse(404, "not_found", "expected /v1/adoption/{ecosystem}/{name} or /v1/adoption/top"));
  auto eco = core::ParseEcosystemOrError(rest.substr(0, slash));
  if (!eco.ok()) return respond(api::ErrorResponse(400, "unknown_ecosystem", eco.status().message()));
  auto name = core::PercentDecode(rest.substr(slash + 1));
  if (!name.ok()) return respond(api::ErrorResponse(400, "invalid_name", "the name has a bad %-escape"));
  auto key = core::MakePackageKey(*eco, *name);
  if (!key.ok()) return respond(api::ErrorResponse(400, "invalid_name", key.status().message()));
  if (auto s = range(&from, &to); !s.ok())
    return respond(api::ErrorResponse(400, "invalid_argument", s.message()));
  auto adoption = store_.ReadAdoption(*key, from, to);
  if (!adoption.ok()) return unavailable(adoption.status());
  respond(Json(AdoptionReportJson(*adoption, from, to, MajorsPublished(store_, *key))));
}

}  // namespace pkgtrust::adoption
