// Regex -> GBNF: a recursive-descent reader of the pattern that writes the GBNF expression as it
// goes. Character sets are computed as code point ranges, then split into what may appear raw
// in a JSON string and what must appear escaped.
#include "runtime/json_schema_regex.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "runtime/grammar_parser.h"

namespace cove::runtime::detail {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kMaxCount = 1000;  // largest {m,n} bound accepted in a pattern
constexpr int kMaxNesting = 100;

using Ranges = std::vector<CharRange>;

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

Ranges normalize(Ranges ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CharRange& a, const CharRange& b) { return a.first < b.first; });
  Ranges merged;
  for (const CharRange& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

// All scalar values not in `ranges` (surrogates are never members).
Ranges complement(const Ranges& ranges) {
  Ranges out;
  uint32_t next = 0;
  const auto gap = [&](uint32_t first, uint32_t last) {
    if (first > last) return;
    if (first < 0xD800) out.push_back({first, std::min(last, 0xD7FFu)});
    if (last > 0xDFFF) out.push_back({std::max(first, 0xE000u), last});
  };
  for (const CharRange& r : normalize(ranges)) {
    if (r.first > next) gap(next, r.first - 1);
    next = r.last + 1;
  }
  if (next <= kMaxCodePoint) gap(next, kMaxCodePoint);
  return out;
}

Ranges intersect(const Ranges& a, const Ranges& b) {
  Ranges out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const uint32_t first = std::max(a[i].first, b[j].first);
    const uint32_t last = std::min(a[i].last, b[j].last);
    if (first <= last) out.push_back({first, last});
    (a[i].last < b[j].last) ? ++i : ++j;
  }
  return out;
}

bool contains(const Ranges& ranges, uint32_t cp) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [cp](const CharRange& r) { return r.first <= cp && cp <= r.last; });
}

const Ranges kDigits = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'},     {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680},
                       {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                       {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};

// `cp` as it appears inside a JSON string literal.
std::string json_escaped(uint32_t cp) {
  switch (cp) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    case 0x08:
      return "\\b";
    case 0x0C:
      return "\\f";
    default:
      break;
  }
  std::string out;
  if (cp < 0x20) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
    return buf;
  }
  append_utf8(out, cp);
  return out;
}

void append_class_char(std::string& out, uint32_t cp) {
  if (cp == '\\' || cp == ']' || cp == '[' || cp == '-' || cp == '^') {
    out += '\\';
    out += static_cast<char>(cp);
  } else if (cp < 0x20 || cp == 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\x%02X", cp);
    out += buf;
  } else {
    append_utf8(out, cp);
  }
}

class RegexConverter {
 public:
  explicit RegexConverter(std::string_view pattern) : re_(pattern) {}

  Result<std::string> run() {
    if (!re_.empty() && re_.front() == '^') ++pos_;
    std::string out;
    if (!parse_alternation(0, out)) return Error{*error_};
    if (pos_ < re_.size()) {
      fail(pos_, re_[pos_] == ')' ? "')' without a matching '('" : "unexpected character");
      return Error{*error_};
    }
    return out.empty() ? std::string("\"\"") : out;
  }

 private:
  bool fail(size_t at, const std::string& message) {
    if (!error_) {
      error_ =
          "pattern '" + std::string(re_) + "' at offset " + std::to_string(at) + ": " + message;
    }
    return false;
  }
  bool at_end() const { return pos_ >= re_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < re_.size() ? re_[pos_ + ahead] : '\0'; }
  bool is_final_dollar() const { return peek() == '$' && pos_ + 1 == re_.size(); }

  bool parse_alternation(int depth, std::string& out) {
    if (depth > kMaxNesting) return fail(pos_, "groups nested too deeply");
    std::vector<std::string> alternatives;
    while (true) {
      std::string sequence;
      if (!parse_sequence(depth, sequence)) return false;
      alternatives.push_back(sequence.empty() ? "\"\"" : sequence);
      if (peek() != '|') break;
      ++pos_;
    }
    if (alternatives.size() == 1) {
      out = alternatives[0] == "\"\"" ? "" : alternatives[0];
      return true;
    }
    out = "(";
    for (size_t i = 0; i < alternatives.size(); ++i) {
      out += (i ? " | " : " ") + alternatives[i];
    }
    out += " )";
    return true;
  }

  bool parse_sequence(int depth, std::string& out) {
    while (!at_end() && peek() != '|' && peek() != ')') {
      if (is_final_dollar() && depth == 0) {
        ++pos_;
        break;
      }
      std::string atom;
      if (!parse_atom(depth, atom)) return false;
      std::string quantifier;
      if (!parse_quantifier(quantifier)) return false;
      if (!out.empty()) out += ' ';
      out += atom + quantifier;
    }
    return true;
  }

  bool parse_atom(int depth, std::string& out) {
    const size_t at = pos_;
    const char c = peek();
    switch (c) {
      case '(': {
        ++pos_;
        if (peek() == '?') {
          if (peek(1) == ':') {
            pos_ += 2;
          } else if ((peek(1) == '<' && peek(2) != '=' && peek(2) != '!') || peek(1) == 'P') {
            while (!at_end() && peek() != '>') ++pos_;
            if (at_end()) return fail(at, "unterminated group name");
            ++pos_;
          } else {
            return fail(at, "lookaround and inline flags are not supported");
          }
        }
        std::string inner;
        if (!parse_alternation(depth + 1, inner)) return false;
        if (peek() != ')') return fail(at, "'(' is never closed");
        ++pos_;
        out = "(" + (inner.empty() ? std::string("\"\"") : inner) + ")";
        return true;
      }
      case '[':
        return parse_class(out);
      case '.':
        ++pos_;
        return emit_set(complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}), at, out);
      case '\\': {
        Ranges set;
        uint32_t cp = 0;
        bool is_set = false;
        if (!parse_escape(false, cp, set, is_set)) return false;
        return is_set ? emit_set(set, at, out) : emit_char(cp, out);
      }
      case '^':
        return fail(at, "'^' is only supported at the start of the pattern");
      case '$':
        return fail(at, "'$' is only supported at the end of the pattern");
      case '*':
      case '+':
      case '?':
      case '{':
        return fail(at, std::string("'") + c + "' has nothing to repeat");
      default: {
        uint32_t cp = 0;
        if (!read_utf8(cp)) return false;
        return emit_char(cp, out);
      }
    }
  }

  bool parse_quantifier(std::string& out) {
    const size_t at = pos_;
    const char c = peek();
    if (c == '*' || c == '+' || c == '?') {
      ++pos_;
      out = std::string(1, c);
    } else if (c == '{') {
      ++pos_;
      uint32_t min = 0, max = 0;
      bool has_min = false, has_max = false, comma = false;
      if (!read_count(min, has_min)) return false;
      if (peek() == ',') {
        ++pos_;
        comma = true;
        if (!read_count(max, has_max)) return false;
      }
      if (peek() != '}' || !has_min) return fail(at, "malformed {m,n} quantifier");
      ++pos_;
      if (!comma) {
        out = "{" + std::to_string(min) + "}";
      } else if (!has_max) {
        out = "{" + std::to_string(min) + ",}";
      } else {
        if (max < min) return fail(at, "quantifier maximum is below its minimum");
        out = "{" + std::to_string(min) + "," + std::to_string(max) + "}";
      }
    } else {
      return true;
    }
    if (peek() == '?') ++pos_;  // lazy: the same language
    if (peek() == '+') return fail(pos_, "possessive quantifiers are not supported");
    if (peek() == '*' || peek() == '?' || peek() == '{') {
      return fail(pos_, "a quantifier cannot follow a quantifier");
    }
    return true;
  }

  bool read_count(uint32_t& value, bool& present) {
    value = 0;
    present = false;
    while (peek() >= '0' && peek() <= '9') {
      value = value * 10 + static_cast<uint32_t>(peek() - '0');
      present = true;
      if (value > kMaxCount)
        return fail(pos_, "counts above " + std::to_string(kMaxCount) + " are not supported");
      ++pos_;
    }
    return true;
  }

  bool read_utf8(uint32_t& cp) {
    const size_t at = pos_;
    const uint8_t lead = static_cast<uint8_t>(re_[pos_]);
    size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
    if (length == 0 || pos_ + length > re_.size()) return fail(at, "invalid UTF-8");
    cp = length == 1 ? lead : length == 2 ? lead & 0x1F : length == 3 ? lead & 0x0F : lead & 0x07;
    for (size_t i = 1; i < length; ++i) {
      const uint8_t b = static_cast<uint8_t>(re_[pos_ + i]);
      if ((b & 0xC0) != 0x80) return fail(at, "invalid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) return fail(at, "invalid UTF-8");
    pos_ += length;
    return true;
  }

  bool read_hex(size_t digits, uint32_t& value) {
    value = 0;
    for (size_t i = 0; i < digits; ++i) {
      const char h = peek();
      uint32_t d = 0;
      if (h >= '0' && h <= '9') {
        d = static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        d = static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        d = static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return fail(pos_, "expected a hex digit");
      }
      value = value * 16 + d;
      ++pos_;
    }
    return true;
  }

  // After a backslash: a set (\d, \w, \s and their negations) or one code point.
  bool parse_escape(bool in_class, uint32_t& cp, Ranges& set, bool& is_set) {
    const size_t at = pos_;
    ++pos_;
    if (at_end()) return fail(at, "pattern ends with a backslash");
    const char c = re_[pos_++];
    is_set = true;
    switch (c) {
      case 'd':
        set = kDigits;
        return true;
      case 'D':
        set = complement(kDigits);
        return true;
      case 'w':
        set = kWord;
        return true;
      case 'W':
        set = complement(kWord);
        return true;
      case 's':
        set = kSpace;
        return true;
      case 'S':
        set = complement(kSpace);
        return true;
      default:
        break;
    }
    is_set = false;
    switch (c) {
      case 'n':
        cp = '\n';
        return true;
      case 'r':
        cp = '\r';
        return true;
      case 't':
        cp = '\t';
        return true;
      case 'f':
        cp = 0x0C;
        return true;
      case 'v':
        cp = 0x0B;
        return true;
      case '0':
        cp = 0;
        return true;
      case 'x':
        return read_hex(2, cp);
      case 'u': {
        if (!read_hex(4, cp)) return false;
        if (cp >= 0xD800 && cp <= 0xDFFF) return fail(at, "surrogate escapes are not supported");
        return true;
      }
      case 'b':
        if (in_class) {
          cp = 0x08;
          return true;
        }
        return fail(at, "word boundaries (\\b) are not supported");
      default:
        break;
    }
    if ((c >= '1' && c <= '9') || c == 'k') return fail(at, "backreferences are not supported");
    if (c == 'p' || c == 'P') return fail(at, "Unicode property classes are not supported");
    if (c == 'B') return fail(at, "word boundaries (\\B) are not supported");
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return fail(at, std::string("unknown escape '\\") + c + "'");
    }
    --pos_;
    return read_utf8(cp);  // an escaped punctuation or other character stands for itself
  }

  bool parse_class(std::string& out) {
    const size_t at = pos_;
    ++pos_;
    const bool negate = peek() == '^';
    if (negate) ++pos_;
    Ranges ranges;
    while (true) {
      if (at_end()) return fail(at, "unterminated character class");
      if (peek() == ']') {
        ++pos_;
        break;
      }
      uint32_t first = 0;
      Ranges set;
      bool is_set = false;
      if (peek() == '\\') {
        if (!parse_escape(true, first, set, is_set)) return false;
      } else if (!read_utf8(first)) {
        return false;
      }
      if (is_set) {
        ranges.insert(ranges.end(), set.begin(), set.end());
        continue;
      }
      uint32_t last = first;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < re_.size()) {
        ++pos_;
        Ranges unused;
        bool last_is_set = false;
        if (peek() == '\\') {
          if (!parse_escape(true, last, unused, last_is_set)) return false;
          if (last_is_set) return fail(at, "a class escape cannot end a range");
        } else if (!read_utf8(last)) {
          return false;
        }
        if (last < first) return fail(at, "character range ends before it starts");
      }
      ranges.push_back({first, last});
    }
    ranges = normalize(ranges);
    return emit_set(negate ? complement(ranges) : ranges, at, out);
  }

  bool emit_char(uint32_t cp, std::string& out) {
    out = gbnf_literal(json_escaped(cp));
    return true;
  }

  // A set of code points as a GBNF item: raw members as a class, then JSON escapes for `"`, `\`
  // and the tab/newline/CR members. Other control characters are left out.
  bool emit_set(const Ranges& set, size_t at, std::string& out) {
    const Ranges raw = intersect(normalize(set), complement({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}}));
    std::vector<std::string> parts;
    if (raw.size() == 1 && raw[0].first == raw[0].last) {
      parts.push_back(gbnf_literal(json_escaped(raw[0].first)));
    } else if (!raw.empty()) {
      std::string cls = "[";
      for (const CharRange& r : raw) {
        append_class_char(cls, r.first);
        if (r.last != r.first) {
          cls += '-';
          append_class_char(cls, r.last);
        }
      }
      parts.push_back(cls + "]");
    }
    for (uint32_t special :
         {uint32_t{'"'}, uint32_t{'\\'}, uint32_t{'\n'}, uint32_t{'\t'}, uint32_t{'\r'}}) {
      if (contains(set, special)) parts.push_back(gbnf_literal(json_escaped(special)));
    }
    if (parts.empty()) return fail(at, "this set matches no character a JSON string can hold");
    if (parts.size() == 1) {
      out = parts[0];
      return true;
    }
    out = "(";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : " ") + parts[i];
    out += " )";
    return true;
  }

  std::string_view re_;
  size_t pos_ = 0;
  std::optional<std::string> error_;
};

}  // namespace

std::string gbnf_literal(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const uint8_t b = static_cast<uint8_t>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (b < 0x20 || b == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02X", b);
          out += buf;
        } else {
          out += c;  // UTF-8 passes through; the grammar parser decodes it
        }
    }
  }
  return out + "\"";
}

Result<std::string> regex_to_gbnf(std::string_view pattern) {
  return RegexConverter(pattern).run();
}

}  // namespace cove::runtime::detail
