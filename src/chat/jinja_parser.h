// Builds the syntax tree (jinja_ast.h) from the lexer's tokens.
//
// Operator precedence is Jinja 3's, loosest first:
//   x if c else y  >  or  >  and  >  not  >  comparisons (==, !=, <, <=, >, >=, in, not in)
//   >  + -  >  ~  >  * / // %  >  **  >  unary - +  >  postfix (.a  [i]  [a:b:c]  (args))
// and filters / tests (`| f`, `is t`) bind to the unary expression on their left, so
// `'a' ~ b | upper` upper-cases only b and `-x | abs` is abs(-x).
//
// Statements: if/elif/else, for (with `if` filter and `else`), set (plain, tuple, namespace
// attribute, block), macro, call, filter, with, do, break, continue, and HF's
// generation/endgeneration (rendered in place). Unsupported statements (extends, include, import,
// block, ...) are syntax errors that name the statement.
//
// Nesting is limited to kMaxParseDepth levels (expressions, left-nested operator chains and
// blocks alike), which bounds the recursion depth of rendering and of destroying the tree.
#pragma once

#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace cove::chat::jinja {

inline constexpr int kMaxParseDepth = 200;

// Throws TemplateError(kSyntax) with the position of the offending token.
Body parse_template(const std::vector<Token>& tokens);

}  // namespace cove::chat::jinja
