#include "tokenizer/wordpiece.h"

#include <utf8proc.h>

#include "tokenizer/utf8.h"

namespace cove::tokenizer {

namespace {

constexpr std::string_view kWordStartPrefix = "\xE2\x96\x81";  // U+2581 '▁'
constexpr std::string_view kContinuationPrefix = "##";
constexpr size_t kMaxCharsPerWord = 100;

utf8proc_category_t category(char32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

// Whitespace as BERT sees it after dropping control characters: tab, newline, carriage return
// and the space separators. (Vertical tab, form feed and U+0085 are control characters there,
// so they are dropped rather than separating words.)
bool is_whitespace(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return true;
  const utf8proc_category_t c = category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

// Control, format, surrogate, private-use and unassigned characters: removed from the text.
bool is_dropped_other(char32_t cp) {
  const utf8proc_category_t c = category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CS ||
         c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CN;
}

bool is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  const utf8proc_category_t c = category(cp);
  return c == UTF8PROC_CATEGORY_PC || c == UTF8PROC_CATEGORY_PD || c == UTF8PROC_CATEGORY_PS ||
         c == UTF8PROC_CATEGORY_PE || c == UTF8PROC_CATEGORY_PI || c == UTF8PROC_CATEGORY_PF ||
         c == UTF8PROC_CATEGORY_PO;
}

// The CJK Unified Ideographs blocks BERT isolates (not Hangul, kana or CJK punctuation).
bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

WordPieceEncoder::WordPieceEncoder(const Vocab& vocab, int32_t unknown_id)
    : vocab_(vocab), unknown_id_(unknown_id) {
  size_t n_start_marked = 0, n_continuation_marked = 0;
  bool has_capitals = false;
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    const std::string_view text = vocab_.text(id);
    if (text.starts_with(kWordStartPrefix)) ++n_start_marked;
    if (text.size() > 2 && text.starts_with(kContinuationPrefix)) ++n_continuation_marked;
    if (vocab_.type(id) == TokenType::kNormal && !has_capitals) {
      for (char c : text) has_capitals = has_capitals || (c >= 'A' && c <= 'Z');
    }
  }
  marking_ = n_continuation_marked > n_start_marked ? Marking::kContinuationPrefix
                                                    : Marking::kWordStartPrefix;
  lowercase_ = !has_capitals;
}

void WordPieceEncoder::split_words(std::string_view text, std::string& normalized,
                                   std::vector<std::string_view>& words) const {
  // Words are collected as offsets first: `normalized` may reallocate while it grows.
  std::vector<std::pair<size_t, size_t>> spans;
  size_t word_start = std::string::npos;
  const auto end_word = [&] {
    if (word_start != std::string::npos && normalized.size() > word_start) {
      spans.emplace_back(word_start, normalized.size() - word_start);
    }
    word_start = std::string::npos;
  };
  const auto add_to_word = [&](char32_t cp) {
    if (word_start == std::string::npos) word_start = normalized.size();
    append_utf8(normalized, cp);
  };
  const auto add_alone = [&](char32_t cp) {
    end_word();
    add_to_word(cp);
    end_word();
  };
  const auto add_normalized = [&](char32_t cp) {
    if (is_punctuation(cp)) {
      add_alone(cp);
    } else {
      add_to_word(cp);
    }
  };

  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    pos += c.length;
    // Invalid bytes would be U+FFFD, which BERT's cleaning removes.
    if (c.status != Utf8Status::kValid) continue;
    const char32_t cp = c.code_point;
    if (cp == 0 || cp == 0xFFFD) continue;
    if (is_whitespace(cp)) {
      end_word();
      continue;
    }
    if (is_dropped_other(cp)) continue;
    if (is_cjk_ideograph(cp)) {
      add_alone(cp);
      continue;
    }
    if (!lowercase_) {
      add_normalized(cp);
      continue;
    }
    // Uncased: strip accents (NFD, drop Mn), then lowercase.
    utf8proc_int32_t decomposed[8];
    const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp),
                                                       decomposed, 8, UTF8PROC_DECOMPOSE, nullptr);
    if (n < 1 || n > 8) {
      add_normalized(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
      continue;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i) {
      if (category(static_cast<char32_t>(decomposed[i])) == UTF8PROC_CATEGORY_MN) continue;
      add_normalized(static_cast<char32_t>(utf8proc_tolower(decomposed[i])));
    }
  }
  end_word();

  words.clear();
  for (const auto& [start, length] : spans) {
    words.push_back(std::string_view(normalized).substr(start, length));
  }
}

void WordPieceEncoder::encode_word(std::string_view word, std::string& candidate,
                                   std::vector<int32_t>& out) const {
  // Character boundaries: pieces start and end only there.
  std::vector<size_t> bounds;
  for (size_t pos = 0; pos < word.size(); pos += decode_utf8(word, pos).length) {
    bounds.push_back(pos);
  }
  bounds.push_back(word.size());
  const size_t n_chars = bounds.size() - 1;

  const size_t out_start = out.size();
  const auto fail = [&] {
    out.resize(out_start);
    if (unknown_id_ >= 0) out.push_back(unknown_id_);
  };
  if (n_chars > kMaxCharsPerWord) return fail();

  const size_t max_length = vocab_.max_text_length();
  for (size_t begin = 0; begin < n_chars;) {
    int32_t found = -1;
    size_t end = n_chars;
    for (; end > begin; --end) {
      const std::string_view piece = word.substr(bounds[begin], bounds[end] - bounds[begin]);
      if (piece.size() > max_length) continue;
      candidate.clear();
      if (begin == 0 && marking_ == Marking::kWordStartPrefix) candidate.append(kWordStartPrefix);
      if (begin > 0 && marking_ == Marking::kContinuationPrefix) {
        candidate.append(kContinuationPrefix);
      }
      candidate.append(piece);
      found = vocab_.find(candidate);
      if (found >= 0) break;
    }
    if (found < 0) return fail();
    out.push_back(found);
    begin = end;
  }
}

void WordPieceEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  std::string normalized, candidate;
  std::vector<std::string_view> words;
  split_words(text, normalized, words);
  for (std::string_view word : words) encode_word(word, candidate, out);
}

}  // namespace cove::tokenizer
