// The values a Jinja template computes with, with Python's semantics where templates rely on them.
//
// A Value is one of: undefined, none, bool, int (int64), float (double), string (UTF-8 bytes),
// list, dict (insertion-ordered, like Python's), namespace, or callable. Lists, dicts and
// namespaces are shared by reference, as in Python: `ns.items.append(x)` changes every Value that
// holds that list. Strings are immutable and shared, so copying a Value never copies text.
//
// Hostile templates can build deep or self-referential structures, so:
//   - recursive operations (printing, tojson, ==, <) stop with an error past kMaxNesting levels,
//     and count the elements they visit so the interpreter can charge them to its budget;
//   - containers are destroyed iteratively (no stack overflow on a 100,000-level nest);
//   - the mutating methods refuse to put a container inside itself (no reference cycles, which
//     would leak memory because containers are reference counted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cove::chat::jinja {

class Value;
class Interpreter;  // native functions call back into it (jinja_interpreter.h)
struct ListObject;
struct DictObject;
struct NamespaceObject;
struct Callable;
struct Arguments;
class ValueDict;

using ValueList = std::vector<Value>;
// A function a template can call. `bound_self` is the object a method was taken from ("abc" for
// "abc".upper) and is undefined for plain functions.
using NativeFunction = std::function<Value(Interpreter&, const Value& bound_self, Arguments&)>;

// Nesting depth at which printing, serializing and comparing values give up with an error.
inline constexpr int kMaxNesting = 128;

enum class ValueKind : uint8_t {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kDict,
  kNamespace,
  kCallable,
};

class Value {
 public:
  Value() : data_(Undefined{}) {}                       // undefined, with no name
  Value(bool b) : data_(b) {}                           // NOLINT: implicit, like a literal
  Value(int64_t i) : data_(i) {}                        // NOLINT
  Value(int i) : data_(int64_t{i}) {}                   // NOLINT
  Value(double d) : data_(d) {}                         // NOLINT
  Value(std::string s);                                 // NOLINT
  Value(std::string_view s) : Value(std::string(s)) {}  // NOLINT
  Value(const char* s) : Value(std::string(s)) {}       // NOLINT
  template <class T>
  Value(T*) = delete;  // no silent pointer-to-bool conversion

  // An undefined value remembers the name it was looked up by, for error messages.
  static Value undefined(std::string name);
  static Value none();
  static Value make_list(ValueList items = {});
  // A tuple is a list that prints as (a, b); Jinja makes them for `a, b` and dict items.
  static Value make_tuple(ValueList items);
  static Value make_dict();
  static Value make_namespace();
  // `bound_self` is held in the Callable rather than captured by the function, so cycle checks
  // and iterative destruction can see it.
  static Value make_function(std::string name, NativeFunction fn, Value bound_self = {});
  // Converts parsed JSON; objects keep the order they have (nlohmann::json sorts keys,
  // nlohmann::ordered_json keeps the document's order). Throws TemplateError past kMaxNesting.
  static Value from_json(const nlohmann::json& json);
  static Value from_json(const nlohmann::ordered_json& json);

  ValueKind kind() const { return static_cast<ValueKind>(data_.index()); }
  bool is_undefined() const { return kind() == ValueKind::kUndefined; }
  bool is_none() const { return kind() == ValueKind::kNone; }
  bool is_bool() const { return kind() == ValueKind::kBool; }
  bool is_int() const { return kind() == ValueKind::kInt; }
  bool is_float() const { return kind() == ValueKind::kFloat; }
  bool is_number() const { return is_int() || is_float(); }  // bool is not a number here
  bool is_string() const { return kind() == ValueKind::kString; }
  bool is_list() const { return kind() == ValueKind::kList; }
  bool is_tuple() const;
  bool is_dict() const { return kind() == ValueKind::kDict; }
  bool is_namespace() const { return kind() == ValueKind::kNamespace; }
  bool is_callable() const { return kind() == ValueKind::kCallable; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  // Int, float or bool as a double.
  double as_double() const;
  const std::string& as_string() const { return *std::get<StringPtr>(data_); }
  const std::string& undefined_name() const { return std::get<Undefined>(data_).name; }
  // Containers are shared: the references are mutable even through a const Value, as a Python
  // list is mutable through any name bound to it.
  ValueList& list() const;
  ValueDict& dict() const;        // kDict
  ValueDict& attributes() const;  // kNamespace
  DictObject& dict_object() const;
  const Callable& callable() const;
  // The container's or callable's address (for identity and cycle checks); nullptr for scalars.
  const void* identity() const;

  // Python truthiness: undefined, none, false, 0, 0.0, "", [] and {} are false.
  bool truthy() const;
  // Python type name, for error messages: 'int', 'str', 'NoneType', 'list', 'dict', ...
  std::string_view type_name() const;

 private:
  struct Undefined {
    std::string name;
  };
  struct None {};
  using StringPtr = std::shared_ptr<const std::string>;
  // The order matches ValueKind.
  std::variant<Undefined, None, bool, int64_t, double, StringPtr, std::shared_ptr<ListObject>,
               std::shared_ptr<DictObject>, std::shared_ptr<NamespaceObject>,
               std::shared_ptr<const Callable>>
      data_;
};

// An insertion-ordered dictionary with Python's key rules: keys are none, bool, int, float or
// string; 1, 1.0 and true are the same key; lists and dicts cannot be keys.
class ValueDict {
 public:
  using Entry = std::pair<Value, Value>;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }

  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  const Value* find(const char* key) const { return find(std::string_view(key)); }
  Value* find(const char* key) { return find(std::string_view(key)); }
  // Inserts or replaces; a new key goes last. Throws TemplateError for an unhashable key.
  void set(Value key, Value value);
  bool erase(const Value& key);

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // hash key (see dict_key) -> position
};

struct ListObject {
  ValueList items;
  bool tuple = false;
  ~ListObject();
};

struct DictObject {
  ValueDict entries;
  // Tool-call arguments arrive as JSON text; a template written for HF's tool calling wants the
  // object (`arguments | tojson`, `arguments.items()`), while one written for the raw text
  // (DeepSeek's `'...' + arguments + '...'`) wants the string. Holding both lets each work:
  // printing or concatenating the mapping gives this text.
  std::optional<std::string> json_text;
  ~DictObject();
};

struct NamespaceObject {
  ValueDict attributes;
  ~NamespaceObject();
};

// Arguments of a call: `f(1, 2, key=3)`.
struct Arguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  std::string name;
  NativeFunction function;
  Value bound_self;
  ~Callable();
};

// ---------------------------------------------------------------------------------------------
// Python semantics over values. These throw TemplateError (without a location) on type errors.

// str(): what `{{ value }}` prints. Undefined prints as "".
std::string to_str(const Value& value);
// repr(): strings quoted as Python does ('a', "it's"); used for the items of printed lists.
std::string to_repr(const Value& value);

// json.dumps with HF's tojson defaults: no HTML escaping, UTF-8 kept (ensure_ascii=False), key
// order kept. With an indent, the item separator's trailing space is dropped, as Python does.
struct JsonFormat {
  std::optional<int> indent;
  bool sort_keys = false;
  bool ensure_ascii = false;
  std::optional<std::pair<std::string, std::string>> separators;  // (item, key)
};
std::string to_json(const Value& value, const JsonFormat& format = {});

// Python ==: 1 == 1.0 == true; lists and dicts compare by content; undefined equals undefined.
bool values_equal(const Value& a, const Value& b);
// Python ordering of numbers, strings and lists; <0, 0 or >0. `op` names the operator in the
// error for unorderable types ("'<' not supported between instances of 'int' and 'str'").
int compare_values(const Value& a, const Value& b, std::string_view op = "<");

// Python's repr of a float: shortest round-trip digits, "1.0", "1e+16", "1e-05", "inf".
std::string format_float(double value);

// Whether `haystack` is, or (through lists, dicts, namespaces and bound methods) holds, the
// container `container`. Used before any mutation to keep containers acyclic.
bool value_contains(const Value& haystack, const void* container);

// The work the functions above did on this thread since the last call: one unit per element
// compared, printed or serialized, four per container searched by value_contains. Comparing two
// big nested values costs their size, not one step, so the interpreter adds this to its budget.
uint64_t take_value_work();

// Strings are UTF-8; length, indexing and slicing count code points as Python does. A byte that
// is not valid UTF-8 counts as one character.
std::vector<size_t> utf8_char_offsets(std::string_view text);  // start of each character
size_t utf8_length(std::string_view text);

namespace detail {
// Adds to the counter that take_value_work() drains (jinja_value.cpp and jinja_value_text.cpp).
void count_value_work(uint64_t units);
[[noreturn]] void throw_too_deep();
}  // namespace detail

}  // namespace cove::chat::jinja
