// Per-sequence decoding state shared by generate() and the Scheduler: from one step's logits to
// the next token and the text it completes.
//
// Each step samples a token (grammar-masked when the request has a grammar), records its
// log-probability, and pushes it through a streaming UTF-8 decoder. Text is released as soon as
// it is complete UTF-8 and cannot be the start of a stop string; a stop string ends the sequence
// and is never released. The forward pass is not done here: the caller feeds the returned token
// back to the model (one sequence in generate(), a batch of many in the Scheduler).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/grammar.h"
#include "runtime/sampler.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace cove::runtime {

struct GenerateOptions;
struct GeneratedToken;

class SequenceDecoder {
 public:
  enum class Outcome {
    kContinue,  // feed the token and call step() again
    kStop,      // end of generation, a stop string, or the grammar is complete
    kError,     // the grammar allows no token and cannot end (error() says so)
  };

  struct Step {
    Outcome outcome = Outcome::kContinue;
    // Text this token completed, already appended to text(). Valid until the next call.
    std::string_view text;
  };

  // `vocab` must outlive the decoder and is needed only with a grammar.
  SequenceDecoder(const tokenizer::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                  const GenerateOptions& options, const Grammar* grammar = nullptr,
                  const TokenTrie* vocab = nullptr);

  // Picks the next token from this step's raw logits (n_vocab floats) and fills `token`.
  Step step(const float* logits, GeneratedToken& token);

  // The text still held back (an incomplete UTF-8 character, a possible stop-string start),
  // released when the sequence ends for a reason other than a stop string (empty after one).
  // Appended to text(). Not called when the caller abandons the text (a callback said stop).
  std::string_view finish();

  const std::string& text() const { return text_; }
  int64_t n_generated() const { return n_generated_; }
  const std::string& error() const { return error_; }

 private:
  // Releases the first n pending bytes into text_; returns them.
  std::string_view release(size_t n);

  const tokenizer::Tokenizer& tokenizer_;
  int64_t n_vocab_;
  bool ignore_eos_;
  int n_logprobs_;
  bool logprob_;
  std::vector<std::string> stops_;
  Sampler sampler_;
  std::vector<int32_t> history_;  // prompt + generated, for the penalties
  tokenizer::StreamDecoder stream_;
  std::string pending_;   // decoded, not yet released
  std::string text_;      // released so far
  size_t released_at_ = 0;  // where the last release starts in text_
  int64_t n_generated_ = 0;
  bool text_done_ = false;  // a stop string (or an error) ended the text: nothing to flush
  std::string error_;

  // Grammar-constrained decoding.
  const TokenTrie* vocab_ = nullptr;
  std::optional<GrammarMatcher> matcher_;
  std::vector<uint8_t> mask_;
  std::vector<float> masked_logits_;
};

}  // namespace cove::runtime
