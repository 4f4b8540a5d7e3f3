#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "kernels/ops.h"

namespace cove::runtime {

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  work_.resize(static_cast<size_t>(n_vocab));
  candidates_.reserve(static_cast<size_t>(n_vocab));
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history) {
  const bool penalize = (params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                         params_.presence_penalty != 0.0f) &&
                        !history.empty();
  if (params_.temperature <= 0.0f && !penalize) {
    // Greedy on the raw logits: the first of the highest, without a copy.
    return static_cast<int32_t>(kernels::argmax(logits, n_vocab_));
  }
  std::copy(logits, logits + n_vocab_, work_.begin());

  // Penalties over the recent window.
  if (penalize) {
    size_t window = history.size();
    if (params_.repeat_last_n >= 0) window = std::min(window, size_t(params_.repeat_last_n));
    std::unordered_map<int32_t, int> counts;
    for (size_t i = history.size() - window; i < history.size(); ++i) ++counts[history[i]];
    for (const auto& [id, count] : counts) {
      if (id < 0 || id >= n_vocab_) continue;
      float& l = work_[static_cast<size_t>(id)];
      l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
      l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
    }
  }

  if (params_.temperature <= 0.0f) {
    // Greedy: the first of the highest logits.
    return static_cast<int32_t>(kernels::argmax(work_.data(), n_vocab_));
  }

  // Candidates sorted by logit, highest first (ties by lower id, so runs are reproducible).
  candidates_.resize(static_cast<size_t>(n_vocab_));
  std::iota(candidates_.begin(), candidates_.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) {
    return work_[a] != work_[b] ? work_[a] > work_[b] : a < b;
  };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);

  // Probabilities of the kept candidates before temperature, for top-p and min-p.
  const float max_logit = work_[candidates_[0]];
  std::vector<double> probs(keep);
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp(static_cast<double>(work_[candidates_[i]]) - max_logit);
    total += probs[i];
  }
  if (params_.top_p < 1.0f) {
    double cumulative = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    // probs[0] is the largest; keep those at least min_p times as likely.
    size_t n = 1;
    while (n < keep && probs[n] >= params_.min_p * probs[0]) ++n;
    keep = n;
  }

  // Temperature, then a draw from the renormalized distribution.
  std::vector<double> weights(keep);
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    weights[i] = std::exp((static_cast<double>(work_[candidates_[i]]) - max_logit) /
                          params_.temperature);
    sum += weights[i];
  }
  // 53 random bits to a double in [0, 1): the same on every platform, unlike std distributions.
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * sum;
  double cumulative = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += weights[i];
    if (u < cumulative) return candidates_[i];
  }
  return candidates_[keep - 1];
}

namespace {

// log(sum exp(logits - max)). It runs for every generated token (the chosen token's logprob),
// so the exponentials are vectors (kernels::sum_exp: float exp within 1 ulp, summed in
// double), not 100k+ scalar double exps.
double log_sum_exp(const float* logits, int64_t n_vocab, float& max_out) {
  const float max = kernels::max_value(logits, n_vocab);
  max_out = max;
  return std::log(kernels::sum_exp(logits, n_vocab, max));
}

}  // namespace

float token_logprob(const float* logits, int64_t n_vocab, int32_t id) {
  float max = 0;
  const double lse = log_sum_exp(logits, n_vocab, max);
  return static_cast<float>(static_cast<double>(logits[id]) - max - lse);
}

std::vector<TokenLogprob> top_logprobs(const float* logits, int64_t n_vocab, int n) {
  float max = 0;
  const double lse = log_sum_exp(logits, n_vocab, max);
  std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const size_t k = std::min<size_t>(static_cast<size_t>(std::max(n, 0)), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  std::vector<TokenLogprob> out;
  out.reserve(k);
  for (size_t i = 0; i < k; ++i) {
    out.push_back({ids[i], static_cast<float>(static_cast<double>(logits[ids[i]]) - max - lse)});
  }
  return out;
}

}  // namespace cove::runtime
