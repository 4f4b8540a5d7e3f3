#include "tokenizer/utf8.h"

namespace cove::tokenizer {

Utf8Char decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {lead, 1, Utf8Status::kValid};

  // The well-formed table: the lead byte fixes the length and the allowed range of the second
  // byte (narrowed for E0, ED, F0 and F4 to exclude overlongs, surrogates and > U+10FFFF);
  // every later byte is a plain continuation 80..BF.
  uint32_t length = 0;
  uint8_t second_lo = 0x80, second_hi = 0xBF;
  char32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
    if (lead == 0xE0) second_lo = 0xA0;
    if (lead == 0xED) second_hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
    if (lead == 0xF0) second_lo = 0x90;
    if (lead == 0xF4) second_hi = 0x8F;
  } else {
    return {0, 1, Utf8Status::kInvalid};  // 80..C1 and F5..FF never start a sequence
  }

  for (uint32_t i = 1; i < length; ++i) {
    if (pos + i >= text.size()) {
      return {0, static_cast<uint32_t>(text.size() - pos), Utf8Status::kTruncated};
    }
    const uint8_t b = byte(pos + i);
    const uint8_t lo = i == 1 ? second_lo : 0x80;
    const uint8_t hi = i == 1 ? second_hi : 0xBF;
    if (b < lo || b > hi) return {0, i, Utf8Status::kInvalid};
    code_point = (code_point << 6) | (b & 0x3F);
  }
  return {code_point, length, Utf8Status::kValid};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    if (c.status != Utf8Status::kValid) return false;
    pos += c.length;
  }
  return true;
}

}  // namespace cove::tokenizer
