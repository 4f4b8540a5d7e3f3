// Tests: `value is name(arguments)`, and the same functions for select/reject.
#include <cmath>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_interpreter.h"

namespace cove::chat::jinja {

namespace {

using namespace detail;  // is_integral, integral

// ---------------------------------------------------------------------------------------------
// Tests

bool test_defined(Interpreter&, const Value& v, Arguments&) {
  return !v.is_undefined();
}
bool test_undefined(Interpreter&, const Value& v, Arguments&) {
  return v.is_undefined();
}
bool test_none(Interpreter&, const Value& v, Arguments&) {
  return v.is_none();
}
bool test_string(Interpreter&, const Value& v, Arguments&) {
  return v.is_string();
}
bool test_number(Interpreter&, const Value& v, Arguments&) {
  return v.is_number() || v.is_bool();
}
bool test_integer(Interpreter&, const Value& v, Arguments&) {
  return v.is_int();
}
bool test_float(Interpreter&, const Value& v, Arguments&) {
  return v.is_float();
}
bool test_boolean(Interpreter&, const Value& v, Arguments&) {
  return v.is_bool();
}
bool test_true(Interpreter&, const Value& v, Arguments&) {
  return v.is_bool() && v.as_bool();
}
bool test_false(Interpreter&, const Value& v, Arguments&) {
  return v.is_bool() && !v.as_bool();
}
bool test_mapping(Interpreter&, const Value& v, Arguments&) {
  return v.is_dict();
}
bool test_callable(Interpreter&, const Value& v, Arguments&) {
  return v.is_callable();
}
// Jinja's undefined is iterable and a sequence (it iterates as empty and has a length).
bool test_iterable(Interpreter&, const Value& v, Arguments&) {
  return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
bool test_sequence(Interpreter& i, const Value& v, Arguments& a) {
  return test_iterable(i, v, a);
}

int64_t require_integer_test(const Value& v, std::string_view test) {
  if (is_integral(v)) return integral(v);
  if (v.is_float() && std::floor(v.as_double()) == v.as_double() &&
      std::fabs(v.as_double()) < 9e18) {
    return static_cast<int64_t>(v.as_double());
  }
  throw_render_error("test '" + std::string(test) + "' expects an integer, got " +
                     std::string(v.type_name()));
}

bool test_odd(Interpreter&, const Value& v, Arguments&) {
  return require_integer_test(v, "odd") % 2 != 0;
}
bool test_even(Interpreter&, const Value& v, Arguments&) {
  return require_integer_test(v, "even") % 2 == 0;
}

bool test_divisibleby(Interpreter&, const Value& v, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("divisibleby", arguments, {"num"});
  int64_t divisor = require_integer_test(a[0], "divisibleby");
  if (divisor == 0) throw_render_error("integer division or modulo by zero");
  if (divisor == -1) return true;
  return require_integer_test(v, "divisibleby") % divisor == 0;
}

const Value& only_argument(std::string_view test, Arguments& arguments) {
  if (arguments.positional.size() != 1 || !arguments.keyword.empty()) {
    throw_render_error("test '" + std::string(test) + "' takes one argument");
  }
  return arguments.positional[0];
}

bool test_eq(Interpreter&, const Value& v, Arguments& a) {
  return values_equal(v, only_argument("eq", a));
}
bool test_ne(Interpreter&, const Value& v, Arguments& a) {
  return !values_equal(v, only_argument("ne", a));
}
bool test_lt(Interpreter&, const Value& v, Arguments& a) {
  return compare_values(v, only_argument("lt", a), "<") < 0;
}
bool test_le(Interpreter&, const Value& v, Arguments& a) {
  return compare_values(v, only_argument("le", a), "<=") <= 0;
}
bool test_gt(Interpreter&, const Value& v, Arguments& a) {
  return compare_values(v, only_argument("gt", a), ">") > 0;
}
bool test_ge(Interpreter&, const Value& v, Arguments& a) {
  return compare_values(v, only_argument("ge", a), ">=") >= 0;
}

bool test_in(Interpreter&, const Value& v, Arguments& arguments) {
  const Value& container = only_argument("in", arguments);
  if (container.is_string()) {
    return v.is_string() && container.as_string().find(v.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return container.dict().find(v) != nullptr;
  for (const Value& item : iterate(container)) {
    if (values_equal(item, v)) return true;
  }
  return false;
}

// `is sameas`: Python's `is`: the same container, or the same scalar of the same type.
bool test_sameas(Interpreter&, const Value& v, Arguments& arguments) {
  const Value& other = only_argument("sameas", arguments);
  if (v.kind() != other.kind()) return false;
  if (v.identity() != nullptr) return v.identity() == other.identity();
  return values_equal(v, other);
}

bool has_cased(const std::string& s, bool upper) {
  bool any = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      if (upper) return false;
      any = true;
    } else if (c >= 'A' && c <= 'Z') {
      if (!upper) return false;
      any = true;
    }
  }
  return any;
}
bool test_lower(Interpreter&, const Value& v, Arguments&) {
  return has_cased(to_str(v), false);
}
bool test_upper(Interpreter&, const Value& v, Arguments&) {
  return has_cased(to_str(v), true);
}

bool test_filter(Interpreter&, const Value& v, Arguments&) {
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
bool test_test(Interpreter&, const Value& v, Arguments&) {
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

struct NamedTest {
  std::string_view name;
  TestFunction function;
};

constexpr NamedTest kTests[] = {
    {"boolean", test_boolean},
    {"callable", test_callable},
    {"defined", test_defined},
    {"divisibleby", test_divisibleby},
    {"eq", test_eq},
    {"equalto", test_eq},
    {"==", test_eq},
    {"even", test_even},
    {"false", test_false},
    {"filter", test_filter},
    {"float", test_float},
    {"ge", test_ge},
    {">=", test_ge},
    {"gt", test_gt},
    {"greaterthan", test_gt},
    {">", test_gt},
    {"in", test_in},
    {"integer", test_integer},
    {"iterable", test_iterable},
    {"le", test_le},
    {"<=", test_le},
    {"lower", test_lower},
    {"lt", test_lt},
    {"lessthan", test_lt},
    {"<", test_lt},
    {"mapping", test_mapping},
    {"ne", test_ne},
    {"!=", test_ne},
    {"none", test_none},
    {"number", test_number},
    {"odd", test_odd},
    {"sameas", test_sameas},
    {"sequence", test_sequence},
    {"string", test_string},
    {"test", test_test},
    {"true", test_true},
    {"undefined", test_undefined},
    {"upper", test_upper},
};

}  // namespace

TestFunction find_test(std::string_view name) {
  for (const NamedTest& test : kTests) {
    if (test.name == name) return test.function;
  }
  return nullptr;
}

}  // namespace cove::chat::jinja
