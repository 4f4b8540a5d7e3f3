// Prometheus metrics (metrics.h).
#include "server/metrics.h"

#include <algorithm>
#include <cstdio>

namespace cove::server {
namespace {

std::string number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", x);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, double value) {
  out += name + ' ' + number(value) + '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) +
           '\n';
  }
  cumulative += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + '\n';
  out += name + "_sum " + number(sum_) + '\n';
  out += name + "_count " + std::to_string(count_) + '\n';
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      inter_token_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      start_(std::chrono::steady_clock::now()) {}

void Metrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
}

void Metrics::add_prompt_tokens(int64_t n) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += static_cast<uint64_t>(std::max<int64_t>(0, n));
}

void Metrics::add_cached_prompt_tokens(int64_t n) {
  std::lock_guard lock(mutex_);
  cached_prompt_tokens_ += static_cast<uint64_t>(std::max<int64_t>(0, n));
}

void Metrics::roll_rate(int64_t second) const {
  // Clear the ring slots of the seconds that passed without tokens.
  if (second - current_second_ > kRateWindow) current_second_ = second - kRateWindow - 1;
  while (current_second_ < second) {
    ++current_second_;
    per_second_[static_cast<size_t>(current_second_ % (kRateWindow + 1))] = 0;
  }
}

void Metrics::add_generated_token(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  ++generated_tokens_;
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
  roll_rate(second);
  ++per_second_[static_cast<size_t>(second % (kRateWindow + 1))];
}

void Metrics::observe_time_to_first_token(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.observe(seconds);
}

void Metrics::observe_inter_token_latency(double seconds) {
  std::lock_guard lock(mutex_);
  inter_token_.observe(seconds);
}

void Metrics::request_ended(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++ends_[reason];
}

double Metrics::tokens_per_second(std::chrono::steady_clock::time_point now) const {
  std::lock_guard lock(mutex_);
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
  roll_rate(second);
  // The last kRateWindow whole seconds (the current, partial one is left out).
  uint64_t total = 0;
  for (int64_t s = second - kRateWindow; s < second; ++s) {
    if (s < 0) continue;
    total += per_second_[static_cast<size_t>(s % (kRateWindow + 1))];
  }
  const int64_t span = std::min<int64_t>(kRateWindow, std::max<int64_t>(1, second));
  return static_cast<double>(total) / static_cast<double>(span);
}

std::string Metrics::render(const std::optional<runtime::SchedulerStats>& stats,
                            std::chrono::steady_clock::time_point now) const {
  const double rate = tokens_per_second(now);
  std::lock_guard lock(mutex_);
  std::string out;
  header(out, "cove_http_requests_total", "counter", "HTTP requests by route and status.");
  for (const auto& [key, count] : requests_) {
    out += "cove_http_requests_total{route=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + '\n';
  }
  header(out, "cove_requests_finished_total", "counter",
         "Generation requests by how they ended.");
  for (const auto& [reason, count] : ends_) {
    out += "cove_requests_finished_total{reason=\"" + reason + "\"} " + std::to_string(count) +
           '\n';
  }
  header(out, "cove_prompt_tokens_total", "counter", "Prompt tokens submitted.");
  sample(out, "cove_prompt_tokens_total", static_cast<double>(prompt_tokens_));
  header(out, "cove_prompt_tokens_cached_total", "counter",
         "Prompt tokens reused from the cache of an earlier request.");
  sample(out, "cove_prompt_tokens_cached_total", static_cast<double>(cached_prompt_tokens_));
  header(out, "cove_generated_tokens_total", "counter", "Tokens generated.");
  sample(out, "cove_generated_tokens_total", static_cast<double>(generated_tokens_));
  header(out, "cove_time_to_first_token_seconds", "histogram",
         "From request submission to its first generated token.");
  ttft_.render("cove_time_to_first_token_seconds", out);
  header(out, "cove_inter_token_latency_seconds", "histogram",
         "Between consecutive generated tokens of one request.");
  inter_token_.render("cove_inter_token_latency_seconds", out);
  header(out, "cove_generation_tokens_per_second", "gauge",
         "Generated tokens per second over the last 10 seconds.");
  sample(out, "cove_generation_tokens_per_second", rate);
  if (stats) {
    header(out, "cove_queue_depth", "gauge", "Requests waiting for a sequence slot.");
    sample(out, "cove_queue_depth", static_cast<double>(stats->queued));
    header(out, "cove_active_sequences", "gauge", "Sequences prefilling or decoding.");
    sample(out, "cove_active_sequences", static_cast<double>(stats->running));
    header(out, "cove_sequence_slots", "gauge", "Sequences the KV cache holds at once.");
    sample(out, "cove_sequence_slots", static_cast<double>(stats->slots));
    header(out, "cove_kv_cache_used_cells", "gauge", "Cached positions over all slots.");
    sample(out, "cove_kv_cache_used_cells", static_cast<double>(stats->kv_cells_used));
    header(out, "cove_kv_cache_total_cells", "gauge", "Positions the KV cache holds.");
    sample(out, "cove_kv_cache_total_cells", static_cast<double>(stats->kv_cells_total));
    header(out, "cove_kv_cache_usage_ratio", "gauge", "Used over total KV cache positions.");
    sample(out, "cove_kv_cache_usage_ratio",
           stats->kv_cells_total > 0 ? static_cast<double>(stats->kv_cells_used) /
                                           static_cast<double>(stats->kv_cells_total)
                                     : 0.0);
    header(out, "cove_engine_steps_total", "counter", "Forward steps the scheduler ran.");
    sample(out, "cove_engine_steps_total", static_cast<double>(stats->steps_total));
  }
  return out;
}

}  // namespace cove::server
