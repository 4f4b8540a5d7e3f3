// Token sampling: penalties, top-k, top-p, min-p, temperature, and a seeded random draw.
//
// The order follows common practice: penalties on the raw logits, then the truncations
// (top-k, top-p, min-p, each on the distribution of the logits as they stand), then the
// temperature, then a draw. temperature <= 0 is greedy (the highest logit after penalties).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace cove::runtime {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;          // <= 0: off
  float top_p = 0.95f;     // >= 1: off
  float min_p = 0.05f;     // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off; divides positive logits, multiplies negative ones
  int repeat_last_n = 64;          // how many recent tokens the penalties look at (-1: all)
  float frequency_penalty = 0.0f;  // minus count * this
  float presence_penalty = 0.0f;   // minus this once present
  uint64_t seed = 0;
};

struct TokenLogprob {
  int32_t id;
  float logprob;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t n_vocab);

  // Picks the next token from raw logits; `history` is every token so far (for penalties).
  int32_t sample(const float* logits, std::span<const int32_t> history);

 private:
  SamplingParams params_;
  int64_t n_vocab_;
  std::mt19937_64 rng_;
  std::vector<float> work_;
  std::vector<int32_t> candidates_;
};

// log softmax of the raw logits: the chosen token's log-probability and the top n entries
// (highest first, ties by lower id).
float token_logprob(const float* logits, int64_t n_vocab, int32_t id);
std::vector<TokenLogprob> top_logprobs(const float* logits, int64_t n_vocab, int n);

}  // namespace cove::runtime
