#include "runtime/generator.h"

#include <algorithm>

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

Result<Generation> generate(model::Transformer& transformer, const tokenizer::Tokenizer& tok,
                            std::span<const int32_t> prompt, const GenerateOptions& options,
                            const TextCallback& on_text) {
  Generation out;
  if (prompt.empty()) return Error{"the prompt has no tokens"};
  const int64_t n_vocab = transformer.model().config().n_vocab;
  std::vector<float> logits;
  transformer.truncate(0);
  if (Status s = transformer.eval(prompt, false, logits); !s) return Error{s.message()};

  std::vector<std::string> stops;
  for (const std::string& s : options.stop) {
    if (!s.empty()) stops.push_back(s);
  }
  Sampler sampler(options.sampling, n_vocab);
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  const bool after_bos = prompt.size() == 1 && prompt[0] == tok.bos_id();
  tokenizer::StreamDecoder decoder(tok, after_bos);
  std::string pending;  // decoded text not yet emitted (could begin a stop string)
  bool text_done = false;  // a stop string or the callback ended the text
  out.finish = FinishReason::kLength;

  auto emit = [&](size_t n) -> bool {
    if (n == 0) return true;
    std::string_view piece(pending.data(), n);
    out.text.append(piece);
    bool keep_going = !on_text || on_text(piece);
    pending.erase(0, n);
    return keep_going;
  };

  int64_t limit = options.max_tokens < 0 ? transformer.n_ctx() : options.max_tokens;
  for (int64_t step = 0; step < limit; ++step) {
    const int32_t id = sampler.sample(logits.data(), history);
    GeneratedToken g;
    g.id = id;
    g.text = tok.token_piece(id);
    g.logprob = token_logprob(logits.data(), n_vocab, id);
    if (options.n_logprobs > 0) g.top = top_logprobs(logits.data(), n_vocab, options.n_logprobs);
    out.tokens.push_back(std::move(g));
    history.push_back(id);

    if (!options.ignore_eos && tok.is_end_of_generation(id)) {
      out.finish = FinishReason::kStop;
      break;
    }
    pending += decoder.push(id);
    // A stop string ends generation; text before it is emitted, the rest dropped.
    size_t stop_at = std::string::npos;
    for (const std::string& s : stops) stop_at = std::min(stop_at, pending.find(s));
    if (stop_at != std::string::npos) {
      emit(stop_at);
      pending.clear();
      out.finish = FinishReason::kStop;
      text_done = true;
      break;
    }
    if (!emit(pending.size() - held_back(pending, stops))) {
      out.finish = FinishReason::kStop;
      text_done = true;
      break;
    }
    if (step + 1 == limit) break;
    if (transformer.n_past() >= transformer.n_ctx()) break;  // context full
    const int32_t next[1] = {id};
    if (Status s = transformer.eval(next, false, logits); !s) return Error{s.message()};
  }
  if (!text_done) {
    pending += decoder.flush();
    emit(pending.size());
  }
  return out;
}

}  // namespace cove::runtime
