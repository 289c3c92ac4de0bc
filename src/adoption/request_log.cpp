#include <fmt/format.h>

#include "pkgtrust/adoption/adoption.hpp"
#include "pkgtrust/adoption/user_agent.hpp"
#include "pkgtrust/core/log.hpp"

namespace pkgtrust::adoption {

RequestLog::RequestLog(store::Store& store, AdoptionConfig config, const core::Clock& clock)
    : store_(store), config_(std::move(config)), clock_(clock) {}

RequestLog::~RequestLog() { Stop(); }

void RequestLog::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void RequestLog::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)Flush();
}

void RequestLog::Record(gateway::AnsweredRequest request) {
  recorded_++;
  store::RequestLogRow row;
  row.at = request.at;
  row.ecosystem = std::move(request.ecosystem);
  row.method = std::move(request.method);
  row.path = std::move(request.path);
  row.status = request.status;
  row.bytes = request.bytes;
  row.duration_us = request.duration_us;
  // The address goes no further than this line.
  row.origin = keys_.Key(request.client_address, request.at);
  ClientInfo client = ReduceUserAgent(request.user_agent);
  row.tool = std::move(client.tool);
  row.tool_version = std::move(client.tool_version);
  row.runtime = std::move(client.runtime);
  row.os = std::move(client.os);
  row.ci = client.ci;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (waiting_.size() >= config_.max_waiting_rows) {
      dropped_++;
      return;
    }
    waiting_.push_back(std::move(row));
    wake = waiting_.size() >= config_.flush_rows;
  }
  if (wake) cv_.notify_all();
}

core::Status RequestLog::Flush() {
  std::lock_guard flush(flush_mu_);
  std::vector<store::RequestLogRow> rows;
  {
    std::lock_guard lock(mu_);
    rows.swap(waiting_);
  }
  if (rows.empty()) return core::Status::Ok();
  std::int64_t n = static_cast<std::int64_t>(rows.size());
  core::Status s = store_.AppendRequestLogSync(std::move(rows));
  if (!s.ok()) {
    write_errors_++;
    dropped_ += n;
    core::Log(core::LogLevel::kError, "adoption", "request log: {} rows not written: {}", n, s.message());
    return s;
  }
  written_ += n;
  batches_++;
  return s;
}

void RequestLog::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, config_.flush_interval,
                 [&] { return stopping_ || waiting_.size() >= config_.flush_rows; });
    if (waiting_.empty()) continue;
    lock.unlock();
    (void)Flush();
    lock.lock();
  }
}

RequestLog::Stats RequestLog::GetStats() const {
  return {recorded_.load(), written_.load(), dropped_.load(), write_errors_.load(), batches_.load()};
}

}  // namespace pkgtrust::adoption
