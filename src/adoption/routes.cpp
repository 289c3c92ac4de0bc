#include "pkgtrust/adoption/routes.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "pkgtrust/adoption/events.hpp"
#include "pkgtrust/core/json_limits.hpp"
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

// Written by hand, not through a JSON DOM: a year of 50 versions is 18,000 entries, and
// building them as nlohmann objects took 45 ms where this takes a few.
std::string AdoptionReportJson(const store::PackageAdoption& adoption, std::int64_t from_day,
                               std::int64_t to_day, const MajorPublished& published) {
  std::map<std::int64_t, std::string> day_text;  // "2026-11-01", once per day
  auto day_of = [&](std::int64_t day) -> const std::string& {
    auto [it, fresh] = day_text.try_emplace(day);
    if (fresh) it->second = FormatDay(day);
    return it->second;
  };
  struct VersionDays {
    std::int64_t downloads = 0;
    std::vector<const store::AdoptionDayRow*> days;
  };
  std::map<std::string, VersionDays> versions;
  std::map<std::int64_t, std::int64_t> day_downloads;
  std::map<std::string, std::map<std::int64_t, std::int64_t>> major_day;  // major -> day -> downloads
  std::int64_t downloads = 0, metadata = 0, origin_days = 0;
  std::string days;
  days.reserve(64 * 400);
  for (const auto& row : adoption.rows) {
    if (row.version.empty()) {
      fmt::format_to(std::back_inserter(days),
                     R"({}{{"day":"{}","downloads":{},"origins":{},"metadata":{}}})", days.empty() ? "" : ",",
                     day_of(row.day), row.downloads, row.origins, row.metadata);
      downloads += row.downloads;
      metadata += row.metadata;
      origin_days += row.origins;
      day_downloads[row.day] += row.downloads;
      continue;
    }
    VersionDays& v = versions[row.version];
    v.downloads += row.downloads;
    v.days.push_back(&row);
    if (std::string major = MajorOf(row.version); !major.empty()) major_day[major][row.day] += row.downloads;
  }
  std::string out;
  out.reserve(days.size() + adoption.rows.size() * 56 + 4096);
  out += R"({"ecosystem":")";
  out += core::EcosystemName(adoption.key.ecosystem);
  out += R"(","name":)";
  core::AppendJsonString(out, adoption.key.name);
  fmt::format_to(std::back_inserter(out), R"(,"from":"{}","to":"{}","first_seen_at":)", FormatDay(from_day),
                 FormatDay(to_day));
  out += adoption.first_seen_at > 0 ? "\"" + core::FormatTimestamp(adoption.first_seen_at) + "\"" : "null";
  fmt::format_to(std::back_inserter(out),
                 R"(,"totals":{{"downloads":{},"metadata":{},"origin_days":{}}},"days":[)", downloads,
                 metadata, origin_days);
  out += days;
  out += R"(],"versions":[)";
  bool first = true;
  for (const auto& [version, v] : versions) {
    out += first ? "{\"version\":" : ",{\"version\":";
    first = false;
    core::AppendJsonString(out, version);
    out += ",\"major\":";
    core::AppendJsonString(out, MajorOf(version));
    fmt::format_to(std::back_inserter(out), R"(,"downloads":{},"days":[)", v.downloads);
    for (std::size_t i = 0; i < v.days.size(); ++i)
      fmt::format_to(std::back_inserter(out), R"({}{{"day":"{}","downloads":{},"origins":{}}})", i ? "," : "",
                     day_of(v.days[i]->day), v.days[i]->downloads, v.days[i]->origins);
    out += "]}";
  }
  // Each major's share of the day's downloads; the days from its first publish (or, when the
  // registry gives none, its first download here) to the first day it had half of them.
  out += R"(],"majors":[)";
  first = true;
  for (const auto& [major, by_day] : major_day) {
    out += first ? "{\"major\":" : ",{\"major\":";
    first = false;
    core::AppendJsonString(out, major);
    std::string share;
    std::optional<std::int64_t> half_day;
    std::int64_t total = 0;
    for (const auto& [day, n] : day_downloads) {
      if (n == 0) continue;
      auto it = by_day.find(day);
      std::int64_t mine = it == by_day.end() ? 0 : it->second;
      total += mine;
      double fraction = std::round(static_cast<double>(mine) / static_cast<double>(n) * 10000) / 10000;
      fmt::format_to(std::back_inserter(share), R"({}{{"day":"{}","share":{}}})", share.empty() ? "" : ",",
                     day_of(day), fraction);
      if (!half_day && mine * 2 >= n && mine > 0) half_day = day;
    }
    std::int64_t start_day = by_day.begin()->first;
    std::string first_published = "null";
    if (auto p = published.find(major); p != published.end()) {
      first_published = "\"" + core::FormatTimestamp(p->second) + "\"";
      start_day = store::DayOf(p->second);
    }
    fmt::format_to(std::back_inserter(out),
                   R"(,"downloads":{},"share":[{}],"first_published":{},"days_to_half":{}}})", total, share,
                   first_published,
                   half_day ? std::to_string(std::max<std::int64_t>(0, *half_day - start_day)) : "null");
  }
  out += "]}";
  return out;
}

void AdoptionRoutes::Handle(api::ServerRequest request, api::Responder respond) {
  if (request.method != "GET" || request.path == "/v1/alerts") {
    return executor_.Post(
        [this, request = std::move(request), respond = std::move(respond)] { Answer(request, respond); });
  }
  std::string key = request.path + "?" + request.query;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(answers_mu_);
    if (auto it = answers_.find(key); it != answers_.end()) {
      api::ServerResponse cached;
      cached.shared_body = it->second.body;
      // Past its time it is still served while one rebuild runs.
      if (now - it->second.at >= kAnswerReuse && !it->second.rebuilding) {
        it->second.rebuilding = true;
        executor_.Post([this, key, request = std::move(request)] { Build(key, request, nullptr); });
      }
      return respond(std::move(cached));
    }
  }
  executor_.Post([this, key = std::move(key), request = std::move(request), respond = std::move(respond)] {
    Build(key, request, respond);
  });
}

void AdoptionRoutes::Build(std::string key, api::ServerRequest request, api::Responder respond) {
  auto started = std::chrono::steady_clock::now();
  Answer(request, [&](api::ServerResponse response) {
    std::lock_guard lock(answers_mu_);
    if (response.status == 200) {
      auto body = std::make_shared<const std::string>(std::move(response.body));
      if (answers_.size() >= kMaxAnswers) answers_.clear();
      answers_[key] = {started, body};
      response.body.clear();
      response.shared_body = std::move(body);
    } else if (auto it = answers_.find(key); it != answers_.end()) {
      it->second.rebuilding = false;  // the next request tries again
    }
    if (respond) respond(std::move(response));
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
