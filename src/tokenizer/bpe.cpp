#include "tokenizer/bpe.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace cove::tokenizer {

// ---------------------------------------------------------------------------------------------
// The byte-to-unicode mapping

namespace {

bool maps_to_itself(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteLevelTable {
  std::array<std::string, 256> chars;  // UTF-8 of each byte's character
  std::array<char32_t, 256> code_points;

  ByteLevelTable() {
    char32_t next_shifted = 0x100;
    for (int b = 0; b < 256; ++b) {
      code_points[b] = maps_to_itself(b) ? static_cast<char32_t>(b) : next_shifted++;
      append_utf8(chars[b], code_points[b]);
    }
  }

  // The byte a mapped code point stands for, or -1.
  int byte_of(char32_t cp) const {
    if (cp < 0x100) return maps_to_itself(static_cast<int>(cp)) ? static_cast<int>(cp) : -1;
    if (cp < 0x100 + 68) {
      // The shifted code points were handed out in byte order to the non-printable bytes.
      int index = static_cast<int>(cp - 0x100);
      for (int b = 0; b < 256; ++b) {
        if (!maps_to_itself(b) && index-- == 0) return b;
      }
    }
    return -1;
  }
};

const ByteLevelTable& byte_level_table() {
  static const ByteLevelTable table;
  return table;
}

// Decoding looks up every character of every token, so the reverse map is a flat table over
// the only code points that can appear (U+0000..U+0143).
struct ReverseByteLevelTable {
  std::array<int16_t, 0x100 + 68> bytes;
  ReverseByteLevelTable() {
    const ByteLevelTable& table = byte_level_table();
    for (size_t cp = 0; cp < bytes.size(); ++cp) {
      bytes[cp] = static_cast<int16_t>(table.byte_of(static_cast<char32_t>(cp)));
    }
  }
};

const ReverseByteLevelTable& reverse_byte_level_table() {
  static const ReverseByteLevelTable table;
  return table;
}

}  // namespace

std::string_view byte_level_char(uint8_t b) {
  return byte_level_table().chars[b];
}

void append_byte_level_decoded(std::string_view text, std::string& out) {
  const ReverseByteLevelTable& reverse = reverse_byte_level_table();
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    const int byte = c.status == Utf8Status::kValid && c.code_point < reverse.bytes.size()
                         ? reverse.bytes[c.code_point]
                         : -1;
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(text.substr(pos, c.length));
    }
    pos += c.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Merging

namespace {

// Merging symbol `left` with the symbol after it (token ids left_id and right_id when pushed)
// has `rank` and makes token result_id.
struct Candidate {
  int32_t rank;
  int32_t left;
  int32_t left_id;
  int32_t right_id;
  int32_t result_id;
};

// For std::push_heap / pop_heap (a max-heap): the lowest rank, then the leftmost pair, on top.
bool candidate_after(const Candidate& a, const Candidate& b) {
  if (a.rank != b.rank) return a.rank > b.rank;
  return a.left > b.left;
}

}  // namespace

struct BpeEncoder::Scratch {
  std::vector<std::string_view> pieces;
  std::vector<int32_t> ids;   // token id per symbol; a merged-away symbol keeps a stale id
  std::vector<int32_t> next;  // next live symbol, -1 at the end; -2 marks a merged-away symbol
  std::vector<int32_t> prev;
  std::vector<Candidate> heap;
  std::string mapped;
};

BpeEncoder::BpeEncoder(const Vocab& vocab, PreTokenizer pre_tokenizer, int32_t unknown_id)
    : vocab_(vocab), pre_tokenizer_(std::move(pre_tokenizer)), unknown_id_(unknown_id) {
  // Only the model's own tokens stand for bytes. DeepSeek's vocab, for one, has user-defined
  // tokens "ÿ", "þ", ... with the texts of bytes that never occur in UTF-8; they decode as that
  // text, so using them for the bytes would not give the bytes back.
  for (int b = 0; b < 256; ++b) {
    const int32_t id = vocab_.find(byte_level_char(b));
    const bool own = id >= 0 && (vocab_.type(id) == TokenType::kNormal ||
                                 vocab_.type(id) == TokenType::kUndefined);
    byte_ids_[b] = own ? id : -1;
  }
}

Result<std::unique_ptr<BpeEncoder>> BpeEncoder::create(const Vocab& vocab,
                                                       std::span<const std::string_view> merges,
                                                       PreTokenizer pre_tokenizer,
                                                       int32_t unknown_id) {
  std::unique_ptr<BpeEncoder> encoder(new BpeEncoder(vocab, std::move(pre_tokenizer), unknown_id));
  int bits = 4;
  while ((size_t{1} << bits) < 2 * merges.size()) ++bits;
  encoder->merges_.assign(size_t{1} << bits, Merge{});
  encoder->merge_mask_ = (uint64_t{1} << bits) - 1;
  encoder->merge_shift_ = 64 - bits;
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string_view entry = merges[rank];
    // The separator is the first space after the first byte, so a left part that is itself a
    // space (vocabs that are not byte-level) still parses.
    const size_t space = entry.size() < 2 ? std::string_view::npos : entry.find(' ', 1);
    if (space == std::string_view::npos || space + 1 >= entry.size()) {
      return Error{"entry " + std::to_string(rank) + " ('" + std::string(entry.substr(0, 64)) +
                   "') is not two tokens separated by a space"};
    }
    const std::string_view left = entry.substr(0, space);
    const std::string_view right = entry.substr(space + 1);
    joined.assign(left);
    joined.append(right);
    const int32_t left_id = vocab.find(left);
    const int32_t right_id = vocab.find(right);
    const int32_t result_id = vocab.find(joined);
    if (left_id < 0 || right_id < 0 || result_id < 0) continue;
    // A repeated pair keeps its first (best) rank.
    const uint64_t pair = pair_key(left_id, right_id);
    uint64_t slot = encoder->slot_of(pair);
    while (encoder->merges_[slot].pair != kEmptyPair && encoder->merges_[slot].pair != pair) {
      slot = (slot + 1) & encoder->merge_mask_;
    }
    if (encoder->merges_[slot].pair == kEmptyPair) {
      encoder->merges_[slot] = {pair, static_cast<int32_t>(rank), result_id};
      ++encoder->n_merges_;
    }
  }
  return encoder;
}

void BpeEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  Scratch scratch;
  pre_tokenizer_.split(text, scratch.pieces);
  for (std::string_view piece : scratch.pieces) encode_piece(piece, scratch, out);
}

void BpeEncoder::encode_piece(std::string_view piece, Scratch& s, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (pre_tokenizer_.ignore_merges()) {
    // tiktoken-derived vocabs: a piece that is itself a token is that token.
    s.mapped.clear();
    for (char c : piece) s.mapped.append(byte_level_char(static_cast<uint8_t>(c)));
    const int32_t id = vocab_.find(s.mapped);
    if (id >= 0 && vocab_.type(id) == TokenType::kNormal) {
      out.push_back(id);
      return;
    }
  }

  const auto n = static_cast<int32_t>(piece.size());
  s.ids.resize(n);
  s.next.resize(n);
  s.prev.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    s.ids[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }

  s.heap.clear();
  const auto try_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = s.next[left];
    if (right < 0 || s.ids[left] < 0 || s.ids[right] < 0) return;
    const Merge* merge = find_merge(s.ids[left], s.ids[right]);
    if (!merge) return;
    s.heap.push_back({merge->rank, left, s.ids[left], s.ids[right], merge->result});
    std::push_heap(s.heap.begin(), s.heap.end(), candidate_after);
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_pair(i);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), candidate_after);
    const Candidate c = s.heap.back();
    s.heap.pop_back();
    // Stale when the left symbol was merged away, or either side's token has changed: ids only
    // ever grow into longer tokens, so equal ids mean the same two symbols.
    const int32_t right = s.next[c.left];
    if (right < 0 || s.ids[c.left] != c.left_id || s.ids[right] != c.right_id) continue;
    s.ids[c.left] = c.result_id;
    s.next[c.left] = s.next[right];
    if (s.next[right] >= 0) s.prev[s.next[right]] = c.left;
    s.next[right] = -2;
    try_pair(s.prev[c.left]);
    try_pair(c.left);
  }

  for (int32_t i = 0; i >= 0; i = s.next[i]) {
    if (s.ids[i] >= 0) {
      out.push_back(s.ids[i]);
    } else if (unknown_id_ >= 0) {
      out.push_back(unknown_id_);
    }
  }
}

}  // namespace cove::tokenizer
