// The token table shared by every tokenizer model: each id's text, score and type, and the
// reverse look-up from text to id.
//
// GGUF stores it as three parallel arrays (tokenizer.ggml.tokens / scores / token_type), one
// entry per id. Texts are kept in one contiguous buffer.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"

namespace cove::tokenizer {

// The values of tokenizer.ggml.token_type (they follow SentencePiece's piece types).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // <s>, </s>, <|im_end|>: never produced from text unless parsed as special
  kUserDefined = 4,  // added tokens: always matched in text as a whole
  kUnused = 5,
  kByte = 6,  // <0xAB>: SentencePiece byte fallback
};

class Vocab {
 public:
  // Reads tokens (required), scores and token_type (optional; when present their length must
  // match the token count). Errors name the file and the key.
  static Result<Vocab> from_gguf(const gguf::File& file);
  // For tests and tools: scores and types may be empty (0 and kNormal).
  static Result<Vocab> from_tokens(std::vector<std::string_view> texts, std::vector<float> scores,
                                   std::vector<TokenType> types);

  Vocab(Vocab&&) = default;
  Vocab& operator=(Vocab&&) = default;

  int32_t size() const { return static_cast<int32_t>(types_.size()); }
  bool contains(int32_t id) const { return id >= 0 && id < size(); }
  std::string_view text(int32_t id) const {
    return {text_bytes_.data() + text_offsets_[id], text_offsets_[id + 1] - text_offsets_[id]};
  }
  float score(int32_t id) const { return scores_[id]; }
  TokenType type(int32_t id) const { return types_[id]; }
  // The id whose text is exactly `text`, or -1. When a text occurs twice the first id wins:
  // converted vocabs list the model's own tokens before added ones, and an added token may
  // repeat a base token's text (DeepSeek's user-defined "ÿ" is also byte 0xFF's byte-level
  // character), while the model's algorithm must find the base token.
  int32_t find(std::string_view text) const;
  size_t max_text_length() const { return max_text_length_; }

 private:
  Vocab() = default;
  void add(std::string_view text);
  void build_index();

  std::vector<char> text_bytes_;
  std::vector<size_t> text_offsets_{0};  // id's text is [offsets[id], offsets[id + 1])
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  size_t max_text_length_ = 0;

  // Text -> id, open addressing with linear probing. Look-ups sit in the SentencePiece merge
  // loop and run once per candidate pair, so the table is flat (no node per entry, one cache
  // line per probe) and each slot keeps 32 bits of the hash to skip most text comparisons.
  // At most half full.
  struct Slot {
    int32_t id = -1;  // -1: empty
    uint32_t hash_tag = 0;
  };
  std::vector<Slot> index_;
  uint64_t index_mask_ = 0;
};

}  // namespace cove::tokenizer
