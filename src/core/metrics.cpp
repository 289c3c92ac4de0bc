#include "pkgtrust/core/metrics.hpp"

#include <fmt/format.h>

#include <cmath>

namespace pkgtrust::core {

void LatencyHistogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // also NaN
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::int64_t>(std::llround(seconds * 1e6)), std::memory_order_relaxed);
}

void LatencyHistogram::AppendPrometheus(std::string& out, std::string_view name,
                                        std::string_view labels) const {
  std::string_view sep = labels.empty() ? "" : ",";
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kBounds[i],
                   cumulative);
  }
  cumulative += buckets_.back().load(std::memory_order_relaxed);
  fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  std::string braces = labels.empty() ? std::string() : fmt::format("{{{}}}", labels);
  fmt::format_to(std::back_inserter(out), "{}_sum{} {}\n", name, braces,
                 sum_micros_.load(std::memory_order_relaxed) / 1e6);
  // The count is the +Inf bucket, so a scrape never sees them disagree.
  fmt::format_to(std::back_inserter(out), "{}_count{} {}\n", name, braces, cumulative);
}

void AppendPrometheusHeader(std::string& out, std::string_view name, std::string_view type,
                            std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void AppendPrometheusSample(std::string& out, std::string_view name, std::string_view labels, double value) {
  if (labels.empty())
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  else
    fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
}

std::string PrometheusLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace pkgtrust::core
