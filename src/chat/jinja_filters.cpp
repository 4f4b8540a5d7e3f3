// Filters: `value | name(arguments)`.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_interpreter.h"

namespace cove::chat::jinja {

namespace {

using namespace detail;  // is_space, ascii_upper, is_integral, ...

std::string lower_ascii(std::string s) {
  for (char& c : s) c = ascii_lower(c);
  return s;
}

// `attribute='function.name'` in map, sort, selectattr...: dotted path, integers index lists.
Value attribute_path(const Value& object, const Value& path) {
  if (is_integral(path)) return get_item(object, path);
  std::string text = to_str(path);
  Value current = object;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string part =
        text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    int64_t index = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
    if (ec == std::errc() && ptr == part.data() + part.size() && !part.empty()) {
      current = get_item(current, Value(index));
    } else {
      current = get_attribute(current, part);
    }
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

// The ordering key of sort, unique, dictsort, min and max: strings compare case-insensitively
// unless asked otherwise.
Value sort_key(const Value& value, bool case_sensitive) {
  if (!case_sensitive && value.is_string()) return lower_ascii(value.as_string());
  return value;
}

// Arguments after the first `skip` positional ones, for passing on to a filter or test.
Arguments remaining_arguments(const Arguments& arguments, size_t skip) {
  Arguments rest;
  for (size_t i = skip; i < arguments.positional.size(); ++i) {
    rest.positional.push_back(arguments.positional[i]);
  }
  rest.keyword = arguments.keyword;
  return rest;
}

const std::string& require_string(std::string_view filter, const Value& v) {
  if (!v.is_string()) {
    throw_render_error("filter '" + std::string(filter) + "' expects a string, got " +
                       std::string(v.type_name()));
  }
  return v.as_string();
}

// ---------------------------------------------------------------------------------------------
// Filters

Value filter_default(Interpreter&, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("default", arguments, {"default_value", "boolean"});
  bool use_default = input.is_undefined() || (a[1].truthy() && !input.truthy());
  if (!use_default) return input;
  return a[0].is_undefined() ? Value(std::string()) : a[0];
}

Value filter_length(Interpreter&, const Value& input, Arguments& arguments) {
  bind_arguments("length", arguments, {});
  switch (input.kind()) {
    case ValueKind::kUndefined:
      return 0;
    case ValueKind::kString:
      return static_cast<int64_t>(utf8_length(input.as_string()));
    case ValueKind::kList:
      return static_cast<int64_t>(input.list().size());
    case ValueKind::kDict:
      return static_cast<int64_t>(input.dict().size());
    default:
      throw_render_error("object of type '" + std::string(input.type_name()) + "' has no len()");
  }
}

Value filter_first(Interpreter&, const Value& input, Arguments& arguments) {
  bind_arguments("first", arguments, {});
  ValueList items = iterate(input);
  return items.empty() ? Value::undefined("first") : items.front();
}

Value filter_last(Interpreter&, const Value& input, Arguments& arguments) {
  bind_arguments("last", arguments, {});
  ValueList items = iterate(input);
  return items.empty() ? Value::undefined("last") : items.back();
}

Value filter_join(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("join", arguments, {"d", "attribute"});
  std::string separator = a[0].is_undefined() ? "" : to_str(a[0]);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(input)) {
    if (!first) out += separator;
    first = false;
    out += to_str(a[1].is_undefined() ? item : attribute_path(item, a[1]));
    interpreter.check_string_size(out.size());
  }
  interpreter.charge_bytes(out.size());
  return out;
}

Value filter_case(Interpreter& interpreter, const Value& input, Arguments& arguments,
                  std::string_view name) {
  bind_arguments(name, arguments, {});
  std::string s = to_str(input);
  interpreter.charge_bytes(s.size());
  if (name == "upper") {
    for (char& c : s) c = ascii_upper(c);
  } else if (name == "lower") {
    for (char& c : s) c = ascii_lower(c);
  } else if (name == "capitalize") {
    for (size_t i = 0; i < s.size(); ++i) s[i] = i == 0 ? ascii_upper(s[i]) : ascii_lower(s[i]);
  } else {  // title: Jinja upcases the first letter of each word, words split at -, space, brackets
    bool word_start = true;
    for (char& c : s) {
      bool separator = is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
      c = separator ? c : word_start ? ascii_upper(c) : ascii_lower(c);
      word_start = separator;
    }
  }
  return s;
}

Value filter_upper(Interpreter& i, const Value& v, Arguments& a) {
  return filter_case(i, v, a, "upper");
}
Value filter_lower(Interpreter& i, const Value& v, Arguments& a) {
  return filter_case(i, v, a, "lower");
}
Value filter_capitalize(Interpreter& i, const Value& v, Arguments& a) {
  return filter_case(i, v, a, "capitalize");
}
Value filter_title(Interpreter& i, const Value& v, Arguments& a) {
  return filter_case(i, v, a, "title");
}

Value filter_trim(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("trim", arguments, {"chars"});
  std::string s = to_str(input);
  interpreter.charge_bytes(s.size());
  return strip_chars(s, a[0], true, true);
}

Value filter_replace(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  // The string method has the same signature and rules.
  Value method = get_attribute(Value(to_str(input)), "replace");
  return interpreter.call(method, arguments);
}

Value filter_list(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  bind_arguments("list", arguments, {});
  ValueList items = iterate(input);
  interpreter.charge(items.size());
  return Value::make_list(std::move(items));
}

Value filter_safe(Interpreter&, const Value& input, Arguments& arguments) {
  bind_arguments("safe", arguments, {});
  return input;
}

Value filter_string(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  bind_arguments("string", arguments, {});
  std::string s = to_str(input);
  interpreter.charge_bytes(s.size());
  return s;
}

Value filter_escape(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  bind_arguments("escape", arguments, {});
  std::string out;
  for (char c : to_str(input)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  interpreter.check_string_size(out.size());
  return out;
}

std::optional<double> parse_float(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Value filter_int(Interpreter&, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("int", arguments, {"default", "base"});
  Value fallback = a[0].is_undefined() ? Value(0) : a[0];
  int base = is_integral(a[1]) ? static_cast<int>(integral(a[1])) : 10;
  if (is_integral(input)) return integral(input);
  if (input.is_float()) {
    double d = input.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return static_cast<int64_t>(d);
  }
  if (!input.is_string()) return fallback;
  std::string_view text = input.as_string();
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  if (base == 16 && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
  }
  uint64_t magnitude = 0;
  if (base >= 2 && base <= 36 && !text.empty()) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), magnitude, base);
    if (ec == std::errc() && ptr == text.data() + text.size() && magnitude <= INT64_MAX) {
      return negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
    }
  }
  if (std::optional<double> d = parse_float(input.as_string())) {  // '3.7' | int is 3
    if (std::isfinite(*d) && std::fabs(*d) < 9.2e18) return static_cast<int64_t>(*d);
  }
  return fallback;
}

Value filter_float(Interpreter&, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("float", arguments, {"default"});
  Value fallback = a[0].is_undefined() ? Value(0.0) : a[0];
  if (input.is_number() || input.is_bool()) return input.as_double();
  if (input.is_string()) {
    if (std::optional<double> d = parse_float(input.as_string())) return *d;
  }
  return fallback;
}

Value filter_abs(Interpreter&, const Value& input, Arguments& arguments) {
  bind_arguments("abs", arguments, {});
  if (input.is_float()) return std::fabs(input.as_double());
  if (!is_integral(input)) {
    throw_render_error("bad operand type for abs(): '" + std::string(input.type_name()) + "'");
  }
  int64_t i = integral(input);
  if (i == INT64_MIN) throw_render_error("integer overflow");
  return i < 0 ? -i : i;
}

// Python's round(): halves go to the even neighbour. With a precision, the value is scaled by
// 10^precision first, which can differ from Python in the last digit for values like 2.675.
Value filter_round(Interpreter&, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("round", arguments, {"precision", "method"});
  int64_t precision = is_integral(a[0]) ? integral(a[0]) : 0;
  std::string method = a[1].is_undefined() ? "common" : to_str(a[1]);
  if (method != "common" && method != "ceil" && method != "floor") {
    throw_render_error("method must be 'common', 'ceil' or 'floor'");
  }
  if (!input.is_number() && !input.is_bool()) {
    throw_render_error("round expects a number, got " + std::string(input.type_name()));
  }
  if (is_integral(input) && method == "common" && precision >= 0) return integral(input);
  precision = std::clamp<int64_t>(precision, -20, 20);
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = input.as_double() * scale;
  x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
  return x / scale;
}

Value filter_map(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  ValueList items = iterate(input);
  interpreter.charge(items.size());
  ValueList out;
  out.reserve(items.size());
  const Value* attribute = nullptr;
  const Value* fallback = nullptr;
  for (const auto& [key, value] : arguments.keyword) {
    if (key == "attribute") attribute = &value;
    if (key == "default") fallback = &value;
  }
  if (attribute != nullptr) {  // map(attribute='name', default=...)
    for (const Value& item : items) {
      Value v = attribute_path(item, *attribute);
      out.push_back(v.is_undefined() && fallback != nullptr ? *fallback : v);
    }
    return Value::make_list(std::move(out));
  }
  if (arguments.positional.empty()) throw_render_error("map() needs a filter name or attribute=");
  std::string name = to_str(arguments.positional[0]);
  FilterFunction filter = find_filter(name);
  if (filter == nullptr) throw_render_error("unknown filter '" + name + "'");
  for (const Value& item : items) {
    Arguments rest = remaining_arguments(arguments, 1);
    out.push_back(filter(interpreter, item, rest));
  }
  return Value::make_list(std::move(out));
}

// select / reject / selectattr / rejectattr share one loop.
Value filter_select_common(Interpreter& interpreter, const Value& input, Arguments& arguments,
                           bool by_attribute, bool keep_when) {
  ValueList items = iterate(input);
  interpreter.charge(items.size());
  size_t next = 0;
  Value attribute;
  if (by_attribute) {
    if (arguments.positional.empty()) throw_render_error("selectattr needs an attribute name");
    attribute = arguments.positional[next++];
  }
  TestFunction test = nullptr;
  if (next < arguments.positional.size()) {
    std::string name = to_str(arguments.positional[next++]);
    test = find_test(name);
    if (test == nullptr) throw_render_error("unknown test '" + name + "'");
  }
  ValueList out;
  for (const Value& item : items) {
    Value subject = by_attribute ? attribute_path(item, attribute) : item;
    bool passes;
    if (test == nullptr) {
      passes = subject.truthy();
    } else {
      Arguments rest = remaining_arguments(arguments, next);
      passes = test(interpreter, subject, rest);
    }
    if (passes == keep_when) out.push_back(item);
  }
  return Value::make_list(std::move(out));
}

Value filter_select(Interpreter& i, const Value& v, Arguments& a) {
  return filter_select_common(i, v, a, false, true);
}
Value filter_reject(Interpreter& i, const Value& v, Arguments& a) {
  return filter_select_common(i, v, a, false, false);
}
Value filter_selectattr(Interpreter& i, const Value& v, Arguments& a) {
  return filter_select_common(i, v, a, true, true);
}
Value filter_rejectattr(Interpreter& i, const Value& v, Arguments& a) {
  return filter_select_common(i, v, a, true, false);
}

Value filter_unique(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("unique", arguments, {"case_sensitive", "attribute"});
  ValueList items = iterate(input);
  interpreter.charge(items.size() * 2);
  ValueList out;
  ValueList seen_keys;
  Value seen = Value::make_dict();  // hashable keys go here; others are compared one by one
  for (const Value& item : items) {
    Value key = sort_key(a[1].is_undefined() ? item : attribute_path(item, a[1]), a[0].truthy());
    bool hashable = key.is_string() || key.is_number() || key.is_bool() || key.is_none();
    bool duplicate = false;
    if (hashable) {
      duplicate = seen.dict().find(key) != nullptr;
      if (!duplicate) seen.dict().set(key, true);
    } else {
      for (const Value& previous : seen_keys) duplicate = duplicate || values_equal(previous, key);
      if (!duplicate) seen_keys.push_back(key);
    }
    if (!duplicate) out.push_back(item);
  }
  return Value::make_list(std::move(out));
}

Value filter_sort(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a =
      bind_arguments("sort", arguments, {"reverse", "case_sensitive", "attribute"});
  ValueList items = iterate(input);
  interpreter.charge(items.size() * 4);
  bool reverse = a[0].truthy();
  bool case_sensitive = a[1].truthy();
  std::vector<std::pair<Value, Value>> keyed;  // (key, item)
  for (const Value& item : items) {
    keyed.emplace_back(
        sort_key(a[2].is_undefined() ? item : attribute_path(item, a[2]), case_sensitive), item);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare_values(y.first, x.first) < 0 : compare_values(x.first, y.first) < 0;
  });
  ValueList out;
  for (auto& [key, item] : keyed) out.push_back(std::move(item));
  return Value::make_list(std::move(out));
}

Value filter_reverse(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  bind_arguments("reverse", arguments, {});
  ValueList items = iterate(input);
  interpreter.charge(items.size());
  std::reverse(items.begin(), items.end());
  if (input.is_string()) {
    std::string out;
    for (const Value& c : items) out += c.as_string();
    return out;
  }
  return Value::make_list(std::move(items));
}

Value filter_items(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  bind_arguments("items", arguments, {});
  if (input.is_undefined()) return Value::make_list();
  if (!input.is_dict()) throw_render_error("items filter expects a mapping");
  Value method = get_attribute(input, "items");
  Arguments none;
  return interpreter.call(method, none);
}

Value filter_dictsort(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("dictsort", arguments, {"case_sensitive", "by", "reverse"});
  if (!input.is_dict()) throw_render_error("dictsort expects a mapping");
  bool by_value = !a[1].is_undefined() && to_str(a[1]) == "value";
  if (!a[1].is_undefined() && !by_value && to_str(a[1]) != "key") {
    throw_render_error("You can only sort by either 'key' or 'value'");
  }
  std::vector<ValueDict::Entry> entries = input.dict().entries();
  interpreter.charge(entries.size() * 4);
  bool case_sensitive = a[0].truthy();
  bool reverse = a[2].truthy();
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    Value kx = sort_key(by_value ? x.second : x.first, case_sensitive);
    Value ky = sort_key(by_value ? y.second : y.first, case_sensitive);
    return reverse ? compare_values(ky, kx) < 0 : compare_values(kx, ky) < 0;
  });
  ValueList out;
  for (auto& [key, value] : entries) out.push_back(Value::make_tuple({key, value}));
  return Value::make_list(std::move(out));
}

// Jinja's indent: every line but the first (unless first=true) gets the prefix; blank lines
// only with blank=true.
Value filter_indent(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("indent", arguments, {"width", "first", "blank"});
  std::string prefix;
  if (a[0].is_string()) {
    prefix = a[0].as_string();
  } else {
    int64_t width = a[0].is_undefined()
                        ? 4
                        : std::clamp<int64_t>(is_integral(a[0]) ? integral(a[0]) : 4, 0, 1024);
    prefix.assign(static_cast<size_t>(width), ' ');
  }
  std::string text = to_str(input) + "\n";  // as Jinja does, so a trailing newline survives
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    bool indent = (i > 0 || a[1].truthy()) && (a[2].truthy() || !lines[i].empty());
    if (indent) out += prefix;
    out += lines[i];
    interpreter.check_string_size(out.size());
  }
  interpreter.charge_bytes(out.size());
  return out;
}

Value filter_batch(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("batch", arguments, {"linecount", "fill_with"});
  if (!is_integral(a[0]) || integral(a[0]) <= 0) throw_render_error("batch size must be positive");
  auto size = static_cast<size_t>(integral(a[0]));
  ValueList items = iterate(input);
  interpreter.charge(items.size());
  ValueList out;
  for (size_t i = 0; i < items.size(); i += size) {
    ValueList row(items.begin() + static_cast<std::ptrdiff_t>(i),
                  items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + size)));
    if (!a[1].is_undefined()) {
      interpreter.charge(size);  // before the padding is allocated
      row.resize(size, a[1]);
    }
    out.push_back(Value::make_list(std::move(row)));
  }
  return Value::make_list(std::move(out));
}

// HF's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value filter_tojson(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a =
      bind_arguments("tojson", arguments, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonFormat format;
  format.ensure_ascii = a[0].truthy();
  if (is_integral(a[1]))
    format.indent = static_cast<int>(std::clamp<int64_t>(integral(a[1]), 0, 64));
  if (!is_missing(a[2])) {
    ValueList parts = iterate(a[2]);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      throw_render_error("tojson separators must be a pair of strings");
    }
    format.separators = std::make_pair(parts[0].as_string(), parts[1].as_string());
  }
  format.sort_keys = a[3].truthy();
  std::string out = to_json(input, format);
  interpreter.check_string_size(out.size());
  interpreter.charge_bytes(out.size());
  return out;
}

Value filter_sum(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("sum", arguments, {"attribute", "start"});
  ValueList items = iterate(input);
  interpreter.charge(items.size());
  bool use_float = a[1].is_float();
  int64_t int_total = is_integral(a[1]) ? integral(a[1]) : 0;
  double float_total = use_float ? a[1].as_double() : 0.0;
  for (const Value& item : items) {
    Value v = a[0].is_undefined() ? item : attribute_path(item, a[0]);
    if (!v.is_number() && !v.is_bool()) throw_render_error("sum expects numbers");
    if (!use_float && is_integral(v)) {
      int64_t sum;
      if (!__builtin_add_overflow(int_total, integral(v), &sum)) {
        int_total = sum;
        continue;
      }
    }
    if (!use_float) float_total = static_cast<double>(int_total);
    use_float = true;
    float_total += v.as_double();
  }
  return use_float ? Value(float_total) : Value(int_total);
}

Value filter_min_max(Interpreter& interpreter, const Value& input, Arguments& arguments,
                     bool want_max) {
  std::vector<Value> a =
      bind_arguments(want_max ? "max" : "min", arguments, {"case_sensitive", "attribute"});
  ValueList items = iterate(input);
  interpreter.charge(items.size());
  const Value* best = nullptr;
  Value best_key;
  for (const Value& item : items) {
    Value key = sort_key(a[1].is_undefined() ? item : attribute_path(item, a[1]), a[0].truthy());
    if (best == nullptr ||
        (want_max ? compare_values(key, best_key) > 0 : compare_values(key, best_key) < 0)) {
      best = &item;
      best_key = key;
    }
  }
  return best == nullptr ? Value::undefined(want_max ? "max" : "min") : *best;
}

Value filter_max(Interpreter& i, const Value& v, Arguments& a) {
  return filter_min_max(i, v, a, true);
}
Value filter_min(Interpreter& i, const Value& v, Arguments& a) {
  return filter_min_max(i, v, a, false);
}

Value filter_attr(Interpreter&, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("attr", arguments, {"name"});
  return get_attribute(input, to_str(a[0]));
}

Value filter_center(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("center", arguments, {"width"});
  std::string s = to_str(input);
  int64_t width = is_integral(a[0]) ? std::min<int64_t>(integral(a[0]), 4096) : 80;
  auto length = static_cast<int64_t>(utf8_length(s));
  if (width <= length) return s;
  // Python's str.center puts the extra space on the right when the padding is odd.
  int64_t left = (width - length) / 2 + ((width - length) & width & 1);
  std::string out(static_cast<size_t>(left), ' ');
  out += s;
  out.append(static_cast<size_t>(width - length - left), ' ');
  interpreter.charge_bytes(out.size());
  return out;
}

Value filter_wordcount(Interpreter&, const Value& input, Arguments& arguments) {
  bind_arguments("wordcount", arguments, {});
  int64_t words = 0;
  bool in_word = false;
  for (char c : to_str(input)) {
    bool space = is_space(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

// "%s and %d" | format(a, b)
Value filter_format(Interpreter& interpreter, const Value& input, Arguments& arguments) {
  if (!arguments.keyword.empty()) throw_render_error("format() takes positional arguments only");
  return percent_format(interpreter, require_string("format", input), arguments.positional);
}

struct NamedFilter {
  std::string_view name;
  FilterFunction function;
};

constexpr NamedFilter kFilters[] = {
    {"abs", filter_abs},
    {"attr", filter_attr},
    {"batch", filter_batch},
    {"capitalize", filter_capitalize},
    {"center", filter_center},
    {"count", filter_length},
    {"d", filter_default},
    {"default", filter_default},
    {"dictsort", filter_dictsort},
    {"e", filter_escape},
    {"escape", filter_escape},
    {"first", filter_first},
    {"float", filter_float},
    {"format", filter_format},
    {"indent", filter_indent},
    {"int", filter_int},
    {"items", filter_items},
    {"join", filter_join},
    {"last", filter_last},
    {"length", filter_length},
    {"list", filter_list},
    {"lower", filter_lower},
    {"map", filter_map},
    {"max", filter_max},
    {"min", filter_min},
    {"reject", filter_reject},
    {"rejectattr", filter_rejectattr},
    {"replace", filter_replace},
    {"reverse", filter_reverse},
    {"round", filter_round},
    {"safe", filter_safe},
    {"select", filter_select},
    {"selectattr", filter_selectattr},
    {"sort", filter_sort},
    {"string", filter_string},
    {"sum", filter_sum},
    {"title", filter_title},
    {"tojson", filter_tojson},
    {"trim", filter_trim},
    {"unique", filter_unique},
    {"upper", filter_upper},
    {"wordcount", filter_wordcount},
};

}  // namespace

std::string percent_format(Interpreter& interpreter, const std::string& pattern,
                           const ValueList& arguments) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') {
      out += pattern[i];
      continue;
    }
    if (++i >= pattern.size()) throw_render_error("incomplete format");
    int precision = -1;
    if (pattern[i] == '.') {
      precision = 0;
      while (++i < pattern.size() && pattern[i] >= '0' && pattern[i] <= '9' && precision < 100) {
        precision = precision * 10 + (pattern[i] - '0');
      }
      if (i >= pattern.size()) throw_render_error("incomplete format");
    }
    char conversion = pattern[i];
    if (conversion == '%') {
      out += '%';
      continue;
    }
    if (next >= arguments.size()) throw_render_error("not enough arguments for format string");
    const Value& v = arguments[next++];
    if (conversion == 's') {
      out += to_str(v);
    } else if (conversion == 'r') {
      out += to_repr(v);
    } else if (conversion == 'd' || conversion == 'i' || conversion == 'f') {
      if (!v.is_number() && !v.is_bool()) {
        throw_render_error(std::string("%") + conversion + " format: a number is required, not " +
                           std::string(v.type_name()));
      }
      char buffer[512];
      if (conversion == 'f') {
        std::snprintf(buffer, sizeof(buffer), "%.*f", precision < 0 ? 6 : precision, v.as_double());
      } else {  // Python truncates floats toward zero for %d
        double d = std::trunc(v.as_double());
        if (!v.is_float()) {
          std::snprintf(buffer, sizeof(buffer), "%lld", static_cast<long long>(integral(v)));
        } else if (std::isfinite(d) && std::fabs(d) < 9.2e18) {
          std::snprintf(buffer, sizeof(buffer), "%lld", static_cast<long long>(d));
        } else {
          std::snprintf(buffer, sizeof(buffer), "%.0f", d);
        }
      }
      out += buffer;
    } else {
      throw_render_error(std::string("unsupported format character '") + conversion + "'");
    }
    interpreter.check_string_size(out.size());
  }
  if (next < arguments.size()) {
    throw_render_error("not all arguments converted during string formatting");
  }
  interpreter.charge_bytes(out.size());
  return out;
}

FilterFunction find_filter(std::string_view name) {
  for (const NamedFilter& filter : kFilters) {
    if (filter.name == name) return filter.function;
  }
  return nullptr;
}

}  // namespace cove::chat::jinja
