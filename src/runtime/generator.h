// Text generation for one sequence: prompt prefill, then sample-decode until a stop condition.
//
// Text streams out through a callback as soon as it is complete UTF-8 and cannot be the start
// of a stop string; the stop string itself is never emitted.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/transformer.h"
#include "runtime/sampler.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace cove::runtime {

enum class FinishReason { kStop, kLength };

struct GenerateOptions {
  int64_t max_tokens = 256;  // < 0: until the context is full
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings
  bool ignore_eos = false;
  int n_logprobs = 0;  // top entries to record per token (0: only the chosen token's)
  // Record each chosen token's log-probability (a pass over the vocabulary per token); false
  // leaves GeneratedToken::logprob at 0 unless n_logprobs > 0.
  bool logprob = true;
};

struct GeneratedToken {
  int32_t id = 0;
  std::string text;  // this token's piece (raw bytes; may be part of a UTF-8 character)
  float logprob = 0;  // log softmax of the raw logits
  std::vector<TokenLogprob> top;
};

struct Generation {
  std::vector<GeneratedToken> tokens;
  std::string text;  // the continuation as emitted (stop string excluded)
  FinishReason finish = FinishReason::kLength;
};

// Called with each new piece of text; return false to stop early.
using TextCallback = std::function<bool(std::string_view)>;

Result<Generation> generate(model::Transformer& transformer, const tokenizer::Tokenizer& tokens,
                            std::span<const int32_t> prompt, const GenerateOptions& options,
                            const TextCallback& on_text = nullptr);

}  // namespace cove::runtime
