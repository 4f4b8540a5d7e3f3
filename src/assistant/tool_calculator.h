// The calculator tool: arithmetic expressions evaluated by a recursive-descent parser.
//
// Grammar (lowest precedence first; `^` is right-associative and binds tighter than unary minus,
// so -2^2 = -4 and 2^-1 = 0.5):
//   expression := sum
//   sum        := product (('+' | '-') product)*
//   product    := unary (('*' | '/' | '%') unary)*
//   unary      := ('-' | '+') unary | power
//   power      := primary ('^' unary)?
//   primary    := number | constant | function '(' expression (',' expression)* ')'
//               | '(' expression ')'
//   number     := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]   (also '.5')
// Constants: pi, e. Functions: sqrt abs sin cos tan log (natural) exp round floor ceil (one
// argument), min max (one or more). Nothing else is evaluated: any other name or character is an
// error that gives its 1-based column.
//
// Guards: at most 4096 characters and 64 levels of nesting; a result (or an intermediate value)
// that is infinite or NaN is an error ("2^99999 overflows"), as are division and % by zero and
// sqrt/log outside their domains.
#pragma once

#include <string>
#include <string_view>

#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

inline constexpr size_t kCalculatorMaxLength = 4096;
inline constexpr int kCalculatorMaxDepth = 64;

// Errors read "column 7: expected ')' to close the '(' at column 3".
Result<double> evaluate_expression(std::string_view expression);

// Shortest text that reads back as the same double; integers print without a decimal point.
std::string format_number(double value);

// Tool `calculator`: {"expression": string}.
ToolDefinition make_calculator_tool();

}  // namespace cove::assistant
