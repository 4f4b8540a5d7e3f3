// Pre-tokenization for byte-level BPE: splitting text into pieces that merges never cross.
//
// A recipe is a sequence of stages. Each stage splits every piece produced by the stage before
// into the stretches its pattern matches and the gaps between matches, keeping both (Hugging
// Face calls this the "Isolated" split behaviour); a gap is never dropped, so concatenating the
// pieces always gives back the input, byte for byte. Most recipes are one regex (GPT-2's,
// Llama 3's, Qwen 2's); some are several in sequence (DeepSeek LLM, Falcon).
//
// Regexes run in PCRE2 with UTF + UCP (so \s, \p{L}, \p{N} follow Unicode) and JIT where the
// library has it. Invalid UTF-8 is allowed: invalid bytes match nothing, so they end up in gaps.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cove::tokenizer {

class PreTokenizer {
 public:
  // The recipe for a tokenizer.ggml.pre value ("gpt-2", "llama-bpe", "qwen2", "deepseek-llm",
  // ...). An unknown name is an Error.
  static Result<PreTokenizer> for_name(std::string_view name);
  // A recipe of plain regex stages, applied in order.
  static Result<PreTokenizer> from_patterns(const std::vector<std::string>& patterns);
  // Every name for_name accepts.
  static std::vector<std::string_view> known_names();

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Replaces `pieces` with the pieces of `text` (views into it), in order.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

  // Whether this recipe's tokenizer looks a whole piece up in the vocab before merging
  // (tiktoken-derived vocabs: Llama 3, Tekken, GPT-4o).
  bool ignore_merges() const { return ignore_merges_; }

 private:
  struct Stage;
  PreTokenizer();
  std::vector<std::unique_ptr<Stage>> stages_;
  bool ignore_merges_ = false;
};

}  // namespace cove::tokenizer
