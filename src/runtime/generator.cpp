#include "runtime/generator.h"

#include <algorithm>

#include "runtime/sequence_decoder.h"

namespace cove::runtime {

Result<Generation> generate(model::Transformer& transformer, const tokenizer::Tokenizer& tok,
                            std::span<const int32_t> prompt, const GenerateOptions& options,
                            const TextCallback& on_text) {
  Generation out;
  if (prompt.empty()) return Error{"the prompt has no tokens"};
  std::vector<float> logits;
  transformer.truncate(0);
  if (Status s = transformer.eval(prompt, false, logits); !s) return Error{s.message()};

  SequenceDecoder decoder(tok, prompt, options);
  bool text_done = false;  // the callback ended the text
  out.finish = FinishReason::kLength;
  auto emit = [&](std::string_view piece) {
    return piece.empty() || !on_text || on_text(piece);
  };

  int64_t limit = options.max_tokens < 0 ? transformer.n_ctx() : options.max_tokens;
  for (int64_t step = 0; step < limit; ++step) {
    GeneratedToken g;
    const SequenceDecoder::Step next = decoder.step(logits.data(), g);
    const int32_t id = g.id;
    out.tokens.push_back(std::move(g));
    if (!emit(next.text)) {
      out.finish = FinishReason::kStop;
      text_done = true;
      break;
    }
    if (next.outcome != SequenceDecoder::Outcome::kContinue) {
      out.finish = FinishReason::kStop;
      break;
    }
    if (step + 1 == limit) break;
    if (transformer.n_past() >= transformer.n_ctx()) break;  // context full
    const int32_t feed[1] = {id};
    if (Status s = transformer.eval(feed, false, logits); !s) return Error{s.message()};
  }
  if (!text_done) emit(decoder.finish());
  out.text = decoder.text();
  return out;
}

}  // namespace cove::runtime
