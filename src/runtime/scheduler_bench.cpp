#include "runtime/scheduler_bench.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "runtime/bench.h"
#include "runtime/scheduler.h"

namespace cove::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

GenerateOptions greedy(int64_t max_tokens) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampling.temperature = 0.0f;
  o.ignore_eos = true;
  o.logprob = false;  // as a server request without "logprobs"
  return o;
}

// Counts finished requests; wait() returns when `n` have ended.
struct DoneCounter {
  std::mutex mutex;
  std::condition_variable cv;
  int64_t done = 0;
  std::string error;
  void end(const RequestResult& r) {
    std::lock_guard<std::mutex> lock(mutex);
    if (r.end == RequestEnd::kError && error.empty()) error = r.error;
    ++done;
    cv.notify_all();
  }
  void wait(int64_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return done >= n; });
  }
};

}  // namespace

Result<ConcurrencyRun> run_concurrent_streams(const model::Model& model,
                                              const tokenizer::Tokenizer& tokenizer,
                                              const ServingBenchConfig& config) {
  const int64_t k = std::max<int64_t>(1, config.streams);
  model::TransformerOptions to;
  to.n_seq = k;
  to.n_ctx = config.n_prompt + config.n_gen + 1;
  to.n_threads = config.n_threads;
  model::Transformer transformer(model, to);
  SchedulerOptions so;
  so.max_queue = k;
  so.prefill_chunk = config.prefill_chunk;
  so.step_tokens = std::max<int64_t>(512, k + config.prefill_chunk);
  Scheduler scheduler(transformer, tokenizer, so);

  DoneCounter counter;
  std::vector<double> ttft(static_cast<size_t>(k));
  std::atomic<int64_t> generated{0};
  const int32_t bos = tokenizer.bos_id();
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < k; ++i) {
    Request r;
    r.prompt = random_tokens(config.n_prompt, tokenizer.n_vocab(), bos, config.seed + i);
    r.options = greedy(config.n_gen);
    RequestCallbacks cb;
    cb.on_done = [&, i](const RequestResult& result) {
      ttft[static_cast<size_t>(i)] = result.timings.first_token_ms;
      generated += result.completion_tokens;
      counter.end(result);
    };
    Result<RequestId> id = scheduler.submit(std::move(r), std::move(cb));
    if (!id) return Error{id.message()};
  }
  counter.wait(k);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!counter.error.empty()) return Error{counter.error};
  ConcurrencyRun run;
  run.streams = k;
  run.generated = generated;
  run.seconds = seconds;
  run.tokens_per_s = static_cast<double>(run.generated) / seconds;
  run.ttft_p50_ms = percentile(ttft, 0.50);
  run.ttft_p99_ms = percentile(ttft, 0.99);
  return run;
}

Result<StallRun> run_prefill_stall(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                   const ServingBenchConfig& config, int64_t n_long) {
  const int64_t k = std::max<int64_t>(1, config.streams);
  constexpr int64_t kWarmTokens = 16;  // per stream before the long prompt arrives
  model::TransformerOptions to;
  to.n_seq = k + 1;
  to.n_ctx = std::max(n_long + 1, config.n_prompt + 1) + 64;
  to.n_threads = config.n_threads;
  model::Transformer transformer(model, to);
  SchedulerOptions so;
  so.max_queue = k + 1;
  so.prefill_chunk = config.prefill_chunk;
  so.step_tokens = std::max<int64_t>(k + 1, k + config.prefill_chunk);
  Scheduler scheduler(transformer, tokenizer, so);

  // All of this is touched on the scheduler thread only, until the end.
  std::vector<std::vector<Clock::time_point>> times(static_cast<size_t>(k));
  for (auto& t : times) t.reserve(static_cast<size_t>(to.n_ctx));
  Clock::time_point long_submitted{}, long_first{};
  bool long_sent = false;
  int64_t warm_streams = 0;
  std::vector<RequestId> stream_ids;
  DoneCounter counter;
  Result<RequestId> long_id = Error{"not submitted"};

  auto submit_long = [&] {
    Request r;
    r.prompt = random_tokens(n_long, tokenizer.n_vocab(), tokenizer.bos_id(), config.seed + 1000);
    r.options = greedy(1);
    RequestCallbacks cb;
    cb.on_token = [&](const GeneratedToken&, std::string_view) {
      long_first = Clock::now();
      return true;
    };
    cb.on_done = [&](const RequestResult& result) {
      counter.end(result);
      for (RequestId id : stream_ids) scheduler.cancel(id);
    };
    long_submitted = Clock::now();
    long_id = scheduler.submit(std::move(r), std::move(cb));
    if (!long_id) {
      for (RequestId id : stream_ids) scheduler.cancel(id);
    }
  };

  std::mutex ids_mutex;
  std::unique_lock<std::mutex> ids_lock(ids_mutex);  // held until every stream is submitted
  for (int64_t i = 0; i < k; ++i) {
    Request r;
    r.prompt = random_tokens(config.n_prompt, tokenizer.n_vocab(), tokenizer.bos_id(),
                             config.seed + i);
    r.options = greedy(-1);  // until cancelled (or the context is full)
    RequestCallbacks cb;
    cb.on_token = [&, i](const GeneratedToken&, std::string_view) {
      std::vector<Clock::time_point>& t = times[static_cast<size_t>(i)];
      t.push_back(Clock::now());
      if (static_cast<int64_t>(t.size()) == kWarmTokens && ++warm_streams == k && !long_sent) {
        long_sent = true;
        std::lock_guard<std::mutex> wait_for_ids(ids_mutex);
        submit_long();
      }
      return true;
    };
    cb.on_done = [&](const RequestResult& result) { counter.end(result); };
    Result<RequestId> id = scheduler.submit(std::move(r), std::move(cb));
    if (!id) return Error{id.message()};
    stream_ids.push_back(*id);
  }
  ids_lock.unlock();
  counter.wait(k + 1);
  if (!long_id) return Error{long_id.message()};
  if (!counter.error.empty()) return Error{counter.error};

  StallRun run;
  run.streams = k;
  run.n_long = n_long;
  run.chunk = config.prefill_chunk;
  run.long_ttft_ms = ms(long_first - long_submitted);
  std::vector<double> before, during;
  for (const auto& t : times) {
    for (size_t j = 1; j < t.size(); ++j) {
      const double gap = ms(t[j] - t[j - 1]);
      if (t[j] <= long_submitted) {
        before.push_back(gap);
      } else if (t[j - 1] < long_first) {
        during.push_back(gap);
        run.max_gap_ms = std::max(run.max_gap_ms, gap);
      }
    }
  }
  run.steady_gap_ms = percentile(before, 0.5);
  run.prefill_gap_ms = percentile(during, 0.5);
  return run;
}

}  // namespace cove::runtime
