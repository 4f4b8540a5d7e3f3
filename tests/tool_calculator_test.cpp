// Calculator: precedence and associativity, functions and constants, and errors that give the
// column, for hostile input too (deep nesting, huge exponents, unknown names).
#include <gtest/gtest.h>

#include <cmath>

#include "assistant/tool_calculator.h"

namespace cove::assistant {
namespace {

double eval(std::string_view text) {
  Result<double> value = evaluate_expression(text);
  EXPECT_TRUE(value.is_ok()) << text << ": " << (value ? "" : value.message());
  return value ? *value : NAN;
}

std::string error_of(std::string_view text) {
  Result<double> value = evaluate_expression(text);
  EXPECT_FALSE(value.is_ok()) << text << " evaluated to " << (value ? *value : 0);
  return value ? "" : value.message();
}

TEST(Calculator, PrecedenceAndAssociativity) {
  EXPECT_EQ(eval("1 + 2 * 3"), 7);
  EXPECT_EQ(eval("(1 + 2) * 3"), 9);
  EXPECT_EQ(eval("10 - 4 - 3"), 3);
  EXPECT_EQ(eval("100 / 10 / 5"), 2);
  EXPECT_EQ(eval("2 ^ 3 ^ 2"), 512);  // right-associative
  EXPECT_EQ(eval("-2 ^ 2"), -4);      // ^ binds tighter than unary minus
  EXPECT_EQ(eval("2 ^ -1"), 0.5);
  EXPECT_EQ(eval("--3"), 3);
  EXPECT_EQ(eval("7 % 4"), 3);
  EXPECT_EQ(eval("-7 % 4"), -3);
  EXPECT_EQ(eval("1.5e3 + .5"), 1500.5);
  EXPECT_EQ(eval("2*e"), 2 * std::numbers::e);
}

TEST(Calculator, FunctionsAndConstants) {
  EXPECT_EQ(eval("sqrt(16) + abs(-3)"), 7);
  EXPECT_NEAR(eval("sin(pi / 2)"), 1, 1e-12);
  EXPECT_NEAR(eval("cos(0) + tan(0)"), 1, 1e-12);
  EXPECT_NEAR(eval("log(e)"), 1, 1e-12);
  EXPECT_NEAR(eval("exp(1)"), std::numbers::e, 1e-12);
  EXPECT_EQ(eval("round(2.5) + floor(2.7) + ceil(2.1)"), 3 + 2 + 3);
  EXPECT_EQ(eval("min(4, 2, 8) + max(1, 9)"), 11);
  EXPECT_EQ(eval("max(2)"), 2);
}

TEST(Calculator, ErrorsGiveTheColumn) {
  EXPECT_EQ(error_of("1 + "), "column 5: expected a number, a name or '(', found the end");
  EXPECT_EQ(error_of("2 * (3 + 4"), "column 11: expected ')' to close the '(' at column 5");
  EXPECT_EQ(error_of("1 / 0"), "column 3: division by zero");
  EXPECT_EQ(error_of("5 % 0"), "column 3: remainder (%) by zero");
  EXPECT_EQ(error_of("foo(1)"), "column 1: unknown function 'foo'");
  EXPECT_EQ(error_of("x + 1"), "column 1: unknown name 'x' (constants: pi, e)");
  EXPECT_EQ(error_of("1 2"), "column 3: expected an operator or the end, found '2'");
  EXPECT_EQ(error_of("sqrt(-1)"), "column 1: sqrt() of a negative number");
  EXPECT_EQ(error_of("log(0)"), "column 1: log() of a number <= 0");
  EXPECT_EQ(error_of("min()"), "column 1: min() needs at least 1 argument");
  EXPECT_EQ(error_of("sqrt(1, 2)"), "column 1: sqrt() takes 1 argument, got 2");
  EXPECT_EQ(error_of(""), "column 1: the expression is empty");
  EXPECT_EQ(error_of("(-8) ^ 0.5"), "column 6: a negative number raised to a fractional power");
}

TEST(Calculator, RefusesCodeAndShellText) {
  EXPECT_NE(error_of("__import__('os')").find("unknown"), std::string::npos);
  EXPECT_NE(error_of("1; rm -rf /").find("column 2"), std::string::npos);
  EXPECT_NE(error_of("$(reboot)").find("found '$'"), std::string::npos);
  EXPECT_NE(error_of("1 + \xC3\xA9").find("byte 0xC3"), std::string::npos);
}

TEST(Calculator, GuardsAgainstHugeResultsAndDeepNesting) {
  EXPECT_EQ(error_of("2 ^ 99999"), "column 3: the power overflows");
  EXPECT_EQ(error_of("10 ^ 308 * 10"), "column 10: the product overflows");
  EXPECT_NE(error_of("1e999").find("too large"), std::string::npos);
  EXPECT_EQ(eval("1e-999"), 0);
  EXPECT_NE(error_of(std::string(100, '(') + "1" + std::string(100, ')')).find("nests more than"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(1000, '-') + "1").find("nests more than"), std::string::npos);
  EXPECT_NE(error_of(std::string(5000, '1')).find("longer than"), std::string::npos);
  EXPECT_EQ(eval(std::string(30, '(') + "1" + std::string(30, ')')), 1);
}

TEST(Calculator, FormatsIntegersWithoutADecimalPoint) {
  EXPECT_EQ(format_number(42), "42");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_number(1e300), "1e+300");
}

TEST(Calculator, ToolReturnsTextAndStructuredValue) {
  ToolDefinition tool = make_calculator_tool();
  ToolResult ok = tool.handler({{"expression", "(2 + 3) * sqrt(16)"}});
  EXPECT_FALSE(ok.is_error);
  EXPECT_EQ(ok.text, "20");
  EXPECT_EQ(ok.structured["value"], 20.0);
  ToolResult bad = tool.handler({{"expression", "2 +* 3"}});
  EXPECT_TRUE(bad.is_error);
  EXPECT_EQ(bad.text, "calculator: column 4: expected a number, a name or '(', found '*'");
}

}  // namespace
}  // namespace cove::assistant
