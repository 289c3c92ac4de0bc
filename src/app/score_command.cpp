#include "app/score_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>

#include "app/service.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/pipeline/package_lookup.hpp"

namespace pkgtrust::app {

using json = nlohmann::json;

namespace {

// PURL (with an optional @version), or ECOSYSTEM NAME [VERSION].
core::Result<core::PackageKey> ParseTarget(const std::vector<std::string>& target, std::string* version) {
  if (target.size() == 1) {
    auto purl = core::ParsePurl(target[0]);
    if (!purl.ok()) return purl.status();
    *version = purl->version;
    return core::PackageKeyFromPurl(*purl);
  }
  auto ecosystem = core::ParseEcosystemOrError(target[0]);
  if (!ecosystem.ok()) return ecosystem.status();
  if (target.size() > 2) *version = target[2];
  if (version->size() > 256) return core::Status::InvalidArgument("the version is longer than 256 bytes");
  return core::MakePackageKey(*ecosystem, target[1]);
}

std::string Signed(double value) { return fmt::format("{:+.1f}", value); }

// A member of an object, or an empty object when it is missing or `j` is no object (the
// report comes from the database: read it without trusting its shape).
const json& Member(const json& j, const char* key) {
  static const json kEmpty = json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it == j.end() ? kEmpty : *it;
}

// The report as a person reads it: score, components, flags and the reasons that moved
// the score most.
void PrintReadable(const json& report) {
  const json& score = Member(report, "score");
  const json& package = Member(report, "package");
  std::string latest = package.is_object() ? package.value("latest_version", "") : "";
  fmt::print("{} {}{}  ({})\n", report.value("ecosystem", ""), report.value("name", ""),
             latest.empty() ? "" : " " + latest, report.value("purl", ""));
  fmt::print("score {:.1f} / 10  (model {})\n", score.value("value", 0.0), score.value("model_version", ""));
  for (const char* name : {"activity", "provenance", "popularity"}) {
    const json& component = Member(Member(score, "components"), name);
    std::string facts;
    for (const auto& fact : component.value("facts", json::array())) {
      if (!facts.empty()) facts += "; ";
      facts += fact.get<std::string>();
    }
    fmt::print("  {:<11} {:>4.1f}  {}\n", name, component.value("value", 0.0), facts);
  }
  const json& flags = Member(report, "flags");
  std::vector<std::string> set;
  if (flags.value("malicious", false)) set.push_back("MALICIOUS (" + flags.value("advisory", "") + ")");
  if (flags.value("deprecated", false))
    set.push_back("deprecated: " + flags.value("deprecation_message", ""));
  if (flags.value("archived", false)) set.push_back("repository archived");
  if (flags.value("typosquatting", false)) set.push_back("looks like " + flags.value("looks_like", ""));
  fmt::print("flags: {}\n", set.empty() ? "none" : fmt::format("{}", fmt::join(set, ", ")));
  const json& explanation = Member(score, "explanation");
  std::vector<json> reasons;
  if (explanation.is_array()) reasons.assign(explanation.begin(), explanation.end());
  std::stable_sort(reasons.begin(), reasons.end(), [](const json& a, const json& b) {
    return std::fabs(a.value("effect", 0.0)) > std::fabs(b.value("effect", 0.0));
  });
  if (!reasons.empty()) fmt::print("top reasons:\n");
  for (std::size_t i = 0; i < reasons.size() && i < 6; ++i)
    fmt::print("  {:>5}  {}\n", Signed(reasons[i].value("effect", 0.0)), reasons[i].value("reason", ""));
  const json& version = Member(report, "version");
  if (!version.empty()) {
    std::vector<std::string> notes;
    if (!version.value("exists", false)) notes.push_back("not in the registry");
    if (version.value("malicious", false)) {
      std::vector<std::string> ids;
      for (const auto& id : version.value("advisories", json::array())) ids.push_back(id.get<std::string>());
      notes.push_back(fmt::format("MALICIOUS ({})", fmt::join(ids, ", ")));
    }
    if (version.value("yanked", false)) notes.push_back("yanked");
    if (version.contains("deprecated") && version["deprecated"].is_string())
      notes.push_back("deprecated: " + version["deprecated"].get<std::string>());
    if (version.contains("published") && version["published"].is_string())
      notes.push_back("published " + version["published"].get<std::string>());
    fmt::print("version {}: score {:.1f}; {}\n", version.value("version", ""), version.value("score", 0.0),
               notes.empty() ? "nothing known against it" : fmt::format("{}", fmt::join(notes, "; ")));
  }
}

}  // namespace

int RunScore(Config config, const std::vector<std::string>& target, bool as_json,
             std::chrono::seconds timeout) {
  std::string version;
  auto key = ParseTarget(target, &version);
  if (!key.ok()) {
    std::fprintf(stderr, "pkgtrust: score: %s\n", key.status().message().c_str());
    return 1;
  }
  core::SetLogLevel(config.log_level);
  Service service(std::move(config));
  service.Start(/*serve_http=*/false);
  // The same lookup as GET /v1/packages/{ecosystem}/{name}?wait=<timeout>&version=<version>.
  std::promise<pipeline::LookupAnswer> answered;
  service.lookup().Lookup({*key, version}, timeout, "cli-score", [&answered](pipeline::LookupAnswer answer) {
    answered.set_value(std::move(answer));
  });
  pipeline::LookupAnswer answer = answered.get_future().get();
  using Kind = pipeline::LookupAnswer::Kind;
  switch (answer.kind) {
    case Kind::kReport:
      break;
    case Kind::kNotFound:
      std::fprintf(stderr, "pkgtrust: score: %s does not exist in its registry\n", key->ToString().c_str());
      return 3;
    case Kind::kStoreError:
    case Kind::kReportError:
    case Kind::kOverloaded:
      std::fprintf(stderr, "pkgtrust: score: %s: %s\n", key->ToString().c_str(),
                   answer.error.ok() ? "too many lookups are waiting" : answer.error.message().c_str());
      return 1;
    case Kind::kPending:
      if (answer.record && answer.record->state == core::PackageState::kFailed) {
        std::fprintf(stderr, "pkgtrust: score: %s failed: %s\n", key->ToString().c_str(),
                     answer.record->last_error.c_str());
      } else {
        std::string state =
            answer.record ? std::string(core::PackageStateName(answer.record->state)) : "unknown";
        std::fprintf(stderr, "pkgtrust: score: %s is still %s after %lld s; the upstreams are slow or down\n",
                     key->ToString().c_str(), state.c_str(), static_cast<long long>(timeout.count()));
      }
      return 1;
  }
  json report = json::parse(*answer.report, nullptr, false);
  if (as_json) {
    std::printf("%s\n", report.dump(2, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  try {
    PrintReadable(report);
  } catch (const json::exception& e) {  // a stored report of an unexpected shape
    std::fprintf(stderr, "pkgtrust: score: the report of %s cannot be printed (%s); try --json\n",
                 key->ToString().c_str(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace pkgtrust::app
