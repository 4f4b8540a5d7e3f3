#include "runtime/sequence_decoder.h"

#include <algorithm>
#include <limits>

#include "runtime/generator.h"

namespace cove::runtime {
namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string: that much
// must be held back because the next token might complete the stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

SequenceDecoder::SequenceDecoder(const tokenizer::Tokenizer& tokenizer,
                                 std::span<const int32_t> prompt, const GenerateOptions& options,
                                 const Grammar* grammar, const TokenTrie* vocab)
    : tokenizer_(tokenizer),
      n_vocab_(tokenizer.n_vocab()),
      ignore_eos_(options.ignore_eos),
      n_logprobs_(options.n_logprobs),
      logprob_(options.logprob || options.n_logprobs > 0),
      sampler_(options.sampling, tokenizer.n_vocab()),
      history_(prompt.begin(), prompt.end()),
      stream_(tokenizer, prompt.size() == 1 && prompt[0] == tokenizer.bos_id()) {
  for (const std::string& s : options.stop) {
    if (!s.empty()) stops_.push_back(s);
  }
  if (options.max_tokens > 0) history_.reserve(prompt.size() + options.max_tokens);
  if (grammar != nullptr && vocab != nullptr) {
    vocab_ = vocab;
    matcher_.emplace(*grammar);
    mask_.reserve(vocab->n_tokens());
    masked_logits_.resize(static_cast<size_t>(n_vocab_));
  }
}

std::string_view SequenceDecoder::release(size_t n) {
  released_at_ = text_.size();
  text_.append(pending_, 0, n);
  pending_.erase(0, n);
  return std::string_view(text_).substr(released_at_);
}

SequenceDecoder::Step SequenceDecoder::step(const float* logits, GeneratedToken& token) {
  const float* sample_from = logits;
  if (matcher_) {
    // Disallowed tokens get -inf so that no sampler setting can pick them.
    matcher_->allowed_tokens(*vocab_, mask_);
    bool any = false;
    const size_t n = std::min(mask_.size(), masked_logits_.size());
    for (size_t i = 0; i < masked_logits_.size(); ++i) {
      const bool allowed = i < n && mask_[i] != 0;
      masked_logits_[i] = allowed ? logits[i] : -std::numeric_limits<float>::infinity();
      any = any || allowed;
    }
    if (!any) {
      error_ = "the grammar allows no token after \"" + text_ + pending_ + "\"";
      text_done_ = true;
      return {Outcome::kError, {}};
    }
    sample_from = masked_logits_.data();
  }
  int32_t id = sampler_.sample(sample_from, history_);
  if (matcher_ && !(static_cast<size_t>(id) < mask_.size() && mask_[static_cast<size_t>(id)])) {
    // Only reachable through rounding in the draw: fall back to the best allowed token.
    id = static_cast<int32_t>(std::max_element(masked_logits_.begin(), masked_logits_.end()) -
                              masked_logits_.begin());
  }
  token.id = id;
  token.text = tokenizer_.token_piece(id);
  token.logprob = logprob_ ? token_logprob(logits, n_vocab_, id) : 0.0f;
  token.top.clear();
  if (n_logprobs_ > 0) token.top = top_logprobs(logits, n_vocab_, n_logprobs_);
  history_.push_back(id);
  ++n_generated_;

  if (!ignore_eos_ && tokenizer_.is_end_of_generation(id)) return {Outcome::kStop, {}};
  bool grammar_complete = false;
  if (matcher_) {
    if (!matcher_->accept_token(*vocab_, id)) {
      error_ = "the grammar rejected token " + std::to_string(id) + ": " + matcher_->last_error();
      text_done_ = true;
      return {Outcome::kError, {}};
    }
    grammar_complete = matcher_->is_complete();
  }

  pending_ += stream_.push(id);
  // A stop string ends generation; text before it is released, the rest dropped.
  size_t stop_at = std::string::npos;
  for (const std::string& s : stops_) stop_at = std::min(stop_at, pending_.find(s));
  if (stop_at != std::string::npos) {
    std::string_view text = release(stop_at);
    pending_.clear();
    text_done_ = true;
    return {Outcome::kStop, text};
  }
  std::string_view text = release(pending_.size() - held_back(pending_, stops_));
  return {grammar_complete ? Outcome::kStop : Outcome::kContinue, text};
}

std::string_view SequenceDecoder::finish() {
  if (text_done_) return {};
  text_done_ = true;
  pending_ += stream_.flush();
  return release(pending_.size());
}

}  // namespace cove::runtime
