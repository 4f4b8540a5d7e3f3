// SentencePiece-style tokenization for `llama` vocabs: score-ordered merging of adjacent pieces.
//
// The text (already normalized: spaces replaced by U+2581 '▁', the '▁' prefix added) starts as
// one symbol per UTF-8 character. Repeatedly, among all adjacent pairs whose concatenation is a
// vocab token, the pair whose token has the highest score is merged (ties: leftmost pair); a
// priority queue of candidate pairs with lazy invalidation makes this O(n log n). Symbols that
// end up outside the vocab (characters it lacks) become byte tokens <0xAB>, one per UTF-8 byte,
// or the unknown token when the vocab has no byte tokens.
//
// Only normal and user-defined tokens take part in merging: SentencePiece never produces a
// control, unknown, unused or byte piece from text, so "<s>" or "<0x41>" typed by a user stays
// plain text.
//
// Speed: one priority queue over a whole long prompt misses cache on every operation. When no
// mergeable token has a '▁' after some other character (true of Llama's and Phi-3's vocabs:
// '▁' only starts a token or follows another '▁'), no merge can cross the start of a word, so
// each word (a '▁' run and what follows up to the next '▁') is merged on its own with the same
// result, in a small queue.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace cove::tokenizer {

class SpmEncoder {
 public:
  SpmEncoder(const Vocab& vocab, int32_t unknown_id);

  // Appends the ids for `text` (normalized as above) to `out`.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

  // The <0xAB> token for each byte, or -1 where the vocab lacks it.
  const std::array<int32_t, 256>& byte_tokens() const { return byte_tokens_; }

 private:
  struct Scratch;
  void encode_segment(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;
  // The id of `text` if it may be produced by merging, else -1.
  int32_t mergeable_id(std::string_view text) const;
  void emit_fallback(std::string_view text, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  int32_t unknown_id_;
  std::array<int32_t, 256> byte_tokens_;
  bool has_all_byte_tokens_ = false;
  bool splits_at_word_starts_ = false;
};

}  // namespace cove::tokenizer
