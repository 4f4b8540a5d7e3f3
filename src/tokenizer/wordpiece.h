// WordPiece for `bert` vocabs (BERT, BGE, MiniLM, ...).
//
// Normalization and word splitting follow BERT's basic tokenizer:
//   - drop NUL, U+FFFD and control / format / unassigned characters (tab, newline and carriage
//     return count as whitespace, not control); every whitespace character separates words;
//   - CJK ideographs become words of their own;
//   - for an uncased vocab: canonical decomposition (NFD), drop nonspacing marks (Mn), lowercase;
//   - every punctuation character (Unicode P*, plus the ASCII symbols $ + < = > ^ ` | ~) is a
//     word of its own.
// Each word is then cut greedily, longest vocab match first, from its start; a word of more than
// 100 characters, or one with a position where nothing matches, becomes the unknown token.
//
// GGUF vocabs mark word boundaries one of two ways, and both are handled: converted BERT vocabs
// store word-initial pieces with a '▁' prefix and continuation pieces bare ("▁play", "ing");
// original BERT vocabs store word-initial pieces bare and continuations with "##".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace cove::tokenizer {

class WordPieceEncoder {
 public:
  enum class Marking {
    kWordStartPrefix,     // "▁word", "piece"
    kContinuationPrefix,  // "word", "##piece"
  };

  // Detects the marking from the vocab (which prefix its tokens use), and whether the vocab is
  // uncased (no normal token contains an ASCII capital), which turns on lowercasing.
  WordPieceEncoder(const Vocab& vocab, int32_t unknown_id);

  void encode(std::string_view text, std::vector<int32_t>& out) const;

  Marking marking() const { return marking_; }
  bool lowercases() const { return lowercase_; }

 private:
  void split_words(std::string_view text, std::string& normalized,
                   std::vector<std::string_view>& words) const;
  void encode_word(std::string_view word, std::string& candidate, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  int32_t unknown_id_;
  Marking marking_ = Marking::kWordStartPrefix;
  bool lowercase_ = true;
};

}  // namespace cove::tokenizer
