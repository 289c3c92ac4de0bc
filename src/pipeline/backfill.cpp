#include "pkgtrust/pipeline/backfill.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/scoring/shipped_lists.hpp"

namespace pkgtrust::pipeline {

namespace {

bool Pending(core::PackageState state) {
  return state == core::PackageState::kPendingRegistry || state == core::PackageState::kPendingRepository ||
         state == core::PackageState::kPendingScore;
}

}  // namespace

core::Result<BackfillList> ParsePopularList(core::Ecosystem ecosystem, std::string_view text,
                                            const std::string& source) {
  // name<TAB>downloads (most first) or, under a header naming the column "rank", name<TAB>rank.
  std::vector<std::pair<double, std::string>> entries;
  bool by_rank = false;
  for (int number = 1; !text.empty(); ++number) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0)
      return core::Status::InvalidArgument(fmt::format("{}:{}: expected name<TAB>number", source, number));
    std::string value_text(line.substr(tab + 1));
    char* end = nullptr;
    double value = std::strtod(value_text.c_str(), &end);
    if (value_text.empty() || *end != '\0' || !std::isfinite(value) || value < 0) {
      if (number == 1) {  // the header
        by_rank = value_text == "rank";
        continue;
      }
      return core::Status::InvalidArgument(
          fmt::format("{}:{}: '{}' is not a number", source, number, value_text.substr(0, 40)));
    }
    entries.emplace_back(value, std::string(line.substr(0, tab)));
  }
  std::stable_sort(entries.begin(), entries.end(), [by_rank](const auto& a, const auto& b) {
    return by_rank ? a.first < b.first : a.first > b.first;
  });
  BackfillList list{ecosystem, {}, source};
  for (auto& entry : entries) list.names.push_back(std::move(entry.second));
  return list;
}

std::vector<BackfillList> ShippedPopularLists() {
  std::vector<BackfillList> lists;
  for (core::Ecosystem ecosystem : {core::Ecosystem::kNpm, core::Ecosystem::kPypi}) {
    std::string source = fmt::format("the shipped {} list", core::EcosystemName(ecosystem));
    auto list = ParsePopularList(ecosystem, scoring::ShippedPopularList(ecosystem), source);
    if (list.ok())
      lists.push_back(std::move(list).value());
    else  // the build's own data: a test pins it
      core::Log(core::LogLevel::kError, "backfill", "{}", list.status().message());
  }
  return lists;
}

core::Result<BackfillList> ReadPopularList(core::Ecosystem ecosystem, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::Status::NotFound(fmt::format("{}: cannot read the popular-package list", path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParsePopularList(ecosystem, text.str(), path);
}

Backfill::Backfill(BackfillConfig config, store::Store& store, Pipeline& pipeline, const core::Clock& clock,
                   std::function<GitHubBudget()> budget)
    : config_(std::move(config)),
      store_(store),
      pipeline_(pipeline),
      clock_(clock),
      budget_(std::move(budget)) {
  config_.batch = std::max<std::size_t>(config_.batch, 1);
  std::size_t longest = 0;
  for (const BackfillList& list : config_.lists) longest = std::max(longest, list.names.size());
  if (config_.top > 0) longest = std::min(longest, config_.top);
  for (std::size_t rank = 0; rank < longest; ++rank)
    for (const BackfillList& list : config_.lists) {
      if (rank >= list.names.size()) continue;
      auto name = core::NormalizePackageName(list.ecosystem, list.names[rank]);
      if (!name.ok()) {
        progress_.invalid++;
        core::Log(core::LogLevel::kWarn, "backfill", "{}: '{}' is not a valid {} name: {}", list.source,
                  list.names[rank], core::EcosystemName(list.ecosystem), name.status().message());
        continue;
      }
      order_.push_back({list.ecosystem, std::move(name).value()});
    }
  progress_.listed = static_cast<std::int64_t>(order_.size());
  progress_.done = order_.empty();
}

Backfill::~Backfill() { Stop(); }

void Backfill::Start() {
  std::lock_guard lock(mu_);
  if (timer_ || progress_.done) return;
  core::Log(core::LogLevel::kInfo, "backfill", "indexing {} popular packages (at most {} in flight)",
            progress_.listed, config_.max_pending);
  timer_ = std::make_unique<core::Timer>();
  timer_->Schedule(std::chrono::milliseconds(0), [this] { Tick(); });
}

void Backfill::Stop() {
  std::unique_ptr<core::Timer> timer;
  {
    std::lock_guard lock(mu_);
    timer = std::move(timer_);
  }
  timer.reset();  // waits for a step under way; the next one is dropped
}

void Backfill::Tick() {
  if (auto stepped = Step(); !stepped.ok())
    core::Log(core::LogLevel::kWarn, "backfill", "step failed (tried again): {}", stepped.status().message());
  std::lock_guard lock(mu_);
  if (!timer_) return;
  if (progress_.done) {
    core::Log(core::LogLevel::kInfo, "backfill", "walked {} popular packages: {} enqueued, {} already known",
              progress_.listed, progress_.enqueued, progress_.known);
    return;
  }
  timer_->Schedule(config_.interval, [this] { Tick(); });
}

core::Result<std::int64_t> Backfill::Step() {
  std::size_t begin = 0, end = 0;
  {
    std::lock_guard lock(mu_);
    if (progress_.done) return 0;
    // GitHub: held until its reset, or down to the reserve of the most it had this window.
    GitHubBudget budget = budget_ ? budget_() : GitHubBudget{};
    if (budget.held_until > clock_.NowMillis()) most_remaining_ = 0;  // a new window follows the reset
    most_remaining_ = std::max(most_remaining_, budget.remaining);
    const double reserve = config_.github_reserve_share * static_cast<double>(most_remaining_);
    const bool low = budget.remaining >= 0 && static_cast<double>(budget.remaining) < reserve;
    progress_.waiting_for_github = budget.held_until > clock_.NowMillis() || low;
    if (progress_.waiting_for_github) return 0;
    begin = cursor_;
  }
  auto counts = store_.CountByState();
  if (!counts.ok()) return counts.status();
  std::int64_t pending = 0;
  for (const auto& [state, count] : *counts)
    if (Pending(state)) pending += count;
  std::int64_t room = config_.max_pending - pending;
  if (room <= 0) return 0;
  end = std::min({order_.size(), begin + config_.batch, begin + static_cast<std::size_t>(room)});
  std::vector<store::EnqueueRequest> requests;
  for (std::size_t i = begin; i < end; ++i) {
    store::EnqueueRequest request;
    request.key = order_[i];
    request.priority = core::Priority::kRegular;
    request.restart_finished = false;  // a package the store knows is left as it is
    requests.push_back(std::move(request));
  }
  auto results = pipeline_.Submit(std::move(requests), "backfill");
  if (!results.ok()) return results.status();
  std::lock_guard lock(mu_);
  for (const store::EnqueueResult& result : *results) {
    bool started = result.outcome == store::EnqueueOutcome::kStarted;
    (started ? progress_.enqueued : progress_.known)++;
    if (started) enqueued_.push_back(result.record.key);
  }
  cursor_ = end;
  progress_.submitted = static_cast<std::int64_t>(cursor_);
  progress_.done = cursor_ == order_.size();
  return static_cast<std::int64_t>(end - begin);
}

std::vector<core::PackageKey> Backfill::Enqueued() const {
  std::lock_guard lock(mu_);
  return enqueued_;
}

BackfillProgress Backfill::Progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

void Backfill::AppendPrometheus(std::string& out) const {
  BackfillProgress p = Progress();
  core::AppendPrometheusHeader(out, "pkgtrust_backfill_packages", "gauge",
                               "The popular-package backfill: names listed, walked, enqueued (new to the "
                               "store), already known, invalid.");
  for (const auto& [label, value] : {std::pair<const char*, std::int64_t>{"listed", p.listed},
                                     {"submitted", p.submitted},
                                     {"enqueued", p.enqueued},
                                     {"known", p.known},
                                     {"invalid", p.invalid}})
    core::AppendPrometheusSample(out, "pkgtrust_backfill_packages", fmt::format("state=\"{}\"", label),
                                 static_cast<double>(value));
  core::AppendPrometheusHeader(out, "pkgtrust_backfill_waiting_for_github", "gauge",
                               "1 while the backfill waits for GitHub's budget (held, or at its reserve).");
  core::AppendPrometheusSample(out, "pkgtrust_backfill_waiting_for_github", "", p.waiting_for_github ? 1 : 0);
  core::AppendPrometheusHeader(out, "pkgtrust_backfill_done", "gauge",
                               "1 once every listed name was walked.");
  core::AppendPrometheusSample(out, "pkgtrust_backfill_done", "", p.done ? 1 : 0);
}

}  // namespace pkgtrust::pipeline
