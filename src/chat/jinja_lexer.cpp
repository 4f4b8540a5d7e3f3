#include "chat/jinja_lexer.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace cove::chat::jinja {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

void rstrip(std::string& text) {
  size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  text.resize(end);
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp > 0x10FFFF) cp = 0xFFFD;
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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Jinja line endings are "\n"; one trailing newline goes unless the options keep it.
std::string normalize_newlines(std::string_view source, bool keep_trailing_newline) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(std::string source, const TemplateOptions& options)
      : src_(std::move(source)), options_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    size_t pos = 0;
    while (pos < src_.size()) {
      size_t open = find_tag_open(pos);
      if (open == std::string::npos) {
        emit_text(src_.substr(pos), pos);
        break;
      }
      char type = src_[open + 1];
      size_t body = open + 2;
      char modifier = 0;
      if (body < src_.size() && (src_[body] == '-' || src_[body] == '+')) modifier = src_[body++];

      std::string text = src_.substr(pos, open - pos);
      if (modifier == '-') {
        rstrip(text);
      } else if (modifier != '+' && type != '{' && options_.lstrip_blocks) {
        lstrip_line(text);
      }
      emit_text(std::move(text), pos);

      if (type == '#') {
        pos = lex_comment(open, body);
      } else if (size_t content = 0; type == '%' && is_raw_begin(body, content)) {
        pos = lex_raw(open, content);
      } else {
        pos = lex_tag(open, type, body);
      }
    }
    tokens_.push_back(Token{TokenKind::kEndOfInput, "", location_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  SourceLocation location_of(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  [[noreturn]] void fail(size_t offset, std::string message) const {
    throw TemplateError(ErrorKind::kSyntax, std::move(message), location_of(offset));
  }

  bool starts_with(size_t pos, std::string_view prefix) const {
    return src_.compare(pos, prefix.size(), prefix) == 0;
  }

  size_t find_tag_open(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  void emit_text(std::string text, size_t offset) {
    if (text.empty()) return;
    tokens_.push_back(Token{TokenKind::kText, std::move(text), location_of(offset)});
  }

  // lstrip_blocks: spaces and tabs between a line start and the tag go. The text "starts a line"
  // when it follows a newline inside it, or when the previous tag ended by eating a newline.
  void lstrip_line(std::string& text) const {
    size_t newline = text.rfind('\n');
    size_t line_begin = newline == std::string::npos ? 0 : newline + 1;
    if (line_begin == 0 && !line_starting_) return;
    if (line_begin == text.size()) return;
    for (size_t i = line_begin; i < text.size(); ++i) {
      if (!is_space(text[i])) return;
    }
    text.resize(line_begin);
  }

  // After a closing delimiter: `-` eats all whitespace; otherwise trim_blocks eats one newline
  // after `%}` and `#}` (not after `}}`).
  size_t skip_after_tag_end(size_t pos, char modifier, bool block_like) {
    size_t start = pos;
    if (modifier == '-') {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
    } else if (modifier != '+' && block_like && options_.trim_blocks && pos < src_.size() &&
               src_[pos] == '\n') {
      ++pos;
    }
    line_starting_ = pos > start && src_[pos - 1] == '\n';
    return pos;
  }

  size_t lex_comment(size_t open, size_t body) {
    size_t close = src_.find("#}", body);
    if (close == std::string::npos) fail(open, "unclosed comment: '{#' without '#}'");
    char modifier = 0;
    if (close > body && (src_[close - 1] == '-' || src_[close - 1] == '+')) {
      modifier = src_[close - 1];
    }
    return skip_after_tag_end(close + 2, modifier, true);
  }

  // `{% raw %}` (either delimiter may carry `-`): sets `content` to where the raw text starts.
  bool is_raw_begin(size_t pos, size_t& content) {
    while (pos < src_.size() && is_space(src_[pos])) ++pos;
    if (!starts_with(pos, "raw")) return false;
    pos += 3;
    while (pos < src_.size() && is_space(src_[pos])) ++pos;
    char modifier = 0;
    if (pos < src_.size() && src_[pos] == '-') modifier = src_[pos++];
    if (!starts_with(pos, "%}")) return false;
    pos += 2;
    size_t start = pos;
    if (modifier == '-') {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
    }
    line_starting_ = pos > start && src_[pos - 1] == '\n';
    content = pos;
    return true;
  }

  size_t lex_raw(size_t open, size_t content) {
    for (size_t at = src_.find("{%", content); at != std::string::npos;
         at = src_.find("{%", at + 1)) {
      size_t pos = at + 2;
      char begin_modifier = 0;
      if (pos < src_.size() && (src_[pos] == '-' || src_[pos] == '+')) begin_modifier = src_[pos++];
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      if (!starts_with(pos, "endraw")) continue;
      pos += 6;
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      char end_modifier = 0;
      if (pos < src_.size() && (src_[pos] == '-' || src_[pos] == '+')) end_modifier = src_[pos++];
      if (!starts_with(pos, "%}")) continue;
      std::string text = src_.substr(content, at - content);
      if (begin_modifier == '-') {
        rstrip(text);
      } else if (begin_modifier != '+' && options_.lstrip_blocks) {
        lstrip_line(text);
      }
      emit_text(std::move(text), content);
      return skip_after_tag_end(pos + 2, end_modifier, true);
    }
    fail(open, "unclosed raw block: '{% raw %}' without '{% endraw %}'");
  }

  size_t lex_tag(size_t open, char type, size_t body) {
    bool statement = type == '%';
    tokens_.push_back(Token{statement ? TokenKind::kStatementBegin : TokenKind::kExpressionBegin,
                            statement ? "{%" : "{{", location_of(open)});
    int depth = 0;  // open brackets: a `}}` inside `{{ {'a': {'b': 1}} }}` does not end the tag
    size_t pos = body;
    while (true) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      if (pos >= src_.size())
        fail(open, statement ? "unclosed '{%': missing '%}'" : "unclosed '{{': missing '}}'");
      if (depth == 0) {
        char modifier = 0;
        size_t end = std::string::npos;
        if (statement) {
          if (starts_with(pos, "-%}") || starts_with(pos, "+%}")) {
            modifier = src_[pos];
            end = pos + 3;
          } else if (starts_with(pos, "%}")) {
            end = pos + 2;
          }
        } else if (starts_with(pos, "-}}")) {
          modifier = '-';
          end = pos + 3;
        } else if (starts_with(pos, "}}")) {
          end = pos + 2;
        }
        if (end != std::string::npos) {
          tokens_.push_back(Token{statement ? TokenKind::kStatementEnd : TokenKind::kExpressionEnd,
                                  statement ? "%}" : "}}", location_of(pos)});
          return skip_after_tag_end(end, modifier, statement);
        }
      }
      pos = lex_token(pos, depth);
    }
  }

  size_t lex_token(size_t pos, int& depth) {
    char c = src_[pos];
    Token token{TokenKind::kOperator, "", location_of(pos)};
    if (is_name_start(c)) {
      size_t end = pos;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      token.kind = TokenKind::kName;
      token.text = src_.substr(pos, end - pos);
      tokens_.push_back(std::move(token));
      return end;
    }
    if (is_digit(c)) return lex_number(pos, std::move(token));
    if (c == '\'' || c == '"') return lex_string(pos, std::move(token));

    static constexpr std::string_view kTwoCharOperators[] = {"//", "**", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwoCharOperators) {
      if (starts_with(pos, op)) {
        token.text = std::string(op);
        tokens_.push_back(std::move(token));
        return pos + 2;
      }
    }
    if (std::string_view("+-*/%~<>=()[]{},.:|").find(c) == std::string_view::npos) {
      fail(pos, std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    token.text = std::string(1, c);
    tokens_.push_back(std::move(token));
    return pos + 1;
  }

  // Integers and floats, with Python's `_` digit separators: 42, 1_000, 3.5, 1e-3, 2.5E+10.
  // After a `.` only an integer is read, so `messages.0.content` is attribute access.
  size_t lex_number(size_t pos, Token token) {
    auto digits = [&](size_t at, std::string& out) {
      while (at < src_.size() && (is_digit(src_[at]) || (src_[at] == '_' && at + 1 < src_.size() &&
                                                         is_digit(src_[at + 1])))) {
        if (src_[at] != '_') out += src_[at];
        ++at;
      }
      return at;
    };
    std::string text;
    size_t end = digits(pos, text);
    bool after_dot = !tokens_.empty() && tokens_.back().kind == TokenKind::kOperator &&
                     tokens_.back().text == ".";
    bool is_float = false;
    if (!after_dot) {
      if (end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
        text += '.';
        end = digits(end + 1, text);
        is_float = true;
      }
      if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
        size_t at = end + 1;
        std::string exponent = "e";
        if (at < src_.size() && (src_[at] == '+' || src_[at] == '-')) exponent += src_[at++];
        if (at < src_.size() && is_digit(src_[at])) {
          end = digits(at, exponent);
          text += exponent;
          is_float = true;
        }
      }
    }
    token.text = text;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (!is_float) {
      auto [ptr, ec] = std::from_chars(first, last, token.int_value);
      if (ec == std::errc()) {
        token.kind = TokenKind::kInteger;
        tokens_.push_back(std::move(token));
        return end;
      }
      // Too large for int64: Python would keep it exact; we fall back to a float.
    }
    auto [ptr, ec] = std::from_chars(first, last, token.float_value);
    if (ec == std::errc::result_out_of_range) token.float_value = HUGE_VAL;
    token.kind = TokenKind::kFloat;
    tokens_.push_back(std::move(token));
    return end;
  }

  // Python string literal escapes: \n \t \r \\ \' \" \0 \xHH \uXXXX \UXXXXXXXX ...; an unknown
  // escape keeps its backslash, as Python does.
  size_t lex_string(size_t pos, Token token) {
    char quote = src_[pos];
    std::string out;
    size_t i = pos + 1;
    while (true) {
      if (i >= src_.size()) fail(pos, "unterminated string literal");
      char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) fail(pos, "unterminated string literal");
      char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case 'a':
          out += '\a';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '\n':
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          bool ok = i + n <= src_.size();
          for (size_t k = 0; ok && k < n; ++k) {
            int h = hex_value(src_[i + k]);
            ok = h >= 0;
            cp = cp * 16 + static_cast<uint32_t>(std::max(h, 0));
          }
          if (!ok) fail(i - 2, std::string("invalid \\") + e + " escape in string literal");
          append_utf8(cp, out);
          i += n;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {  // octal, up to three digits
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k) {
              cp = cp * 8 + static_cast<uint32_t>(src_[i++] - '0');
            }
            append_utf8(cp, out);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    token.kind = TokenKind::kString;
    token.text = std::move(out);
    tokens_.push_back(std::move(token));
    return i + 1;
  }

  std::string src_;
  TemplateOptions options_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  bool line_starting_ = true;  // the next text run begins at the start of a line
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const TemplateOptions& options) {
  return Lexer(normalize_newlines(source, options.keep_trailing_newline), options).run();
}

}  // namespace cove::chat::jinja
