// Serving benchmarks through the Scheduler (cove bench --concurrency, --stall-prompt).
//
//   concurrent streams: K greedy requests with random prompts submitted at once; aggregate
//     generated tokens per second (from the first submit to the last end) and the time to
//     first token of each request (p50, p99);
//   prefill stall: K streams decode; a long prompt arrives mid-stream; the longest gap between
//     two tokens of any running stream while that prompt is prefilled, against the gaps before
//     it arrived (one decode step) and the typical gap during the prefill (one step with a
//     chunk).
#pragma once

#include <cstdint>

#include "core/result.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace cove::runtime {

struct ServingBenchConfig {
  int64_t streams = 1;
  int64_t n_prompt = 32;         // per stream (random tokens, BOS first)
  int64_t n_gen = 64;            // per stream
  int64_t prefill_chunk = 256;
  int n_threads = 0;
  uint64_t seed = 1;
};

struct ConcurrencyRun {
  int64_t streams = 0;
  int64_t generated = 0;         // tokens, all streams
  double seconds = 0;            // first submit to last end
  double tokens_per_s = 0;
  double ttft_p50_ms = 0, ttft_p99_ms = 0;
};

Result<ConcurrencyRun> run_concurrent_streams(const model::Model& model,
                                              const tokenizer::Tokenizer& tokenizer,
                                              const ServingBenchConfig& config);

struct StallRun {
  int64_t streams = 0;
  int64_t n_long = 0;            // the long prompt's tokens
  int64_t chunk = 0;
  double steady_gap_ms = 0;      // median gap between a stream's tokens before the long prompt
  double prefill_gap_ms = 0;     // median gap while it is prefilled
  double max_gap_ms = 0;         // longest gap of any stream while it is prefilled
  double long_ttft_ms = 0;       // the long prompt's time to first token
};

// `config.streams` decoding streams; after each has made 16 tokens a prompt of n_long random
// tokens is submitted. The context is sized to hold it.
Result<StallRun> run_prefill_stall(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                   const ServingBenchConfig& config, int64_t n_long);

}  // namespace cove::runtime
