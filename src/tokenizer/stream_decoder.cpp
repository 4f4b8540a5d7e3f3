#include "tokenizer/stream_decoder.h"

#include "tokenizer/utf8.h"

namespace cove::tokenizer {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space)
    : tokenizer_(tokenizer),
      strip_space_(strip_leading_space && tokenizer.strips_leading_space()) {}

std::string StreamDecoder::push(int32_t id) {
  std::string_view piece = tokenizer_.token_piece_view(id);
  if (piece.empty()) return {};
  if (strip_space_ && piece.front() == ' ') piece.remove_prefix(1);
  strip_space_ = false;
  pending_.append(piece);
  return take_complete(/*at_end=*/false);
}

std::string StreamDecoder::flush() {
  return take_complete(/*at_end=*/true);
}

std::string StreamDecoder::take_complete(bool at_end) {
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const Utf8Char c = decode_utf8(pending_, pos);
    if (c.status == Utf8Status::kTruncated && !at_end) break;  // wait for the rest
    if (c.status == Utf8Status::kValid) {
      out.append(pending_, pos, c.length);
    } else {
      out.append(kReplacementChar);
    }
    pos += c.length;
  }
  pending_.erase(0, pos);
  return out;
}

}  // namespace cove::tokenizer
