// Splits Jinja template text into tokens, applying Jinja's whitespace control.
//
// The output is a flat stream: kText runs, and for each `{{ ... }}` or `{% ... %}` a begin token,
// the expression tokens inside, and an end token. Comments `{# ... #}` and `{% raw %}` blocks
// never reach the parser (raw content becomes kText).
//
// Whitespace control follows Jinja 3 exactly, because chat templates depend on it byte for byte:
//   - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}` after it;
//   - trim_blocks drops the first newline after a `%}` or `#}`;
//   - lstrip_blocks drops spaces and tabs between the start of a line and a `{%` or `{#`;
//   - `{%+` and `+%}` turn lstrip_blocks / trim_blocks off for one tag;
//   - line endings are normalized to "\n", and one trailing newline of the template is dropped
//     unless keep_trailing_newline is set.
// HF's apply_chat_template uses trim_blocks and lstrip_blocks, so those are the defaults.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_error.h"

namespace cove::chat::jinja {

struct TemplateOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

enum class TokenKind {
  kText,
  kExpressionBegin,  // {{
  kExpressionEnd,    // }}
  kStatementBegin,   // {%
  kStatementEnd,     // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,  // + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  kEndOfInput,
};

struct Token {
  TokenKind kind = TokenKind::kEndOfInput;
  std::string text;  // text, name, operator, or a string literal with escapes resolved
  SourceLocation location;
  int64_t int_value = 0;
  double float_value = 0.0;
};

// Throws TemplateError(kSyntax) for an unclosed tag or comment, an unterminated string, or a
// character that starts no token. The last token is always kEndOfInput.
std::vector<Token> tokenize(std::string_view source, const TemplateOptions& options);

}  // namespace cove::chat::jinja
