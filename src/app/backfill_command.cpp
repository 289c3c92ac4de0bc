#include "app/backfill_command.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "app/command_args.hpp"
#include "app/service.hpp"

namespace pkgtrust::app {

namespace {

std::atomic<bool> interrupted{false};

std::string Duration(std::chrono::seconds s) {
  auto h = s.count() / 3600, m = s.count() / 60 % 60;
  return h > 0 ? fmt::format("{}h{:02}m", h, m) : fmt::format("{}m{:02}s", m, s.count() % 60);
}

}  // namespace

int RunBackfillCommand(const std::vector<std::string>& args,
                       const std::function<int(const std::string&)>& usage) {
  Parsed parsed;
  std::string problem;
  if (!Parse(args, {"--ecosystem", "--top", "--list", "--config", "--db", "--log-level"}, &parsed, &problem))
    return usage(problem);
  if (!parsed.positional.empty()) return usage(fmt::format("unexpected argument '{}'", parsed.positional[0]));
  if (parsed.json) return usage("unknown option '--json'");
  Config config = LoadFor(parsed);
  if (auto level = parsed.options.find("--log-level");
      level != parsed.options.end() && !core::ParseLogLevel(level->second, &config.log_level))
    return usage(fmt::format("unknown log level '{}'", level->second));
  else if (level == parsed.options.end())
    config.log_level = core::LogLevel::kWarn;
  std::optional<core::Ecosystem> only;
  if (auto eco = parsed.options.find("--ecosystem"); eco != parsed.options.end()) {
    auto parsed_eco = core::ParseEcosystemOrError(eco->second);
    if (!parsed_eco.ok()) return usage(parsed_eco.status().message());
    only = *parsed_eco;
  }
  if (auto list = parsed.options.find("--list"); list != parsed.options.end()) {
    if (!only) return usage("--list needs --ecosystem (the list's ecosystem)");
    config.index.lists = {{std::string(core::EcosystemName(*only)), list->second}};
  } else if (only) {
    std::string name(core::EcosystemName(*only));
    auto configured = config.index.lists.find(name);
    if (configured == config.index.lists.end() || configured->second == "off")
      return usage(fmt::format("no {} list is configured (index.lists); give one with --list FILE", name));
    config.index.lists = {{name, configured->second}};
  }
  if (auto top = parsed.options.find("--top"); top != parsed.options.end()) {
    char* end = nullptr;
    long long n = std::strtoll(top->second.c_str(), &end, 10);
    if (top->second.empty() || *end != '\0' || n < 1) return usage("--top takes a whole number above 0");
    config.index.top = static_cast<std::size_t>(n);
  }
  config.index.popular = true;
  config.index.without_http = true;
  core::SetLogLevel(config.log_level);

  Service service(config);
  service.Start(/*serve_http=*/false);
  const pipeline::Backfill* backfill = service.backfill();
  if (!backfill) {
    service.Stop();
    return usage("no list to walk");
  }
  interrupted = false;
  struct sigaction action {};
  action.sa_handler = [](int) { interrupted = true; };
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  // Until every listed name was walked and every package it enqueued finished.
  const bool terminal = isatty(STDERR_FILENO) == 1;
  const auto started = std::chrono::steady_clock::now();
  std::size_t finished_prefix = 0;  // Enqueued()[0, prefix) are known to be finished
  std::int64_t complete = 0, not_found = 0, failed = 0;
  auto last_line = started - std::chrono::hours(1);
  while (!interrupted) {
    pipeline::BackfillProgress p = backfill->Progress();
    std::vector<core::PackageKey> enqueued = backfill->Enqueued();
    // Enqueued in rank order, finished roughly in that order: scan from the first unfinished.
    for (std::size_t i = finished_prefix; i < enqueued.size(); ++i) {
      auto record = service.store().Get(enqueued[i]);
      if (!record.ok() || !*record) break;
      core::PackageState state = (*record)->state;
      bool done = state == core::PackageState::kComplete || state == core::PackageState::kNotFound ||
                  state == core::PackageState::kFailed;
      if (!done) break;
      (state == core::PackageState::kComplete   ? complete
       : state == core::PackageState::kNotFound ? not_found
                                                : failed)++;
      finished_prefix = i + 1;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - started);
    const std::int64_t finished = complete + not_found + failed;
    const std::int64_t left = p.listed - p.known - finished;
    std::string eta = finished > 0 && elapsed.count() > 0
                          ? Duration(std::chrono::seconds(elapsed.count() * left / finished))
                          : std::string("?");
    if (terminal || now - last_line >= std::chrono::seconds(10)) {
      int width = 30,
          filled = p.listed > 0 ? static_cast<int>(width * (finished + p.known) / p.listed) : width;
      std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
      std::fprintf(stderr, "%s[%s] %lld/%lld walked, %lld enqueued, %lld finished, %lld known%s, %s left%s",
                   terminal ? "\r" : "", bar.c_str(), static_cast<long long>(p.submitted),
                   static_cast<long long>(p.listed), static_cast<long long>(p.enqueued),
                   static_cast<long long>(finished), static_cast<long long>(p.known),
                   p.waiting_for_github ? ", waiting for GitHub's budget" : "", eta.c_str(),
                   terminal ? "   " : "\n");
      std::fflush(stderr);
      last_line = now;
    }
    if (p.done && finished_prefix == enqueued.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(terminal ? 500 : 200));
  }
  if (terminal) std::fputc('\n', stderr);
  pipeline::BackfillProgress p = backfill->Progress();
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  std::printf(
      "backfill: %lld listed, %lld enqueued (%lld complete, %lld not found, %lld failed), %lld already "
      "known, "
      "%lld invalid names, in %s%s\n",
      static_cast<long long>(p.listed), static_cast<long long>(p.enqueued), static_cast<long long>(complete),
      static_cast<long long>(not_found), static_cast<long long>(failed), static_cast<long long>(p.known),
      static_cast<long long>(p.invalid), Duration(elapsed).c_str(),
      interrupted ? " (interrupted: what was enqueued stays queued in the database)" : "");
  service.Stop();
  return interrupted ? 130 : 0;
}

}  // namespace pkgtrust::app
