// Byte-level BPE for `gpt2` vocabs (GPT-2, Llama 3, Qwen, DeepSeek, Falcon, ...).
//
// Vocab texts are not raw bytes: GPT-2 maps every byte to a printable character first (bytes
// that are already printable Latin-1 map to themselves, the other 68 — control bytes, space,
// 0x7F..0xA0, 0xAD — to U+0100.. in order; a space becomes 'Ġ'). Encoding a text fragment:
//   1. the pre-tokenizer splits it into pieces (pre_tokenizer.h);
//   2. each piece starts as one symbol per byte, each symbol the token of its mapped character;
//   3. repeatedly the adjacent pair with the lowest merge rank (its index in
//      tokenizer.ggml.merges) is merged, ties going to the leftmost pair, until no pair has a
//      merge. Merges are keyed by the two token ids, so merging never builds strings.
// A byte whose mapped character is not a normal token of the vocab gives the unknown token, or
// nothing when the vocab has none (what the reference tokenizers do).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace cove::tokenizer {

// The UTF-8 text of byte `b`'s mapped character.
std::string_view byte_level_char(uint8_t b);
// Appends the bytes `text` stands for under the mapping; characters outside the mapping
// (added tokens stored as plain text) are copied unchanged.
void append_byte_level_decoded(std::string_view text, std::string& out);

class BpeEncoder {
 public:
  // `merges` holds "left right" entries in rank order. An entry without the separating space
  // is an Error naming its index; entries whose parts or result are not tokens can never apply
  // and are skipped.
  static Result<std::unique_ptr<BpeEncoder>> create(const Vocab& vocab,
                                                    std::span<const std::string_view> merges,
                                                    PreTokenizer pre_tokenizer, int32_t unknown_id);

  // Appends the ids for a raw text fragment (special tokens already cut out).
  void encode(std::string_view text, std::vector<int32_t>& out) const;

  // Merges usable with this vocab (entries naming unknown tokens are skipped).
  size_t n_merges() const { return n_merges_; }

 private:
  // One merge in a flat open-addressing table keyed by the pair (left id << 32 | right id):
  // the look-up runs for every adjacent pair of every piece.
  struct Merge {
    uint64_t pair = kEmptyPair;
    int32_t rank = 0;
    int32_t result = 0;  // token id of the merged pair
  };
  static constexpr uint64_t kEmptyPair = ~0ull;
  // Reused between the pieces of one encode call.
  struct Scratch;

  BpeEncoder(const Vocab& vocab, PreTokenizer pre_tokenizer, int32_t unknown_id);
  void encode_piece(std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const;
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  uint64_t slot_of(uint64_t pair) const {
    return (pair * 0x9E3779B97F4A7C15ull) >> merge_shift_;  // Fibonacci hashing
  }
  // The merge for a pair of token ids, or null.
  const Merge* find_merge(int32_t left, int32_t right) const {
    const uint64_t pair = pair_key(left, right);
    for (uint64_t slot = slot_of(pair);; slot = (slot + 1) & merge_mask_) {
      const Merge& m = merges_[slot];
      if (m.pair == pair) return &m;
      if (m.pair == kEmptyPair) return nullptr;
    }
  }

  const Vocab& vocab_;
  PreTokenizer pre_tokenizer_;
  int32_t unknown_id_;
  std::array<int32_t, 256> byte_ids_;  // the token of each byte's mapped character, or -1
  std::vector<Merge> merges_;          // at most half full, so probing always ends
  uint64_t merge_mask_ = 0;
  int merge_shift_ = 64;
  size_t n_merges_ = 0;
};

}  // namespace cove::tokenizer
