// Metrics primitives behind /metrics: a lock-free latency histogram with fixed buckets
// and the Prometheus text exposition format (version 0.0.4) it is written in.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace pkgtrust::core {

// Latency in seconds over fixed buckets from 1 ms to 60 s. Safe for concurrent use.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 16> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1,      2,     2.5,  5,     10,   30,  60};
  void Observe(double seconds);

  // Appends `name_bucket`, `name_sum` and `name_count` lines; `labels` is either empty
  // or `key="value",...` without braces.
  void AppendPrometheus(std::string& out, std::string_view name, std::string_view labels) const;
  std::int64_t Count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::int64_t>, kBounds.size() + 1> buckets_{};  // last: above every bound
  std::atomic<std::int64_t> count_{0};
  std::atomic<std::int64_t> sum_micros_{0};
};

// `# HELP` and `# TYPE` lines of a metric family.
void AppendPrometheusHeader(std::string& out, std::string_view name, std::string_view type,
                            std::string_view help);
// One sample line: `name{labels} value`.
void AppendPrometheusSample(std::string& out, std::string_view name, std::string_view labels, double value);
// A label value escaped as the text format requires (backslash, quote, line feed).
std::string PrometheusLabelValue(std::string_view value);

}  // namespace pkgtrust::core
