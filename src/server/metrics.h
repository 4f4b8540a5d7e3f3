// Server metrics in the Prometheus text format (GET /metrics): requests by route and status,
// prompt and generated tokens, time-to-first-token and inter-token latency histograms, and, read
// from the engine at scrape time, queue depth, active sequences and KV cache use. Tokens per
// second is the generation rate over the last 10 seconds.
//
// Thread-safe: handlers and engine callbacks record from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/scheduler.h"

namespace cove::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket / _sum / _count lines of `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;      // upper bounds, ascending; +Inf is implicit
  std::vector<uint64_t> counts_;    // per bucket (not cumulative), last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  void count_request(const std::string& route, int status);
  void add_prompt_tokens(int64_t n);
  void add_cached_prompt_tokens(int64_t n);
  void add_generated_token(std::chrono::steady_clock::time_point now);
  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  void request_ended(const std::string& reason);  // stop, length, cancelled, timeout, error

  // The exposition text; `stats` (absent while loading) supplies the engine gauges.
  std::string render(const std::optional<runtime::SchedulerStats>& stats,
                     std::chrono::steady_clock::time_point now) const;

  // Tokens per second over the last kRateWindow seconds.
  double tokens_per_second(std::chrono::steady_clock::time_point now) const;

 private:
  static constexpr int kRateWindow = 10;
  void roll_rate(int64_t second) const;

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t> ends_;
  uint64_t prompt_tokens_ = 0;
  uint64_t cached_prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  Histogram ttft_;
  Histogram inter_token_;
  std::chrono::steady_clock::time_point start_;
  // Generated tokens per whole second since start_, a ring over the last kRateWindow + 1.
  mutable std::array<uint64_t, kRateWindow + 1> per_second_{};
  mutable int64_t current_second_ = 0;
};

}  // namespace cove::server
