// Streaming detokenization: text for ids as they are generated, one id at a time.
//
// A token's piece can end in the middle of a UTF-8 character (byte-fallback tokens such as
// <0xF0><0x9F><0xA6><0x99> for an emoji, or a byte-level BPE token holding half a character),
// so the decoder keeps the bytes of an incomplete character until the rest arrives and returns
// only whole characters. Bytes that can never form a character (a stray continuation byte, a
// lead byte followed by a non-continuation) become U+FFFD as soon as that is certain; an
// incomplete character still pending at flush() becomes U+FFFD too.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace cove::tokenizer {

class StreamDecoder {
 public:
  // strip_leading_space: drop the leading space of the first non-empty piece, as decode() does
  // for SentencePiece and WordPiece vocabs (the first generated token after BOS usually starts
  // with '▁'). It has no effect for byte-level BPE, whose leading spaces are real text.
  StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space);

  // The text completed by this token (possibly empty).
  std::string push(int32_t id);
  // The rest: any pending incomplete character as U+FFFD. The decoder can be reused afterwards
  // as if new (the leading-space rule does not apply again).
  std::string flush();

  // Bytes held back because they may be the start of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  // Moves every complete character (and replacements for invalid bytes) from pending_ to the
  // result; at_end also replaces a trailing incomplete character.
  std::string take_complete(bool at_end);

  const Tokenizer& tokenizer_;
  std::string pending_;
  bool strip_space_;
};

}  // namespace cove::tokenizer
