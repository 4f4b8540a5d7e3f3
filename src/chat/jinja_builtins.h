// What templates can call: filters (`x | trim`), tests (`x is defined`), methods on strings,
// lists and dicts (`s.strip()`, `d.items()`), attribute and item access, and the global
// functions (range, namespace, dict, raise_exception, strftime_now).
//
// Filters live in jinja_filters.cpp, tests in jinja_is_tests.cpp, and methods, access and
// globals in jinja_methods.cpp.
// Behaviour follows Jinja 3 and Python 3, with HF's chat-template additions: tojson keeps key
// order, keeps UTF-8 and does not escape HTML; raise_exception and strftime_now exist.
//
// Not supported: Python's Unicode case mapping (upper/lower/title/capitalize change ASCII letters
// only), str.format, and the filters that make no sense for prompts (urlize, wordwrap, random,
// filesizeformat, xmlattr, pprint, groupby).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace cove::chat::jinja {

using FilterFunction = Value (*)(Interpreter&, const Value& input, Arguments& arguments);
using TestFunction = bool (*)(Interpreter&, const Value& input, Arguments& arguments);

// nullptr when there is no such filter / test. The parser uses these to reject unknown names.
FilterFunction find_filter(std::string_view name);
TestFunction find_test(std::string_view name);

// `object.name`: methods first, then dict items and namespace attributes (Jinja's getattr
// order). Anything missing, and any attribute of undefined, is undefined.
Value get_attribute(const Value& object, std::string_view name);
// `object[key]`: dict items, list and string indexes (negative counts from the end). Missing or
// out of range is undefined.
Value get_item(const Value& object, const Value& key);
// `object[start:stop:step]` on lists and strings, with Python's rules; undefined or none parts
// take their defaults.
Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step);
// The items a for loop visits: list items, dict keys, string characters; undefined gives none.
// Throws for values that are not iterable (none, numbers).
ValueList iterate(const Value& iterable);

// Global functions every template sees.
std::vector<std::pair<std::string, Value>> builtin_globals();

// Binds a call's arguments to named parameters with Python's rules (positional first, then
// keywords); parameters not given are undefined. Throws for too many or unknown arguments.
std::vector<Value> bind_arguments(std::string_view function, const Arguments& arguments,
                                  std::initializer_list<std::string_view> parameters);

// printf-style formatting, as Python's `pattern % arguments` and Jinja's format filter do it:
// %s %r %d %i %f (with .N) and %%.
std::string percent_format(Interpreter& interpreter, const std::string& pattern,
                           const ValueList& arguments);

// Python's str.strip family: `chars` undefined or none strips whitespace.
std::string strip_chars(std::string_view text, const Value& chars, bool left, bool right);

// Small helpers the builtin files share.
namespace detail {
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline char ascii_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}
inline char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
// Python's bool is an int: true + 1 == 2.
inline bool is_integral(const Value& v) {
  return v.is_int() || v.is_bool();
}
inline int64_t integral(const Value& v) {
  return v.is_bool() ? int64_t{v.as_bool()} : v.as_int();
}
// An optional argument that was not given (or given as none).
inline bool is_missing(const Value& v) {
  return v.is_undefined() || v.is_none();
}
}  // namespace detail

}  // namespace cove::chat::jinja
