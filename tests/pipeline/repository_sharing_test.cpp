// The repository stage reads a repository once and shares it: the packages of a monorepo
// cost one read of the repository (each still reads its own manifest), packages asking at
// the same time wait for the one read under way, and a stored repository fresher than the
// TTL is not read again (both sides of the TTL, on a clock the test moves).
#include <fmt/format.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "pkgtrust/github/github_client.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/registry/package_facts.hpp"
#include "pkgtrust/store/store.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using testing::ReplayResponse;

namespace {

constexpr const char* kRepository = "/repos/acme/mono";

std::string Base64(const std::string& text) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(text[i]) << 16;
    if (i + 1 < text.size()) n |= static_cast<unsigned char>(text[i + 1]) << 8;
    if (i + 2 < text.size()) n |= static_cast<unsigned char>(text[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < text.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < text.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// One "process" of the service: its own HTTP client, GitHub client, store connection and
// repository stage, on the fixture's database and GitHub.
struct StageProcess {
  StageProcess(const std::string& github, const std::string& token, const std::string& db,
               const core::ManualClock& clock, pipeline::RepositorySharing sharing)
      : http(net::HttpClientConfig{.threads = 1}),
        client(http, github::GitHubOptions{.base_url = github, .token = token, .max_attempts = 1}, clock) {
    auto opened = store::Store::Open({.path = db}, clock);
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    handler = std::make_unique<pipeline::RepositoryStageHandler>(client, *store, sharing, clock);
  }
  net::BeastHttpClient http;
  github::GitHubClient client;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<pipeline::RepositoryStageHandler> handler;
};

// How the fake GitHub answers the next read (REST: the repository; GraphQL: a query): held
// until the test lets it go, after a delay, and with this status (200: the answer).
struct Scripted {
  std::shared_future<void> gate;  // valid: held until the promise is set
  std::chrono::milliseconds delay{0};
  int status = 200;
};

// A gate for Scripted: the test lets the held answer go with Release (or at the end).
class Gate {
 public:
  Gate() : released_(promise_.get_future().share()) {}
  ~Gate() { Release(); }
  std::shared_future<void> future() const { return released_; }
  void Release() {
    if (!done_.exchange(true)) promise_.set_value();
  }

 private:
  std::promise<void> promise_;
  std::shared_future<void> released_;
  std::atomic<bool> done_{false};
};

class SharingFixture {
 public:
  // Without a token the stage reads REST; with one, GraphQL batches (answered below from
  // the query's variables, as GitHub would).
  explicit SharingFixture(std::chrono::milliseconds ttl, std::string token = "",
                          std::chrono::milliseconds batch_wait = 200ms, int graphql_batch = 50)
      : token_(std::move(token)), sharing_{ttl, graphql_batch, batch_wait} {
    AddProcess();
    github_.SetBodyGenerator(
        [this](const std::string& method, const std::string& target, const std::string& body) {
          if (method == "POST" && target == "/graphql") return GraphQL(body);
          if (method == "GET" && target == kRepository) return RepositoryRead();
          return std::optional<ReplayResponse>();
        });
    github_.Add("GET", std::string(kRepository) + "/contributors?per_page=1&anon=true",
                ReplayResponse{200, {}, R"([{"login":"a","contributions":5}])"});
    github_.Add("GET", std::string(kRepository) + "/tags?per_page=100", ReplayResponse{200, {}, "[]"});
    github_.Add("GET", std::string(kRepository) + "/releases?per_page=100", ReplayResponse{200, {}, "[]"});
    github_.Add("GET", std::string(kRepository) + "/stats/commit_activity", ReplayResponse{200, {}, "[]"});
  }

  // Another process on the same database and GitHub; returns its number for Start.
  int AddProcess() {
    processes_.push_back(
        std::make_unique<StageProcess>(github_.BaseUrl(), token_, dir_.File("sharing.db"), clock_, sharing_));
    return static_cast<int>(processes_.size()) - 1;
  }

  // An npm package `name` (declaring acme/<repository>, in packages/<name>) in
  // pending_repository, and its manifest in the repository (only acme/mono exists).
  void AddPackage(const std::string& name, const std::string& repository = "mono") {
    core::PackageKey key{core::Ecosystem::kNpm, name};
    auto enqueued = store().EnqueueSync({.key = key});
    REQUIRE(enqueued.ok());
    registry::PackageFacts facts;
    facts.key = key;
    facts.latest_version = "1.0.0";
    facts.repository =
        core::ParseRepositoryUrl("git+https://github.com/acme/" + repository + ".git", "packages/" + name);
    REQUIRE(facts.repository);
    auto moved = store().TransitionSync({key,
                                         core::PackageState::kPendingRegistry,
                                         enqueued->record.generation,
                                         core::PackageState::kPendingRepository,
                                         {{store::kRegistryFact, facts.ToJson()}}});
    REQUIRE(moved.ok());
    std::string manifest = nlohmann::json{{"name", name}, {"version", "1.0.0"}}.dump();
    {
      std::lock_guard lock(mu_);
      files_["packages/" + name + "/package.json"] = manifest;
    }
    github_.Add("GET", fmt::format("{}/contents/packages/{}/package.json", kRepository, name),
                ReplayResponse{200,
                               {},
                               nlohmann::json{{"type", "file"},
                                              {"encoding", "base64"},
                                              {"path", "packages/" + name + "/package.json"},
                                              {"content", Base64(manifest)}}
                                   .dump()});
    generations_[name] = enqueued->record.generation;
  }

  std::future<pipeline::StageResult> Start(const std::string& name, int process = 0) {
    auto promise = std::make_shared<std::promise<pipeline::StageResult>>();
    pipeline::WorkItem item{{core::Ecosystem::kNpm, name}, generations_[name]};
    if (urgent_.contains(name)) item.priority = core::Priority::kPriority;
    processes_[static_cast<std::size_t>(process)]->handler->Handle(
        item, [promise](pipeline::StageResult result) { promise->set_value(std::move(result)); });
    return promise->get_future();
  }
  pipeline::StageResult Run(const std::string& name, int process = 0) { return Start(name, process).get(); }

  // `count` packages of acme/mono named <prefix>0, <prefix>1, ..., all started at once.
  struct Started {
    std::string name;
    std::future<pipeline::StageResult> result;
  };
  std::vector<Started> StartMonorepo(const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) AddPackage(fmt::format("{}{}", prefix, i));
    std::vector<Started> running;
    for (int i = 0; i < count; ++i) {
      std::string name = fmt::format("{}{}", prefix, i);
      running.push_back({name, Start(name)});
    }
    return running;
  }

  // How the next REST reads of the repository answer, in order; then after 300 ms (long
  // enough for packages that ask meanwhile to find the read in flight).
  void ScriptRepositoryReads(std::vector<Scripted> script) {
    std::lock_guard lock(mu_);
    rest_script_.assign(script.begin(), script.end());
  }
  // How the next GraphQL queries answer, in order; then at once.
  void ScriptGraphQL(std::vector<Scripted> script) {
    std::lock_guard lock(mu_);
    graphql_script_.assign(script.begin(), script.end());
  }

  // Counts an arrival and takes the next scripted answer (or `otherwise`); a held one
  // blocks the replay server's thread until the test lets it go.
  Scripted Arrive(int& arrivals, std::deque<Scripted>& script, Scripted otherwise) {
    {
      std::lock_guard lock(mu_);
      arrivals++;
      if (!script.empty()) {
        otherwise = script.front();
        script.pop_front();
      }
    }
    if (otherwise.gate.valid()) otherwise.gate.wait();
    return otherwise;
  }

  // The REST answer for acme/mono.
  std::optional<ReplayResponse> RepositoryRead() {
    Scripted scripted = Arrive(repository_reads_, rest_script_, {.delay = 300ms});
    if (scripted.status != 200) return ReplayResponse{scripted.status, {}, "{}"};
    ReplayResponse repo{200, {}, R"({"full_name":"acme/mono","stargazers_count":900,"forks_count":80,
        "open_issues_count":12,"archived":false,"fork":false,"created_at":"2019-01-01T00:00:00Z",
        "pushed_at":"2026-11-01T00:00:00Z","default_branch":"main","license":{"spdx_id":"MIT"}})"};
    repo.delay = scripted.delay;
    return repo;
  }

  // A GraphQL batch's answer: acme/mono's facts and files for every alias that names it.
  std::optional<ReplayResponse> GraphQL(const std::string& body) {
    nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
    const nlohmann::json& variables = request["variables"];
    const std::string query = request["query"];
    nlohmann::json data = {
        {"rateLimit", {{"cost", 1}, {"remaining", 4999}, {"resetAt", "2030-01-01T00:00:00Z"}}}};
    Scripted scripted = Arrive(queries_arrived_, graphql_script_, {});
    std::lock_guard lock(mu_);
    batches_.push_back(0);
    for (int i = 0; variables.contains(fmt::format("o{}", i)); ++i) {
      batches_.back()++;
      std::string alias = fmt::format("r{}", i);
      if (query.find(fmt::format("r{0}:repository(owner:$o{0},name:$n{0}){{...R", i)) != std::string::npos)
        facts_reads_++;
      if (variables[fmt::format("o{}", i)] != "acme" || variables[fmt::format("n{}", i)] != "mono") {
        data[alias] = nullptr;
        continue;
      }
      nlohmann::json repo = {{"nameWithOwner", "acme/mono"},
                             {"stargazerCount", 900},
                             {"forkCount", 80},
                             {"openIssues", {{"totalCount", 10}}},
                             {"openPullRequests", {{"totalCount", 2}}},
                             {"licenseInfo", {{"spdxId", "MIT"}}},
                             {"createdAt", "2019-01-01T00:00:00Z"},
                             {"pushedAt", "2026-11-01T00:00:00Z"}};
      for (int k = 0; variables.contains(fmt::format("e{}_{}", i, k)); ++k) {
        std::string path = variables[fmt::format("e{}_{}", i, k)].get<std::string>().substr(5);  // "HEAD:"
        auto file = files_.find(path);
        repo[fmt::format("f{}", k)] =
            file == files_.end()
                ? nlohmann::json(nullptr)
                : nlohmann::json{{"text", file->second}, {"isBinary", false}, {"isTruncated", false}};
      }
      data[alias] = repo;
    }
    if (scripted.status != 200) return ReplayResponse{scripted.status, {}, "<html>timed out</html>"};
    ReplayResponse answer{200, {}, nlohmann::json{{"data", data}}.dump()};
    answer.delay = scripted.delay;
    return answer;
  }
  int FactsReads() {
    std::lock_guard lock(mu_);
    return facts_reads_;
  }
  std::vector<int> Batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  void Prioritize(const std::string& name) { urgent_.insert(name); }

  int RepositoryReads() {
    std::lock_guard lock(mu_);
    return repository_reads_;
  }
  // GraphQL queries that arrived (a held one included).
  int QueriesArrived() {
    std::lock_guard lock(mu_);
    return queries_arrived_;
  }
  int ContributorReads() {
    return github_.Hits("GET", std::string(kRepository) + "/contributors?per_page=1&anon=true");
  }
  core::ManualClock& clock() { return clock_; }
  store::Store& store() { return *processes_[0]->store; }

 private:
  // First, so that they outlive the replay server and the handler that use them.
  std::map<std::string, std::int64_t> generations_;
  std::set<std::string> urgent_;
  std::mutex mu_;
  std::map<std::string, std::string> files_;  // path in acme/mono -> text
  std::vector<int> batches_;                  // aliases in each GraphQL query
  int facts_reads_ = 0;                       // aliases that asked for the repository's facts
  std::deque<Scripted> graphql_script_, rest_script_;
  int repository_reads_ = 0;  // REST reads of acme/mono that arrived (a held one included)
  int queries_arrived_ = 0;
  std::string token_;
  pipeline::RepositorySharing sharing_;
  testing::TempDir dir_;
  testing::ReplayServer github_{4};
  core::ManualClock clock_;
  std::vector<std::unique_ptr<StageProcess>> processes_;
};

github::RepositoryFacts FactsOf(const pipeline::StageResult& result) {
  REQUIRE(result.kind == pipeline::StageResult::Kind::kAdvance);
  REQUIRE(result.facts.size() == 1);
  auto facts = github::RepositoryFacts::FromJson(result.facts[0].json);
  REQUIRE(facts.ok());
  return *facts;
}

}  // namespace

TEST_CASE("the 50 packages of a monorepo read the repository once, each its own manifest", "[pipeline]") {
  SharingFixture f(24h);
  // All at once: the first starts the read, the other 49 wait for it.
  for (auto& [name, result] : f.StartMonorepo("mono-pkg-", 50)) {
    INFO(name);
    github::RepositoryFacts facts = FactsOf(result.get());
    CHECK(facts.stars == 900);
    CHECK(facts.contributors == 1);
    CHECK(facts.read_at == f.clock().NowMillis());
    CHECK(facts.requested.subdirectory == "packages/" + name);
    CHECK(facts.manifest.status == github::ManifestStatus::kFound);
    CHECK(facts.manifest.declared_name == name);  // its own manifest, not a neighbour's
  }
  CHECK(f.RepositoryReads() == 1);
  CHECK(f.ContributorReads() == 1);
  // The shared row.
  auto stored = f.store().GetRepository("github.com/acme/mono");
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK((*stored)->outcome == "found");
  CHECK((*stored)->read_at == f.clock().NowMillis());
  CHECK_THAT((*stored)->facts_json, !Catch::Contains("mono-pkg-"));  // no package's manifest in it
}

TEST_CASE("a stored repository fresher than the TTL is not read again; one older is", "[pipeline]") {
  SharingFixture f(24h);
  for (const char* name : {"first", "second", "third"}) f.AddPackage(name);
  REQUIRE(FactsOf(f.Run("first")).stars == 900);
  REQUIRE(f.RepositoryReads() == 1);
  core::Millis read_at = f.clock().NowMillis();

  f.clock().Advance(24 * 3'600'000 - 1);  // one millisecond short of the TTL: still fresh
  github::RepositoryFacts second = FactsOf(f.Run("second"));
  CHECK(f.RepositoryReads() == 1);
  CHECK(second.read_at == read_at);  // the package records which read it used
  CHECK(second.manifest.declared_name == "second");

  f.clock().Advance(1);  // exactly the TTL: read again
  github::RepositoryFacts third = FactsOf(f.Run("third"));
  CHECK(f.RepositoryReads() == 2);
  CHECK(third.read_at == f.clock().NowMillis());
}

TEST_CASE("with a TTL of 0 every package reads the repository again", "[pipeline]") {
  SharingFixture f(0ms);
  for (const char* name : {"one", "two"}) f.AddPackage(name);
  FactsOf(f.Run("one"));
  FactsOf(f.Run("two"));
  CHECK(f.RepositoryReads() == 2);
}

TEST_CASE("with a token, the 50 packages of a monorepo cost one GraphQL query and no REST call",
          "[pipeline]") {
  SharingFixture f(24h, "test-token");
  for (auto& [name, result] : f.StartMonorepo("gql-pkg-", 50)) {
    INFO(name);
    github::RepositoryFacts facts = FactsOf(result.get());
    CHECK(facts.stars == 900);
    CHECK(facts.open_issues == 12);
    CHECK(facts.requested.subdirectory == "packages/" + name);
    CHECK(facts.manifest.status == github::ManifestStatus::kFound);
    CHECK(facts.manifest.declared_name == name);
  }
  // The repository's facts read once (packages that came after the query left wait for it
  // and then ask only for their manifests); one alias per repository in every query.
  CHECK(f.FactsReads() == 1);
  for (int aliases : f.Batches()) CHECK(aliases == 1);
  CHECK(f.RepositoryReads() == 0);
  // Fresh now: the next package's query reads only its manifest.
  std::size_t queries = f.Batches().size();
  f.AddPackage("gql-late");
  CHECK(FactsOf(f.Run("gql-late")).manifest.declared_name == "gql-late");
  CHECK(f.FactsReads() == 1);
  CHECK(f.Batches().size() == queries + 1);
}

TEST_CASE("with a token, work a user waits for goes out at once instead of waiting for the batch to fill",
          "[pipeline]") {
  SharingFixture f(24h, "test-token", /*batch_wait=*/std::chrono::minutes(10));
  f.AddPackage("feed-pkg");
  f.AddPackage("user-pkg");
  f.Prioritize("user-pkg");
  auto feed = f.Start("feed-pkg");
  // A lone feed package waits for company (up to batch_wait, ten minutes here).
  CHECK(feed.wait_for(300ms) == std::future_status::timeout);
  CHECK(f.Batches().empty());
  auto user = f.Start("user-pkg");
  REQUIRE(user.wait_for(30s) == std::future_status::ready);
  CHECK(FactsOf(user.get()).manifest.declared_name == "user-pkg");
  // The waiting feed package went along in the same query.
  REQUIRE(feed.wait_for(30s) == std::future_status::ready);
  CHECK(FactsOf(feed.get()).manifest.declared_name == "feed-pkg");
  CHECK(f.Batches() == std::vector<int>{1});
}

namespace {

// Waits (bounded) until `condition` holds: an event the test must see before going on.
template <typename Condition>
void AwaitEvent(Condition condition) {
  for (int i = 0; i < 3000 && !condition(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(condition());
}

}  // namespace

TEST_CASE("work a user waits for does not wait on a regular read of the same repository", "[pipeline]") {
  SharingFixture f(24h);
  f.AddPackage("feed-first");
  f.AddPackage("user-second");
  f.Prioritize("user-second");
  Gate stalled;  // the regular read is held upstream until the user's work is done
  f.ScriptRepositoryReads({{.gate = stalled.future()}, {}});
  auto feed = f.Start("feed-first");
  AwaitEvent([&] { return f.RepositoryReads() == 1; });
  auto user = f.Start("user-second");
  REQUIRE(user.wait_for(30s) == std::future_status::ready);
  CHECK(feed.wait_for(0s) == std::future_status::timeout);  // still on its held read
  CHECK(FactsOf(user.get()).manifest.declared_name == "user-second");
  CHECK(f.RepositoryReads() == 2);  // a read of its own
  stalled.Release();
  CHECK(FactsOf(feed.get()).manifest.declared_name == "feed-first");
}

TEST_CASE("with a token, work a user waits for does not wait on a regular batch reading its repository",
          "[pipeline]") {
  SharingFixture f(24h, "test-token", /*batch_wait=*/0ms);
  f.AddPackage("feed-first");
  f.AddPackage("user-second");
  f.Prioritize("user-second");
  Gate slow;  // the regular batch is held upstream until the user's work is done
  f.ScriptGraphQL({{.gate = slow.future()}});
  auto feed = f.Start("feed-first");
  AwaitEvent([&] { return f.QueriesArrived() == 1; });
  auto user = f.Start("user-second");
  REQUIRE(user.wait_for(30s) == std::future_status::ready);
  CHECK(feed.wait_for(0s) == std::future_status::timeout);
  CHECK(FactsOf(user.get()).manifest.declared_name == "user-second");
  slow.Release();
  CHECK(FactsOf(feed.get()).manifest.declared_name == "feed-first");
  CHECK(f.Batches() == std::vector<int>{1, 1});  // in the order they were answered
  CHECK(f.FactsReads() == 2);                    // the user's batch read the facts itself
}

TEST_CASE("two processes on one database read a repository once: the second waits for the first's read",
          "[pipeline]") {
  SharingFixture f(24h);
  int other = f.AddProcess();
  for (const char* name : {"here", "there"}) f.AddPackage(name);
  Gate reading;  // this process's read is under way until the test lets it finish
  f.ScriptRepositoryReads({{.gate = reading.future()}});
  auto here = f.Start("here");  // this process claims the read
  AwaitEvent([&] { return f.RepositoryReads() == 1; });
  pipeline::StageResult there = f.Run("there", other);
  REQUIRE(there.kind == pipeline::StageResult::Kind::kPostpone);  // not a failure: back soon
  REQUIRE(there.retry_after);
  CHECK(*there.retry_after >= 1s);
  CHECK(*there.retry_after <= 10s);
  CHECK(f.RepositoryReads() == 1);
  reading.Release();
  core::Millis read_at = FactsOf(here.get()).read_at;
  // The facts are stored: the other process takes them without a read of its own.
  github::RepositoryFacts facts = FactsOf(f.Run("there", other));
  CHECK(f.RepositoryReads() == 1);
  CHECK(facts.read_at == read_at);
  CHECK(facts.manifest.declared_name == "there");
}

TEST_CASE("a claim on a repository's read ends with a failed read and lapses at its end", "[pipeline]") {
  SharingFixture f(24h);
  int other = f.AddProcess();
  for (const char* name : {"here", "there", "elsewhere"}) f.AddPackage(name);

  // A process that died while reading: its claim holds the others until it lapses.
  core::Millis now = f.clock().NowMillis();
  REQUIRE(
      f.store().ClaimRepositoryReadsSync({"github.com/acme/mono"}, "dead-process", now + 120'000, now).ok());
  CHECK(f.Run("there", other).kind == pipeline::StageResult::Kind::kPostpone);
  f.clock().Advance(120'000);  // at the claim's end: still held
  CHECK(f.Run("there", other).kind == pipeline::StageResult::Kind::kPostpone);
  CHECK(f.RepositoryReads() == 0);
  f.clock().Advance(1);  // past it: this process reads
  CHECK(FactsOf(f.Run("there", other)).stars == 900);
  CHECK(f.RepositoryReads() == 1);

  // A read that fails lets go of its claim at once: the other process need not wait.
  f.clock().Advance(24 * 3'600'000);  // stale again
  f.ScriptRepositoryReads({{.status = 500}});
  CHECK(f.Run("here").kind == pipeline::StageResult::Kind::kRetry);
  CHECK(FactsOf(f.Run("elsewhere", other)).stars == 900);
  CHECK(f.RepositoryReads() == 3);  // the read past the lapse, the failed one, and this one
}

TEST_CASE("with a token, a query GitHub gave up on (502) is asked again in halves; an answer grows it back",
          "[pipeline]") {
  SharingFixture f(24h, "test-token", /*batch_wait=*/std::chrono::minutes(10), /*graphql_batch=*/8);
  f.ScriptGraphQL({{.status = 502}});
  std::vector<std::string> first, second;
  for (int i = 0; i < 8; ++i) {
    first.push_back(fmt::format("first-{}", i));
    f.AddPackage(first.back(), first.back());  // eight repositories (none exists)
  }
  for (int i = 0; i < 4; ++i) {
    second.push_back(fmt::format("second-{}", i));
    f.AddPackage(second.back(), second.back());
  }
  auto run_all = [&](const std::vector<std::string>& names) {
    std::vector<std::future<pipeline::StageResult>> running;
    for (const std::string& name : names) running.push_back(f.Start(name));
    std::vector<pipeline::StageResult> results;
    for (auto& r : running) {
      REQUIRE(r.wait_for(30s) == std::future_status::ready);  // a full batch goes without waiting
      results.push_back(r.get());
    }
    return results;
  };
  // Eight fill the batch; GitHub gives up on the query: every package tries again later.
  for (const pipeline::StageResult& r : run_all(first)) {
    CHECK(r.kind == pipeline::StageResult::Kind::kRetry);
    CHECK_THAT(r.error, Catch::Contains("gave up"));
  }
  // Now four fill a batch, and are answered.
  std::vector<std::string> half(first.begin(), first.begin() + 4);
  for (const pipeline::StageResult& r : run_all(half))
    CHECK(FactsOf(r).status == github::RepositoryStatus::kNotFound);
  // Back to eight.
  std::vector<std::string> rest(first.begin() + 4, first.end());
  rest.insert(rest.end(), second.begin(), second.end());
  for (const pipeline::StageResult& r : run_all(rest))
    CHECK(FactsOf(r).status == github::RepositoryStatus::kNotFound);
  CHECK(f.Batches() == std::vector<int>{8, 4, 8});
}

TEST_CASE("with a token, a repository another process is reading stays out of the batch, except for a user",
          "[pipeline]") {
  SharingFixture f(24h, "test-token", /*batch_wait=*/0ms);
  for (const char* name : {"feed-pkg", "user-pkg"}) f.AddPackage(name);
  f.Prioritize("user-pkg");
  core::Millis now = f.clock().NowMillis();
  REQUIRE(
      f.store().ClaimRepositoryReadsSync({"github.com/acme/mono"}, "other-process", now + 120'000, now).ok());
  pipeline::StageResult feed = f.Run("feed-pkg");
  CHECK(feed.kind == pipeline::StageResult::Kind::kPostpone);
  CHECK(f.Batches().empty());
  // A user does not wait for another process's read.
  CHECK(FactsOf(f.Run("user-pkg")).manifest.declared_name == "user-pkg");
  CHECK(f.Batches() == std::vector<int>{1});
}
