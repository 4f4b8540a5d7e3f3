// Methods on strings, lists and dicts; attribute, item and slice access; global functions.
#include <algorithm>
#include <array>
#include <ctime>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_interpreter.h"

namespace cove::chat::jinja {

namespace {

using namespace detail;  // is_space, ascii_upper, is_integral, ...

bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

const std::string& require_string(std::string_view function, const Value& v) {
  if (!v.is_string()) {
    throw_render_error(std::string(function) + "() argument must be str, not " +
                       std::string(v.type_name()));
  }
  return v.as_string();
}

int64_t require_int(std::string_view function, const Value& v) {
  if (!is_integral(v)) {
    throw_render_error(std::string(function) + "() argument must be an integer, not " +
                       std::string(v.type_name()));
  }
  return integral(v);
}

// Refuses to put a container inside itself: a reference cycle would never be freed.
void check_no_cycle(Interpreter& interpreter, const Value& container, const Value& item) {
  bool cycle = value_contains(item, container.identity());
  interpreter.charge(0);  // the search's cost
  if (cycle) {
    throw_render_error("cannot put a " + std::string(container.type_name()) + " inside itself");
  }
}

// Python's (start, stop) adjustment for a sequence of `length` items and a step.
void adjust_slice(int64_t length, int64_t step, const Value& start_value, const Value& stop_value,
                  int64_t& start, int64_t& stop) {
  int64_t lower = step > 0 ? 0 : -1;
  int64_t upper = step > 0 ? length : length - 1;
  auto adjust = [&](const Value& v, int64_t missing) {
    if (is_missing(v)) return missing;
    int64_t i = require_int("slice", v);
    if (i < 0) {
      i = i < -length ? lower : i + length;
      return std::max(i, lower);
    }
    return std::min(i, upper);
  };
  start = adjust(start_value, step > 0 ? lower : upper);
  stop = adjust(stop_value, step > 0 ? upper : lower);
}

template <class Visit>
void for_each_slice_index(int64_t start, int64_t stop, int64_t step, Visit visit) {
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    visit(i);
    // Stop before stepping past `stop`; this also keeps `i += step` from overflowing.
    if (step > 0 ? stop - i <= step : i - stop <= -step) break;
    i += step;
  }
}

// ---------------------------------------------------------------------------------------------
// String methods

std::vector<std::string> split_string(const std::string& s, const Value& separator,
                                      int64_t max_split) {
  std::vector<std::string> parts;
  if (is_missing(separator)) {  // runs of whitespace; no empty parts
    size_t i = 0;
    while (true) {
      while (i < s.size() && is_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        size_t end = s.size();
        while (end > i && is_space(s[end - 1])) --end;
        parts.push_back(s.substr(i, end - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_space(s[j])) ++j;
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  const std::string& sep = require_string("split", separator);
  if (sep.empty()) throw_render_error("empty separator");
  size_t start = 0;
  while (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) {
    size_t at = s.find(sep, start);
    if (at == std::string::npos) break;
    parts.push_back(s.substr(start, at - start));
    start = at + sep.size();
  }
  parts.push_back(s.substr(start));
  return parts;
}

bool matches_affix(std::string_view method, const std::string& s, const Value& affix, bool prefix) {
  auto test = [&](const Value& candidate) {
    const std::string& a = require_string(method, candidate);
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0
                  : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    for (const Value& candidate : affix.list()) {
      if (test(candidate)) return true;
    }
    return false;
  }
  return test(affix);
}

// Python's str.title on ASCII letters: a letter after a letter is lowered, any other upcased.
std::string python_title(const std::string& s) {
  std::string out = s;
  bool previous_letter = false;
  for (char& c : out) {
    if (is_ascii_letter(c)) {
      c = previous_letter ? ascii_lower(c) : ascii_upper(c);
      previous_letter = true;
    } else {
      previous_letter = false;
    }
  }
  return out;
}

std::string replace_all(Interpreter& interpreter, const std::string& s, const std::string& from,
                        const std::string& to, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (from.empty()) {  // Python inserts `to` around every character
    std::vector<size_t> offsets = utf8_char_offsets(s);
    offsets.push_back(s.size());
    for (size_t k = 0; k < offsets.size(); ++k) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (k + 1 < offsets.size()) out.append(s, offsets[k], offsets[k + 1] - offsets[k]);
      interpreter.check_string_size(out.size());
    }
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    size_t at = s.find(from, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += to;
    start = at + from.size();
    ++done;
    interpreter.check_string_size(out.size());
  }
  out.append(s, start, std::string::npos);
  interpreter.check_string_size(out.size());
  interpreter.charge_bytes(out.size());
  return out;
}

Value string_method(Interpreter& interpreter, const Value& self, std::string_view name,
                    Arguments& arguments) {
  const std::string& s = self.as_string();
  interpreter.charge_bytes(s.size());
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    std::vector<Value> a = bind_arguments(name, arguments, {"chars"});
    return strip_chars(s, a[0], name != "rstrip", name != "lstrip");
  }
  if (name == "split") {
    std::vector<Value> a = bind_arguments(name, arguments, {"sep", "maxsplit"});
    int64_t max_split = is_missing(a[1]) ? -1 : require_int(name, a[1]);
    ValueList parts;
    for (std::string& part : split_string(s, a[0], max_split)) parts.emplace_back(std::move(part));
    return Value::make_list(std::move(parts));
  }
  if (name == "splitlines") {
    ValueList lines;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\n' && s[i] != '\r') continue;
      lines.emplace_back(s.substr(start, i - start));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
    if (start < s.size()) lines.emplace_back(s.substr(start));
    return Value::make_list(std::move(lines));
  }
  if (name == "startswith" || name == "endswith") {
    std::vector<Value> a = bind_arguments(name, arguments, {"affix"});
    return matches_affix(name, s, a[0], name == "startswith");
  }
  if (name == "upper" || name == "lower") {
    bind_arguments(name, arguments, {});
    std::string out = s;
    for (char& c : out) c = name == "upper" ? ascii_upper(c) : ascii_lower(c);
    return out;
  }
  if (name == "title") {
    bind_arguments(name, arguments, {});
    return python_title(s);
  }
  if (name == "capitalize") {
    bind_arguments(name, arguments, {});
    std::string out = s;
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = i == 0 ? ascii_upper(out[i]) : ascii_lower(out[i]);
    return out;
  }
  if (name == "replace") {
    std::vector<Value> a = bind_arguments(name, arguments, {"old", "new", "count"});
    int64_t count = is_missing(a[2]) ? -1 : require_int(name, a[2]);
    return replace_all(interpreter, s, require_string(name, a[0]), require_string(name, a[1]),
                       count);
  }
  if (name == "find" || name == "count") {
    std::vector<Value> a = bind_arguments(name, arguments, {"sub"});
    const std::string& sub = require_string(name, a[0]);
    if (name == "find") {
      size_t at = s.find(sub);
      if (at == std::string::npos) return -1;
      return static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, at)));
    }
    if (sub.empty()) return static_cast<int64_t>(utf8_length(s) + 1);
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return n;
  }
  if (name == "join") {
    std::vector<Value> a = bind_arguments(name, arguments, {"iterable"});
    std::string out;
    bool first = true;
    for (const Value& item : iterate(a[0])) {
      if (!first) out += s;
      first = false;
      out += to_str(item);
      interpreter.check_string_size(out.size());
    }
    interpreter.charge_bytes(out.size());
    return out;
  }
  throw_render_error("str has no method '" + std::string(name) + "'");
}

constexpr std::array<std::string_view, 15> kStringMethods = {
    "strip", "lstrip", "rstrip",     "split",   "splitlines", "startswith", "endswith", "upper",
    "lower", "title",  "capitalize", "replace", "find",       "count",      "join"};

// ---------------------------------------------------------------------------------------------
// List and dict methods

Value list_method(Interpreter& interpreter, const Value& self, std::string_view name,
                  Arguments& arguments) {
  ValueList& items = self.list();
  if (name == "append") {
    std::vector<Value> a = bind_arguments(name, arguments, {"item"});
    check_no_cycle(interpreter, self, a[0]);
    interpreter.charge(1);
    items.push_back(std::move(a[0]));
    return Value::none();
  }
  if (name == "extend") {
    std::vector<Value> a = bind_arguments(name, arguments, {"iterable"});
    ValueList added = iterate(a[0]);
    for (const Value& item : added) check_no_cycle(interpreter, self, item);
    interpreter.charge(added.size());
    items.insert(items.end(), added.begin(), added.end());
    return Value::none();
  }
  if (name == "insert") {
    std::vector<Value> a = bind_arguments(name, arguments, {"index", "item"});
    check_no_cycle(interpreter, self, a[1]);
    auto n = static_cast<int64_t>(items.size());
    int64_t i = require_int(name, a[0]);
    i = i < 0 ? std::max<int64_t>(0, i + n) : std::min(i, n);
    interpreter.charge(items.size());
    items.insert(items.begin() + i, std::move(a[1]));
    return Value::none();
  }
  if (name == "pop") {
    std::vector<Value> a = bind_arguments(name, arguments, {"index"});
    if (items.empty()) throw_render_error("pop from empty list");
    auto n = static_cast<int64_t>(items.size());
    int64_t i = is_missing(a[0]) ? n - 1 : require_int(name, a[0]);
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw_render_error("pop index out of range");
    Value item = items[static_cast<size_t>(i)];
    interpreter.charge(items.size());
    items.erase(items.begin() + i);
    return item;
  }
  if (name == "index" || name == "count") {
    std::vector<Value> a = bind_arguments(name, arguments, {"item"});
    interpreter.charge(items.size());
    int64_t n = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!values_equal(items[i], a[0])) continue;
      if (name == "index") return static_cast<int64_t>(i);
      ++n;
    }
    if (name == "index") throw_render_error(to_repr(a[0]) + " is not in list");
    return n;
  }
  if (name == "copy") {
    bind_arguments(name, arguments, {});
    interpreter.charge(items.size());
    return Value::make_list(items);
  }
  throw_render_error("list has no method '" + std::string(name) + "'");
}

constexpr std::array<std::string_view, 7> kListMethods = {"append", "extend", "insert", "pop",
                                                          "index",  "count",  "copy"};

Value dict_method(Interpreter& interpreter, const Value& self, std::string_view name,
                  Arguments& arguments) {
  ValueDict& dict = self.dict();
  interpreter.charge(dict.size());
  // Tool-call arguments remember their JSON text; a mutated mapping no longer matches it.
  if (name == "pop" || name == "update") self.dict_object().json_text.reset();
  if (name == "items" || name == "keys" || name == "values") {
    bind_arguments(name, arguments, {});
    ValueList out;
    out.reserve(dict.size());
    for (const ValueDict::Entry& entry : dict.entries()) {
      if (name == "items") {
        out.push_back(Value::make_tuple({entry.first, entry.second}));
      } else {
        out.push_back(name == "keys" ? entry.first : entry.second);
      }
    }
    return Value::make_list(std::move(out));
  }
  if (name == "get") {
    std::vector<Value> a = bind_arguments(name, arguments, {"key", "default"});
    const Value* found = dict.find(a[0]);
    if (found != nullptr) return *found;
    return a[1].is_undefined() ? Value::none() : a[1];
  }
  if (name == "pop") {
    std::vector<Value> a = bind_arguments(name, arguments, {"key", "default"});
    const Value* found = dict.find(a[0]);
    if (found == nullptr) {
      if (a[1].is_undefined()) throw_render_error("KeyError: " + to_repr(a[0]));
      return a[1];
    }
    Value value = *found;
    dict.erase(a[0]);
    return value;
  }
  if (name == "update") {
    if (arguments.positional.size() > 1) throw_render_error("update expected at most 1 argument");
    std::vector<ValueDict::Entry> added;
    if (!arguments.positional.empty()) {
      const Value& other = arguments.positional[0];
      if (!other.is_dict()) throw_render_error("update() argument must be a dict");
      added = other.dict().entries();
    }
    for (auto& [key, value] : arguments.keyword) added.emplace_back(Value(key), value);
    for (const ValueDict::Entry& entry : added) check_no_cycle(interpreter, self, entry.second);
    for (ValueDict::Entry& entry : added) dict.set(std::move(entry.first), std::move(entry.second));
    return Value::none();
  }
  if (name == "copy") {
    bind_arguments(name, arguments, {});
    Value copy = Value::make_dict();
    copy.dict() = dict;
    return copy;
  }
  throw_render_error("dict has no method '" + std::string(name) + "'");
}

constexpr std::array<std::string_view, 7> kDictMethods = {"items", "keys",   "values", "get",
                                                          "pop",   "update", "copy"};

template <size_t N>
const std::string_view* find_name(const std::array<std::string_view, N>& names,
                                  std::string_view name) {
  for (const std::string_view& candidate : names) {
    if (candidate == name) return &candidate;
  }
  return nullptr;
}

// A method bound to its object. The name points into a static table, so the function captures
// nothing that needs freeing.
template <Value (*Method)(Interpreter&, const Value&, std::string_view, Arguments&)>
Value bind_method(const Value& object, const std::string_view* name) {
  return Value::make_function(
      std::string(*name),
      [name](Interpreter& interpreter, const Value& self, Arguments& arguments) {
        return Method(interpreter, self, *name, arguments);
      },
      object);
}

// ---------------------------------------------------------------------------------------------
// Global functions

Value range_function(Interpreter& interpreter, const Value&, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("range", arguments, {"start", "stop", "step"});
  int64_t start = 0, stop = 0, step = 1;
  if (a[1].is_undefined()) {
    stop = require_int("range", a[0]);
  } else {
    start = require_int("range", a[0]);
    stop = require_int("range", a[1]);
    if (!a[2].is_undefined()) step = require_int("range", a[2]);
  }
  if (step == 0) throw_render_error("range() arg 3 must not be zero");
  // Count without overflow: the range length in unsigned arithmetic.
  uint64_t count = 0;
  if (step > 0 && start < stop) {
    count = (static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) - 1) /
                static_cast<uint64_t>(step) +
            1;
  } else if (step < 0 && start > stop) {
    count = (static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) - 1) /
                (0 - static_cast<uint64_t>(step)) +
            1;
  }
  interpreter.charge(count);
  ValueList items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    items.emplace_back(
        static_cast<int64_t>(static_cast<uint64_t>(start) + i * static_cast<uint64_t>(step)));
  }
  return Value::make_list(std::move(items));
}

// namespace(a=1) or namespace({'a': 1}): an object whose attributes `set ns.a = ...` may change.
Value namespace_function(Interpreter&, const Value&, Arguments& arguments) {
  Value ns = Value::make_namespace();
  if (arguments.positional.size() > 1) throw_render_error("namespace() takes at most 1 argument");
  if (!arguments.positional.empty()) {
    const Value& initial = arguments.positional[0];
    if (!initial.is_dict()) throw_render_error("namespace() argument must be a dict");
    ns.attributes() = initial.dict();
  }
  for (auto& [key, value] : arguments.keyword) ns.attributes().set(Value(key), value);
  return ns;
}

Value dict_function(Interpreter&, const Value&, Arguments& arguments) {
  Value dict = Value::make_dict();
  if (arguments.positional.size() > 1) throw_render_error("dict() takes at most 1 argument");
  if (!arguments.positional.empty()) {
    const Value& initial = arguments.positional[0];
    if (initial.is_dict()) {
      dict.dict() = initial.dict();
    } else {
      for (const Value& pair : iterate(initial)) {
        ValueList parts = iterate(pair);
        if (parts.size() != 2) throw_render_error("dict() sequence elements must be pairs");
        dict.dict().set(parts[0], parts[1]);
      }
    }
  }
  for (auto& [key, value] : arguments.keyword) dict.dict().set(Value(key), value);
  return dict;
}

Value raise_exception_function(Interpreter&, const Value&, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("raise_exception", arguments, {"message"});
  throw TemplateError(ErrorKind::kRaised, to_str(a[0]));
}

// HF's strftime_now: the current local time through strftime.
Value strftime_now_function(Interpreter& interpreter, const Value&, Arguments& arguments) {
  std::vector<Value> a = bind_arguments("strftime_now", arguments, {"format"});
  const std::string& format = require_string("strftime_now", a[0]);
  if (format.empty()) return std::string();
  std::time_t now = interpreter.options().fixed_time.value_or(std::time(nullptr));
  std::tm local{};
  localtime_r(&now, &local);
  interpreter.check_string_size(format.size() * 16);
  // strftime returns 0 both for "too small" and for an empty result; 16 bytes per format byte
  // is more than any conversion needs, so 0 then means empty.
  std::string buffer(format.size() * 16 + 64, '\0');
  size_t n = std::strftime(buffer.data(), buffer.size(), format.c_str(), &local);
  buffer.resize(n);
  return buffer;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public helpers

std::vector<Value> bind_arguments(std::string_view function, const Arguments& arguments,
                                  std::initializer_list<std::string_view> parameters) {
  std::vector<Value> values(parameters.size());
  if (arguments.positional.size() > parameters.size()) {
    throw_render_error(std::string(function) + "() takes at most " +
                       std::to_string(parameters.size()) + " argument(s) (" +
                       std::to_string(arguments.positional.size()) + " given)");
  }
  for (size_t i = 0; i < arguments.positional.size(); ++i) values[i] = arguments.positional[i];
  for (const auto& [name, value] : arguments.keyword) {
    size_t i = 0;
    for (std::string_view parameter : parameters) {
      if (parameter == name) break;
      ++i;
    }
    if (i == parameters.size()) {
      throw_render_error(std::string(function) + "() got an unexpected keyword argument '" + name +
                         "'");
    }
    if (i < arguments.positional.size()) {
      throw_render_error(std::string(function) + "() got multiple values for argument '" + name +
                         "'");
    }
    values[i] = value;
  }
  return values;
}

std::string strip_chars(std::string_view text, const Value& chars, bool left, bool right) {
  auto strip = [&](char c) {
    if (is_missing(chars)) return is_space(c);
    return chars.is_string() && chars.as_string().find(c) != std::string::npos;
  };
  if (!is_missing(chars)) require_string("strip", chars);
  size_t begin = 0, end = text.size();
  if (left) {
    while (begin < end && strip(text[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip(text[end - 1])) --end;
  }
  return std::string(text.substr(begin, end - begin));
}

Value get_attribute(const Value& object, std::string_view name) {
  switch (object.kind()) {
    case ValueKind::kString:
      if (const std::string_view* method = find_name(kStringMethods, name)) {
        return bind_method<string_method>(object, method);
      }
      break;
    case ValueKind::kList:
      if (const std::string_view* method = find_name(kListMethods, name)) {
        return bind_method<list_method>(object, method);
      }
      break;
    case ValueKind::kDict: {
      if (const std::string_view* method = find_name(kDictMethods, name)) {
        return bind_method<dict_method>(object, method);
      }
      if (const Value* found = object.dict().find(name)) return *found;
      break;
    }
    case ValueKind::kNamespace:
      if (const Value* found = object.attributes().find(name)) return *found;
      break;
    case ValueKind::kUndefined:  // name the chain for error messages: 'message.content'
      if (object.undefined_name().empty()) return object;
      return Value::undefined(object.undefined_name() + "." + std::string(name));
    default:
      break;
  }
  if (object.is_dict() || object.is_namespace()) return Value::undefined(std::string(name));
  // 'NoneType.strip' is undefined
  return Value::undefined(std::string(object.type_name()) + "." + std::string(name));
}

Value get_item(const Value& object, const Value& key) {
  switch (object.kind()) {
    case ValueKind::kDict:
      if (const Value* found = object.dict().find(key)) return *found;
      break;
    case ValueKind::kNamespace:
      if (key.is_string()) return get_attribute(object, key.as_string());
      break;
    case ValueKind::kList: {
      if (!is_integral(key)) break;
      const ValueList& items = object.list();
      int64_t i = integral(key);
      auto n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
      break;
    }
    case ValueKind::kString: {
      if (!is_integral(key)) break;
      const std::string& s = object.as_string();
      std::vector<size_t> offsets = utf8_char_offsets(s);
      int64_t i = integral(key);
      auto n = static_cast<int64_t>(offsets.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) break;
      size_t begin = offsets[static_cast<size_t>(i)];
      size_t end = i + 1 < n ? offsets[static_cast<size_t>(i + 1)] : s.size();
      return s.substr(begin, end - begin);
    }
    default:
      break;
  }
  return Value::undefined(key.is_string() ? key.as_string() : to_str(key));
}

Value slice_value(const Value& object, const Value& start_value, const Value& stop_value,
                  const Value& step_value) {
  if (object.is_undefined()) return object;
  int64_t step = is_missing(step_value) ? 1 : require_int("slice", step_value);
  if (step == 0) throw_render_error("slice step cannot be zero");
  step = std::max(step, -INT64_MAX);
  int64_t start = 0, stop = 0;
  if (object.is_list()) {
    const ValueList& items = object.list();
    adjust_slice(static_cast<int64_t>(items.size()), step, start_value, stop_value, start, stop);
    ValueList out;
    for_each_slice_index(start, stop, step,
                         [&](int64_t i) { out.push_back(items[static_cast<size_t>(i)]); });
    return Value::make_list(std::move(out));
  }
  if (object.is_string()) {
    const std::string& s = object.as_string();
    std::vector<size_t> offsets = utf8_char_offsets(s);
    adjust_slice(static_cast<int64_t>(offsets.size()), step, start_value, stop_value, start, stop);
    std::string out;
    for_each_slice_index(start, stop, step, [&](int64_t i) {
      size_t begin = offsets[static_cast<size_t>(i)];
      size_t end = static_cast<size_t>(i) + 1 < offsets.size() ? offsets[static_cast<size_t>(i) + 1]
                                                               : s.size();
      out.append(s, begin, end - begin);
    });
    return out;
  }
  throw_render_error("'" + std::string(object.type_name()) + "' object is not subscriptable");
}

ValueList iterate(const Value& iterable) {
  switch (iterable.kind()) {
    case ValueKind::kUndefined:
      return {};
    case ValueKind::kList:
      return iterable.list();
    case ValueKind::kDict: {
      ValueList keys;
      keys.reserve(iterable.dict().size());
      for (const ValueDict::Entry& entry : iterable.dict().entries()) keys.push_back(entry.first);
      return keys;
    }
    case ValueKind::kString: {
      const std::string& s = iterable.as_string();
      std::vector<size_t> offsets = utf8_char_offsets(s);
      ValueList characters;
      characters.reserve(offsets.size());
      for (size_t k = 0; k < offsets.size(); ++k) {
        size_t end = k + 1 < offsets.size() ? offsets[k + 1] : s.size();
        characters.emplace_back(s.substr(offsets[k], end - offsets[k]));
      }
      return characters;
    }
    default:
      throw_render_error("'" + std::string(iterable.type_name()) + "' object is not iterable");
  }
}

std::vector<std::pair<std::string, Value>> builtin_globals() {
  return {
      {"range", Value::make_function("range", range_function)},
      {"namespace", Value::make_function("namespace", namespace_function)},
      {"dict", Value::make_function("dict", dict_function)},
      {"raise_exception", Value::make_function("raise_exception", raise_exception_function)},
      {"strftime_now", Value::make_function("strftime_now", strftime_now_function)},
  };
}

}  // namespace cove::chat::jinja
