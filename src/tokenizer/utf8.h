// UTF-8 decoding that never trusts its input.
//
// Tokenizers see arbitrary bytes (user prompts, fuzzers, half-generated text), so every decoder
// here reports how a sequence went wrong instead of assuming it is valid. Invalid input is
// reported with the length of its "maximal subpart" (Unicode 15, section 3.9): the longest
// prefix that could still have begun a valid sequence, which is what one U+FFFD replaces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cove::tokenizer {

enum class Utf8Status : uint8_t {
  kValid,      // a complete, well-formed sequence
  kInvalid,    // cannot become valid; `length` bytes form one replacement unit
  kTruncated,  // a well-formed prefix that ran into the end of the text
};

struct Utf8Char {
  char32_t code_point = 0;  // meaningful only when status is kValid
  uint32_t length = 1;      // bytes consumed (>= 1 whenever pos < text.size())
  Utf8Status status = Utf8Status::kValid;
};

// Decodes the sequence starting at text[pos]; pos must be < text.size().
Utf8Char decode_utf8(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of `code_point` (which must be a scalar value, <= U+10FFFF).
void append_utf8(std::string& out, char32_t code_point);

// True when every byte of `text` belongs to a complete, well-formed sequence.
bool is_valid_utf8(std::string_view text);

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace cove::tokenizer
