#include "chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "chat/jinja_error.h"

namespace cove::chat::jinja {

namespace {

// Elements visited by the recursive operations; see take_value_work().
thread_local uint64_t g_value_work = 0;

[[noreturn]] void throw_too_deep() {
  throw TemplateError(ErrorKind::kLimit,
                      "value nested deeper than " + std::to_string(kMaxNesting) + " levels");
}

// ---------------------------------------------------------------------------------------------
// Iterative destruction

// While a container is being destroyed, the containers it owned wait here instead of being
// destroyed inside its destructor; the outermost destructor empties the list in a loop. A list
// nested 100,000 deep (easy to build in a template loop) then needs no 100,000-frame stack.
thread_local std::vector<Value>* g_pending_destruction = nullptr;

template <class MoveChildren>
void destroy_iteratively(MoveChildren&& move_children) {
  if (g_pending_destruction != nullptr) {
    move_children(*g_pending_destruction);
    return;
  }
  std::vector<Value> pending;
  g_pending_destruction = &pending;
  move_children(pending);
  while (!pending.empty()) {
    // Destroying `last` may run another container's destructor, which appends to `pending`.
    Value last = std::move(pending.back());
    pending.pop_back();
  }
  g_pending_destruction = nullptr;
}

void move_nested(Value& value, std::vector<Value>& out) {
  if (value.identity() != nullptr) out.push_back(std::move(value));
}

void move_nested(ValueDict& dict, std::vector<Value>& out) {
  for (ValueDict::Entry& entry : dict.entries()) move_nested(entry.second, out);
}

// ---------------------------------------------------------------------------------------------
// Dictionary keys

// Python hashes equal numbers alike (1 == 1.0 == True), so they share one encoding.
std::optional<std::string> dict_key(const Value& key) {
  switch (key.kind()) {
    case ValueKind::kString:
      return "s" + key.as_string();
    case ValueKind::kBool:
      return key.as_bool() ? "i1" : "i0";
    case ValueKind::kInt:
      return "i" + std::to_string(key.as_int());
    case ValueKind::kFloat: {
      double d = key.as_double();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
        return "i" + std::to_string(static_cast<int64_t>(d));
      }
      return "f" + format_float(d);
    }
    case ValueKind::kNone:
      return "n";
    default:
      return std::nullopt;
  }
}

// ---------------------------------------------------------------------------------------------
// Printing

void append_repr_string(const std::string& s, std::string& out) {
  // Python prefers single quotes and switches to double quotes when only ' appears.
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  out += quote;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += quote;
}

void append_repr(const Value& value, std::string& out, int depth);

void append_repr_dict(const ValueDict& dict, std::string& out, int depth) {
  out += '{';
  bool first = true;
  for (const ValueDict::Entry& entry : dict.entries()) {
    if (!first) out += ", ";
    first = false;
    append_repr(entry.first, out, depth + 1);
    out += ": ";
    append_repr(entry.second, out, depth + 1);
  }
  out += '}';
}

void append_str(const Value& value, std::string& out, int depth) {
  if (depth > kMaxNesting) throw_too_deep();
  ++g_value_work;
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return;
    case ValueKind::kNone:
      out += "None";
      return;
    case ValueKind::kBool:
      out += value.as_bool() ? "True" : "False";
      return;
    case ValueKind::kInt:
      out += std::to_string(value.as_int());
      return;
    case ValueKind::kFloat:
      out += format_float(value.as_double());
      return;
    case ValueKind::kString:
      out += value.as_string();
      return;
    case ValueKind::kList: {
      bool tuple = value.is_tuple();
      out += tuple ? '(' : '[';
      bool first = true;
      for (const Value& item : value.list()) {
        if (!first) out += ", ";
        first = false;
        append_repr(item, out, depth + 1);
      }
      if (tuple && value.list().size() == 1) out += ',';
      out += tuple ? ')' : ']';
      return;
    }
    case ValueKind::kDict:
      if (value.dict_object().json_text) {
        out += *value.dict_object().json_text;
      } else {
        append_repr_dict(value.dict(), out, depth);
      }
      return;
    case ValueKind::kNamespace:
      out += "<Namespace ";
      append_repr_dict(value.attributes(), out, depth);
      out += '>';
      return;
    case ValueKind::kCallable:
      out += "<function " + value.callable().name + ">";
      return;
  }
}

void append_repr(const Value& value, std::string& out, int depth) {
  if (depth > kMaxNesting) throw_too_deep();
  switch (value.kind()) {
    case ValueKind::kUndefined:
      out += "Undefined";
      return;
    case ValueKind::kString:
      append_repr_string(value.as_string(), out);
      return;
    case ValueKind::kDict:
      append_repr_dict(value.dict(), out, depth);
      return;
    default:
      append_str(value, out, depth);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON

void append_hex4(uint32_t unit, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 15];
}

// Decodes the code point starting at s[i] (advancing i); an invalid byte decodes as U+FFFD.
uint32_t decode_utf8(std::string_view s, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    ++i;
    return n == 1 ? c : 0xFFFD;
  }
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  i += n;
  return cp;
}

void append_json_string(std::string_view s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7f)) {
      append_hex4(c, out);
      ++i;
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
      ++i;
    } else {
      uint32_t cp = decode_utf8(s, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        append_hex4(0xD800 + (cp >> 10), out);
        append_hex4(0xDC00 + (cp & 0x3FF), out);
      } else {
        append_hex4(cp, out);
      }
    }
  }
  out += '"';
}

std::string json_key(const Value& key) {
  switch (key.kind()) {
    case ValueKind::kString: return key.as_string();
    case ValueKind::kBool: return key.as_bool() ? "true" : "false";
    case ValueKind::kNone: return "null";
    case ValueKind::kInt: return std::to_string(key.as_int());
    case ValueKind::kFloat: return format_float(key.as_double());
    default: throw_render_error("keys must be str, int, float, bool or None");
  }
}

struct JsonWriter {
  const JsonFormat& format;
  std::string item_separator;
  std::string key_separator;
  std::string& out;

  void newline(int level) {
    out += '\n';
    out.append(static_cast<size_t>(std::max(0, *format.indent)) * level, ' ');
  }

  void write(const Value& value, int level) {
    if (level > kMaxNesting) throw_too_deep();
    ++g_value_work;
    switch (value.kind()) {
      case ValueKind::kNone: out += "null"; return;
      case ValueKind::kBool: out += value.as_bool() ? "true" : "false"; return;
      case ValueKind::kInt: out += std::to_string(value.as_int()); return;
      case ValueKind::kFloat: {
        double d = value.as_double();
        out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                                                     : format_float(d);
        return;
      }
      case ValueKind::kString: append_json_string(value.as_string(), format.ensure_ascii, out); return;
      case ValueKind::kList: {
        const ValueList& items = value.list();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i > 0) out += item_separator;
          if (format.indent) newline(level + 1);
          write(items[i], level + 1);
        }
        if (format.indent) newline(level);
        out += ']';
        return;
      }
      case ValueKind::kDict: {
        std::vector<std::pair<std::string, const Value*>> members;
        for (const ValueDict::Entry& entry : value.dict().entries()) {
          members.emplace_back(json_key(entry.first), &entry.second);
        }
        if (members.empty()) {
          out += "{}";
          return;
        }
        if (format.sort_keys) {
          std::stable_sort(members.begin(), members.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        out += '{';
        for (size_t i = 0; i < members.size(); ++i) {
          if (i > 0) out += item_separator;
          if (format.indent) newline(level + 1);
          append_json_string(members[i].first, format.ensure_ascii, out);
          out += key_separator;
          write(*members[i].second, level + 1);
        }
        if (format.indent) newline(level);
        out += '}';
        return;
      }
      case ValueKind::kUndefined:
      case ValueKind::kNamespace:
      case ValueKind::kCallable:
        throw_render_error("Object of type " + std::string(value.type_name()) +
                           " is not JSON serializable");
    }
  }
};

bool equal(const Value& a, const Value& b, int depth) {
  if (depth > kMaxNesting) throw_too_deep();
  ++g_value_work;
  auto numeric = [](const Value& v) { return v.is_number() || v.is_bool(); };
  if (numeric(a) && numeric(b)) {
    if (!a.is_float() && !b.is_float()) {
      auto as_i = [](const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); };
      return as_i(a) == as_i(b);
    }
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return true;
    case ValueKind::kString:
      return a.as_string() == b.as_string();
    case ValueKind::kList: {
      const ValueList& x = a.list();
      const ValueList& y = b.list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equal(x[i], y[i], depth + 1)) return false;
      }
      return true;
    }
    case ValueKind::kDict: {
      const ValueDict& x = a.dict();
      const ValueDict& y = b.dict();
      if (x.size() != y.size()) return false;
      for (const ValueDict::Entry& entry : x.entries()) {
        const Value* other = y.find(entry.first);
        if (other == nullptr || !equal(entry.second, *other, depth + 1)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

int compare(const Value& a, const Value& b, std::string_view op, int depth) {
  if (depth > kMaxNesting) throw_too_deep();
  ++g_value_work;
  if (a.is_undefined() && b.is_undefined()) return 0;  // sort(attribute=) over missing fields
  auto numeric = [](const Value& v) { return v.is_number() || v.is_bool(); };
  if (numeric(a) && numeric(b)) {
    if (!a.is_float() && !b.is_float()) {
      auto as_i = [](const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); };
      int64_t x = as_i(a), y = as_i(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // byte order is code point order in UTF-8
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const ValueList& x = a.list();
    const ValueList& y = b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equal(x[i], y[i], depth + 1)) return compare(x[i], y[i], op, depth + 1);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw_render_error("'" + std::string(op) + "' not supported between instances of '" +
                     std::string(a.type_name()) + "' and '" + std::string(b.type_name()) + "'");
}

template <class Json>
Value from_json_at(const Json& json, int depth) {
  if (depth > kMaxNesting) throw_too_deep();
  switch (json.type()) {
    case Json::value_t::null:
      return Value::none();
    case Json::value_t::boolean:
      return Value(json.template get<bool>());
    case Json::value_t::number_integer:
      return Value(json.template get<int64_t>());
    case Json::value_t::number_unsigned: {
      uint64_t u = json.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case Json::value_t::number_float:
      return Value(json.template get<double>());
    case Json::value_t::string:
      return Value(json.template get<std::string>());
    case Json::value_t::array: {
      ValueList items;
      items.reserve(json.size());
      for (const Json& item : json) items.push_back(from_json_at(item, depth + 1));
      return Value::make_list(std::move(items));
    }
    case Json::value_t::object: {
      Value dict = Value::make_dict();
      for (auto it = json.begin(); it != json.end(); ++it) {
        dict.dict().set(Value(it.key()), from_json_at(it.value(), depth + 1));
      }
      return dict;
    }
    default:  // binary, discarded
      return Value::none();
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Value

Value::Value(std::string s) : data_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::undefined(std::string name) {
  Value v;
  v.data_ = Undefined{std::move(name)};
  return v;
}

Value Value::none() {
  Value v;
  v.data_ = None{};
  return v;
}

Value Value::make_list(ValueList items) {
  auto object = std::make_shared<ListObject>();
  object->items = std::move(items);
  Value v;
  v.data_ = std::move(object);
  return v;
}

Value Value::make_tuple(ValueList items) {
  Value v = make_list(std::move(items));
  std::get<std::shared_ptr<ListObject>>(v.data_)->tuple = true;
  return v;
}

bool Value::is_tuple() const {
  return is_list() && std::get<std::shared_ptr<ListObject>>(data_)->tuple;
}

Value Value::make_dict() {
  Value v;
  v.data_ = std::make_shared<DictObject>();
  return v;
}

Value Value::make_namespace() {
  Value v;
  v.data_ = std::make_shared<NamespaceObject>();
  return v;
}

Value Value::make_function(std::string name, NativeFunction fn, Value bound_self) {
  Value v;
  v.data_ = std::make_shared<const Callable>(
      Callable{std::move(name), std::move(fn), std::move(bound_self)});
  return v;
}

Value Value::from_json(const nlohmann::json& json) { return from_json_at(json, 0); }
Value Value::from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 0); }

double Value::as_double() const {
  switch (kind()) {
    case ValueKind::kInt: return static_cast<double>(as_int());
    case ValueKind::kFloat: return std::get<double>(data_);
    case ValueKind::kBool: return as_bool() ? 1.0 : 0.0;
    default: return 0.0;
  }
}

ValueList& Value::list() const { return std::get<std::shared_ptr<ListObject>>(data_)->items; }
ValueDict& Value::dict() const { return std::get<std::shared_ptr<DictObject>>(data_)->entries; }
DictObject& Value::dict_object() const { return *std::get<std::shared_ptr<DictObject>>(data_); }
ValueDict& Value::attributes() const {
  return std::get<std::shared_ptr<NamespaceObject>>(data_)->attributes;
}
const Callable& Value::callable() const {
  return *std::get<std::shared_ptr<const Callable>>(data_);
}

const void* Value::identity() const {
  switch (kind()) {
    case ValueKind::kList: return std::get<std::shared_ptr<ListObject>>(data_).get();
    case ValueKind::kDict: return std::get<std::shared_ptr<DictObject>>(data_).get();
    case ValueKind::kNamespace: return std::get<std::shared_ptr<NamespaceObject>>(data_).get();
    case ValueKind::kCallable: return std::get<std::shared_ptr<const Callable>>(data_).get();
    default: return nullptr;
  }
}

bool Value::truthy() const {
  switch (kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return false;
    case ValueKind::kBool: return as_bool();
    case ValueKind::kInt: return as_int() != 0;
    case ValueKind::kFloat: return as_double() != 0.0;
    case ValueKind::kString: return !as_string().empty();
    case ValueKind::kList: return !list().empty();
    case ValueKind::kDict: return !dict().empty();
    default: return true;
  }
}

std::string_view Value::type_name() const {
  switch (kind()) {
    case ValueKind::kUndefined: return "Undefined";
    case ValueKind::kNone: return "NoneType";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kFloat: return "float";
    case ValueKind::kString: return "str";
    case ValueKind::kList: return "list";
    case ValueKind::kDict: return "dict";
    case ValueKind::kNamespace: return "Namespace";
    case ValueKind::kCallable: return "function";
  }
  return "?";
}

ListObject::~ListObject() {
  destroy_iteratively([this](std::vector<Value>& out) {
    for (Value& item : items) move_nested(item, out);
  });
}

DictObject::~DictObject() {
  destroy_iteratively([this](std::vector<Value>& out) { move_nested(entries, out); });
}

NamespaceObject::~NamespaceObject() {
  destroy_iteratively([this](std::vector<Value>& out) { move_nested(attributes, out); });
}

Callable::~Callable() {
  destroy_iteratively([this](std::vector<Value>& out) { move_nested(bound_self, out); });
}

// ---------------------------------------------------------------------------------------------
// ValueDict

const Value* ValueDict::find(const Value& key) const {
  std::optional<std::string> hash = dict_key(key);
  if (!hash) return nullptr;
  auto it = index_.find(*hash);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Value* ValueDict::find(const Value& key) {
  return const_cast<Value*>(static_cast<const ValueDict*>(this)->find(key));
}

const Value* ValueDict::find(std::string_view key) const {
  std::string hash = "s";
  hash += key;
  auto it = index_.find(hash);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Value* ValueDict::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const ValueDict*>(this)->find(key));
}

void ValueDict::set(Value key, Value value) {
  std::optional<std::string> hash = dict_key(key);
  if (!hash) throw_render_error("unhashable type: '" + std::string(key.type_name()) + "'");
  auto [it, inserted] = index_.emplace(std::move(*hash), entries_.size());
  if (inserted) {
    entries_.emplace_back(std::move(key), std::move(value));
  } else {
    entries_[it->second].second = std::move(value);
  }
}

bool ValueDict::erase(const Value& key) {
  std::optional<std::string> hash = dict_key(key);
  if (!hash) return false;
  auto it = index_.find(*hash);
  if (it == index_.end()) return false;
  size_t position = it->second;
  index_.erase(it);
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(position));
  for (auto& [name, index] : index_) {
    if (index > position) --index;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Python semantics

std::string to_str(const Value& value) {
  if (value.is_string()) return value.as_string();
  std::string out;
  append_str(value, out, 0);
  return out;
}

std::string to_repr(const Value& value) {
  std::string out;
  append_repr(value, out, 0);
  return out;
}

std::string to_json(const Value& value, const JsonFormat& format) {
  std::string out;
  JsonWriter writer{format, format.indent ? "," : ", ", ": ", out};
  if (format.separators) {
    writer.item_separator = format.separators->first;
    writer.key_separator = format.separators->second;
  }
  writer.write(value, 0);
  return out;
}

bool values_equal(const Value& a, const Value& b) { return equal(a, b, 0); }

int compare_values(const Value& a, const Value& b, std::string_view op) {
  return compare(a, b, op, 0);
}

std::string format_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // The shortest digits that round-trip, in scientific form: "-1.2345e+17".
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value,
                                 std::chars_format::scientific);
  std::string_view text(buffer, static_cast<size_t>(end - buffer));
  std::string out;
  if (text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+' ? 1 : 0), text.data() + text.size(),
                  exponent);
  // Python's repr switches to exponent form outside 1e-4 <= |value| < 1e16.
  if (exponent < -4 || exponent >= 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += exponent < 0 ? "e-" : "e+";
    int magnitude = std::abs(exponent);
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
    return out;
  }
  if (exponent >= 0) {
    size_t integer_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= integer_digits) {
      out += digits;
      out.append(integer_digits - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, integer_digits);
      out += '.';
      out += digits.substr(integer_digits);
    }
  } else {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
  }
  return out;
}

bool value_contains(const Value& haystack, const void* container) {
  if (haystack.identity() == nullptr) return false;
  std::vector<const Value*> stack{&haystack};
  std::unordered_set<const void*> seen;
  while (!stack.empty()) {
    const Value* value = stack.back();
    stack.pop_back();
    const void* id = value->identity();
    if (id == nullptr) continue;
    if (id == container) return true;
    if (!seen.insert(id).second) continue;
    g_value_work += 4;  // a hash-set insert
    switch (value->kind()) {
      case ValueKind::kList:
        for (const Value& item : value->list()) stack.push_back(&item);
        break;
      case ValueKind::kDict:
        for (const ValueDict::Entry& entry : value->dict().entries()) stack.push_back(&entry.second);
        break;
      case ValueKind::kNamespace:
        for (const ValueDict::Entry& entry : value->attributes().entries()) {
          stack.push_back(&entry.second);
        }
        break;
      case ValueKind::kCallable:
        stack.push_back(&value->callable().bound_self);
        break;
      default:
        break;
    }
  }
  return false;
}

uint64_t take_value_work() {
  uint64_t work = g_value_work;
  g_value_work = 0;
  return work;
}

std::vector<size_t> utf8_char_offsets(std::string_view text) {
  std::vector<size_t> offsets;
  offsets.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    offsets.push_back(i);
    size_t next = i;
    decode_utf8(text, next);
    i = next;
  }
  return offsets;
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++n) decode_utf8(text, i);
  return n;
}

}  // namespace cove::chat::jinja
