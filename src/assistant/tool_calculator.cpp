// Calculator: a recursive-descent evaluator over doubles (tool_calculator.h has the grammar).
#include "assistant/tool_calculator.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <vector>

namespace cove::assistant {
namespace {

std::string column_text(size_t pos) { return "column " + std::to_string(pos + 1); }

class Evaluator {
 public:
  explicit Evaluator(std::string_view text) : text_(text) {}

  Result<double> run() {
    skip_space();
    if (pos_ >= text_.size()) return fail(pos_, "the expression is empty");
    Result<double> value = sum();
    if (!value) return value;
    skip_space();
    if (pos_ < text_.size()) return unexpected("an operator or the end");
    return value;
  }

 private:
  Error fail(size_t pos, const std::string& message) const {
    return Error{column_text(pos) + ": " + message};
  }

  Error unexpected(const std::string& wanted) const {
    if (pos_ >= text_.size()) return fail(pos_, "expected " + wanted + ", found the end");
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    std::string found;
    if (c >= 0x21 && c < 0x7F) {
      found = std::string("'") + static_cast<char>(c) + "'";
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      found = std::string("byte ") + hex;
    }
    return fail(pos_, "expected " + wanted + ", found " + found);
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool take(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // Every finite intermediate is checked, so an overflow reports where it happened.
  Result<double> checked(double value, size_t pos, const char* what) const {
    if (std::isnan(value)) return fail(pos, std::string(what) + " is not a number (NaN)");
    if (std::isinf(value)) return fail(pos, std::string(what) + " overflows");
    return value;
  }

  Result<double> sum() {
    Result<double> left = product();
    if (!left) return left;
    double value = *left;
    for (;;) {
      skip_space();
      const size_t at = pos_;
      if (!take('+') && !take('-')) return value;
      const char op = text_[at];
      Result<double> right = product();
      if (!right) return right;
      Result<double> r = checked(op == '+' ? value + *right : value - *right, at,
                                 op == '+' ? "the sum" : "the difference");
      if (!r) return r;
      value = *r;
    }
  }

  Result<double> product() {
    Result<double> left = unary();
    if (!left) return left;
    double value = *left;
    for (;;) {
      skip_space();
      const size_t at = pos_;
      if (!take('*') && !take('/') && !take('%')) return value;
      const char op = text_[at];
      Result<double> right = unary();
      if (!right) return right;
      double out = 0;
      if (op == '*') {
        out = value * *right;
      } else if (*right == 0) {
        return fail(at, op == '/' ? "division by zero" : "remainder (%) by zero");
      } else {
        out = op == '/' ? value / *right : std::fmod(value, *right);
      }
      Result<double> r = checked(out, at, op == '*' ? "the product" : "the quotient");
      if (!r) return r;
      value = *r;
    }
  }

  Result<double> unary() {
    skip_space();
    const size_t at = pos_;
    if (++depth_ > kCalculatorMaxDepth) {
      return fail(at, "the expression nests more than " + std::to_string(kCalculatorMaxDepth) +
                          " levels deep");
    }
    Result<double> out = Error{};
    if (take('-')) {
      out = unary();
      if (out) out = -*out;
    } else if (take('+')) {
      out = unary();
    } else {
      out = power();
    }
    --depth_;
    return out;
  }

  Result<double> power() {
    Result<double> base = primary();
    if (!base) return base;
    skip_space();
    const size_t at = pos_;
    if (!take('^')) return base;
    Result<double> exponent = unary();
    if (!exponent) return exponent;
    if (*base == 0 && *exponent < 0) return fail(at, "0 raised to a negative power");
    if (*base < 0 && *exponent != std::floor(*exponent)) {
      return fail(at, "a negative number raised to a fractional power");
    }
    return checked(std::pow(*base, *exponent), at, "the power");
  }

  Result<double> number() {
    const size_t start = pos_;
    size_t end = pos_;
    auto digits = [&] {
      const size_t from = end;
      while (end < text_.size() && text_[end] >= '0' && text_[end] <= '9') ++end;
      return end - from;
    };
    size_t n_digits = digits();
    if (end < text_.size() && text_[end] == '.') {
      ++end;
      n_digits += digits();
    }
    if (n_digits == 0) return fail(start, "expected digits");
    // An exponent only when digits follow, so "2e" stays an error and "2*e" uses the constant.
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t probe = end + 1;
      if (probe < text_.size() && (text_[probe] == '+' || text_[probe] == '-')) ++probe;
      if (probe < text_.size() && text_[probe] >= '0' && text_[probe] <= '9') {
        end = probe;
        digits();
      }
    }
    double value = 0;
    const auto [ptr, ec] = std::from_chars(text_.data() + start, text_.data() + end, value);
    if (ec == std::errc::result_out_of_range) {
      // Underflow to a denormal or zero is fine; overflow is not.
      if (std::abs(std::strtod(std::string(text_.substr(start, end - start)).c_str(), nullptr)) >
          1) {
        return fail(start, "the number is too large");
      }
      value = 0;
    } else if (ec != std::errc() || ptr != text_.data() + end) {
      return fail(start, "malformed number");
    }
    pos_ = end;
    return value;
  }

  static bool is_function(const std::string& name) {
    static constexpr std::string_view kFunctions[] = {"sqrt",  "abs",   "sin",  "cos", "tan", "log",
                                                      "exp",   "round", "floor", "ceil", "min", "max"};
    for (std::string_view f : kFunctions) {
      if (name == f) return true;
    }
    return false;
  }

  Result<double> call(const std::string& name, size_t at, const std::vector<double>& args) {
    auto one = [&](double (*f)(double)) -> Result<double> {
      if (args.size() != 1) {
        return fail(at, name + "() takes 1 argument, got " + std::to_string(args.size()));
      }
      return checked(f(args[0]), at, (name + "()").c_str());
    };
    if (name == "sqrt") {
      if (args.size() == 1 && args[0] < 0) return fail(at, "sqrt() of a negative number");
      return one([](double x) { return std::sqrt(x); });
    }
    if (name == "log") {
      if (args.size() == 1 && args[0] <= 0) return fail(at, "log() of a number <= 0");
      return one([](double x) { return std::log(x); });
    }
    if (name == "abs") return one([](double x) { return std::fabs(x); });
    if (name == "sin") return one([](double x) { return std::sin(x); });
    if (name == "cos") return one([](double x) { return std::cos(x); });
    if (name == "tan") return one([](double x) { return std::tan(x); });
    if (name == "exp") return one([](double x) { return std::exp(x); });
    if (name == "round") return one([](double x) { return std::round(x); });
    if (name == "floor") return one([](double x) { return std::floor(x); });
    if (name == "ceil") return one([](double x) { return std::ceil(x); });
    if (name == "min" || name == "max") {
      if (args.empty()) return fail(at, name + "() needs at least 1 argument");
      double out = args[0];
      for (double a : args) out = name == "min" ? std::min(out, a) : std::max(out, a);
      return out;
    }
    return fail(at, "unknown function '" + name + "'");
  }

  Result<double> primary() {
    skip_space();
    if (pos_ >= text_.size()) return unexpected("a number, a name or '('");
    const char c = text_[pos_];
    if ((c >= '0' && c <= '9') || c == '.') return number();
    if (c == '(') {
      const size_t open = pos_++;
      Result<double> inner = sum();
      if (!inner) return inner;
      if (!take(')')) {
        if (pos_ >= text_.size()) {
          return fail(pos_, "expected ')' to close the '(' at " + column_text(open));
        }
        return unexpected("')' to close the '(' at " + column_text(open));
      }
      return inner;
    }
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha) return unexpected("a number, a name or '('");
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           ((text_[pos_] >= 'a' && text_[pos_] <= 'z') || (text_[pos_] >= 'A' && text_[pos_] <= 'Z') ||
            (text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '_')) {
      ++pos_;
    }
    const std::string name(text_.substr(start, pos_ - start));
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      if (!is_function(name)) return fail(start, "unknown function '" + name + "'");
      const size_t open = pos_++;
      std::vector<double> args;
      if (!take(')')) {
        for (;;) {
          Result<double> arg = sum();
          if (!arg) return arg;
          args.push_back(*arg);
          if (take(')')) break;
          if (!take(',')) {
            if (pos_ >= text_.size()) {
              return fail(pos_, "expected ',' or ')' to close the '(' at " + column_text(open));
            }
            return unexpected("',' or ')'");
          }
        }
      }
      return call(name, start, args);
    }
    if (name == "pi") return std::numbers::pi;
    if (name == "e") return std::numbers::e;
    return fail(start, "unknown name '" + name + "' (constants: pi, e)");
  }

  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<double> evaluate_expression(std::string_view expression) {
  if (expression.size() > kCalculatorMaxLength) {
    return Error{"the expression is longer than " + std::to_string(kCalculatorMaxLength) +
                 " characters"};
  }
  return Evaluator(expression).run();
}

std::string format_number(double value) {
  if (value == 0) return "0";  // also turns -0 into 0
  if (std::fabs(value) < 9007199254740992.0 && value == std::floor(value)) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

ToolDefinition make_calculator_tool() {
  ToolDefinition tool;
  tool.spec.name = "calculator";
  tool.spec.description =
      "Evaluate an arithmetic expression exactly as written. Supports + - * / % ^, parentheses, "
      "sqrt abs sin cos tan log exp round floor ceil min max, and the constants pi and e.";
  tool.spec.parameters = {
      {"type", "object"},
      {"properties",
       {{"expression", {{"type", "string"}, {"description", "for example: (2 + 3) * sqrt(16)"}}}}},
      {"required", {"expression"}}};
  tool.handler = [](const nlohmann::json& arguments) {
    const std::string expression = arguments.at("expression").get<std::string>();
    Result<double> value = evaluate_expression(expression);
    if (!value) return ToolResult::error("calculator: " + value.message());
    const std::string text = format_number(*value);
    return ToolResult::ok(text, {{"expression", expression}, {"value", *value}});
  };
  return tool;
}

}  // namespace cove::assistant
