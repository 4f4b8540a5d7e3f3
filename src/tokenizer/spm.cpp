#include "tokenizer/spm.h"

#include <algorithm>
#include <cstdio>

#include "tokenizer/utf8.h"

namespace cove::tokenizer {

namespace {

// A run of the text in the doubly linked list of live symbols; length 0 marks a symbol that
// was merged into its left neighbour.
struct Symbol {
  uint32_t start;
  uint32_t length;
  int32_t prev;
  int32_t next;
};

// Merging symbols `left` and `right` (adjacent when pushed) would make a token with `score`.
// `length` is their combined length then; if either has changed since, the candidate is stale.
struct Candidate {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;
};

// For std::push_heap / pop_heap (a max-heap): the highest score, then the leftmost pair, on top.
bool candidate_before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score < b.score;
  return a.left > b.left;
}

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁'

// Whether every '▁' inside `text` starts it or follows another '▁'.
bool space_markers_only_lead(std::string_view text) {
  for (size_t k = text.find(kSpaceMarker, 1); k != std::string_view::npos;
       k = text.find(kSpaceMarker, k + 1)) {
    if (k < kSpaceMarker.size() ||
        text.substr(k - kSpaceMarker.size(), kSpaceMarker.size()) != kSpaceMarker) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct SpmEncoder::Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

SpmEncoder::SpmEncoder(const Vocab& vocab, int32_t unknown_id)
    : vocab_(vocab), unknown_id_(unknown_id) {
  has_all_byte_tokens_ = true;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_tokens_[b] = vocab_.find(name);
    if (byte_tokens_[b] < 0) has_all_byte_tokens_ = false;
  }
  splits_at_word_starts_ = true;
  for (int32_t id = 0; id < vocab_.size() && splits_at_word_starts_; ++id) {
    if (mergeable_id(vocab_.text(id)) == id) {
      splits_at_word_starts_ = space_markers_only_lead(vocab_.text(id));
    }
  }
}

int32_t SpmEncoder::mergeable_id(std::string_view text) const {
  const int32_t id = vocab_.find(text);
  if (id < 0) return -1;
  const TokenType type = vocab_.type(id);
  const bool mergeable = type == TokenType::kNormal || type == TokenType::kUserDefined ||
                         type == TokenType::kUndefined;
  return mergeable ? id : -1;
}

void SpmEncoder::emit_fallback(std::string_view text, std::vector<int32_t>& out) const {
  bool bytes_known = true;
  if (!has_all_byte_tokens_) {
    for (char c : text) bytes_known = bytes_known && byte_tokens_[static_cast<uint8_t>(c)] >= 0;
  }
  if (bytes_known) {
    for (char c : text) out.push_back(byte_tokens_[static_cast<uint8_t>(c)]);
  } else if (unknown_id_ >= 0) {
    out.push_back(unknown_id_);
  }
}

void SpmEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  Scratch scratch;
  if (!splits_at_word_starts_) {
    encode_segment(text, scratch, out);
    return;
  }
  // Cut before every '▁' that follows something other than '▁'.
  size_t start = 0;
  for (size_t k = text.find(kSpaceMarker, 1); k != std::string_view::npos;
       k = text.find(kSpaceMarker, k + 1)) {
    const bool follows_marker =
        k >= start + kSpaceMarker.size() &&
        text.substr(k - kSpaceMarker.size(), kSpaceMarker.size()) == kSpaceMarker;
    if (follows_marker) continue;
    encode_segment(text.substr(start, k - start), scratch, out);
    start = k;
  }
  encode_segment(text.substr(start), scratch, out);
}

void SpmEncoder::encode_segment(std::string_view text, Scratch& scratch,
                                std::vector<int32_t>& out) const {
  if (text.empty()) return;

  // One symbol per character; an invalid sequence is a symbol of its own (it will not be in
  // the vocab, so its bytes fall back to byte tokens).
  std::vector<Symbol>& symbols = scratch.symbols;
  symbols.clear();
  for (size_t pos = 0; pos < text.size();) {
    const uint32_t length = decode_utf8(text, pos).length;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), length, index - 1, index + 1});
    pos += length;
  }
  symbols.back().next = -1;

  const size_t max_length = vocab_.max_text_length();
  std::vector<Candidate>& heap = scratch.heap;
  heap.clear();
  const auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t length = symbols[left].length + symbols[right].length;
    if (length > max_length) return;
    const int32_t id = mergeable_id(text.substr(symbols[left].start, length));
    if (id < 0) return;
    heap.push_back({vocab_.score(id), left, right, length});
    std::push_heap(heap.begin(), heap.end(), candidate_before);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_pair(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), candidate_before);
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != c.length) {
      continue;  // stale: one side has merged with something else since
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    try_pair(left.prev, c.left);
    try_pair(c.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].start, symbols[i].length);
    const int32_t id = mergeable_id(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      emit_fallback(piece, out);
    }
  }
}

}  // namespace cove::tokenizer
