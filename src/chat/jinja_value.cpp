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

using detail::throw_too_deep;

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

Value Value::from_json(const nlohmann::json& json) {
  return from_json_at(json, 0);
}
Value Value::from_json(const nlohmann::ordered_json& json) {
  return from_json_at(json, 0);
}

double Value::as_double() const {
  switch (kind()) {
    case ValueKind::kInt:
      return static_cast<double>(as_int());
    case ValueKind::kFloat:
      return std::get<double>(data_);
    case ValueKind::kBool:
      return as_bool() ? 1.0 : 0.0;
    default:
      return 0.0;
  }
}

ValueList& Value::list() const {
  return std::get<std::shared_ptr<ListObject>>(data_)->items;
}
ValueDict& Value::dict() const {
  return std::get<std::shared_ptr<DictObject>>(data_)->entries;
}
DictObject& Value::dict_object() const {
  return *std::get<std::shared_ptr<DictObject>>(data_);
}
ValueDict& Value::attributes() const {
  return std::get<std::shared_ptr<NamespaceObject>>(data_)->attributes;
}
const Callable& Value::callable() const {
  return *std::get<std::shared_ptr<const Callable>>(data_);
}

const void* Value::identity() const {
  switch (kind()) {
    case ValueKind::kList:
      return std::get<std::shared_ptr<ListObject>>(data_).get();
    case ValueKind::kDict:
      return std::get<std::shared_ptr<DictObject>>(data_).get();
    case ValueKind::kNamespace:
      return std::get<std::shared_ptr<NamespaceObject>>(data_).get();
    case ValueKind::kCallable:
      return std::get<std::shared_ptr<const Callable>>(data_).get();
    default:
      return nullptr;
  }
}

bool Value::truthy() const {
  switch (kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return false;
    case ValueKind::kBool:
      return as_bool();
    case ValueKind::kInt:
      return as_int() != 0;
    case ValueKind::kFloat:
      return as_double() != 0.0;
    case ValueKind::kString:
      return !as_string().empty();
    case ValueKind::kList:
      return !list().empty();
    case ValueKind::kDict:
      return !dict().empty();
    default:
      return true;
  }
}

std::string_view Value::type_name() const {
  switch (kind()) {
    case ValueKind::kUndefined:
      return "Undefined";
    case ValueKind::kNone:
      return "NoneType";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kString:
      return "str";
    case ValueKind::kList:
      return "list";
    case ValueKind::kDict:
      return "dict";
    case ValueKind::kNamespace:
      return "Namespace";
    case ValueKind::kCallable:
      return "function";
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

bool values_equal(const Value& a, const Value& b) {
  return equal(a, b, 0);
}

int compare_values(const Value& a, const Value& b, std::string_view op) {
  return compare(a, b, op, 0);
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
        for (const ValueDict::Entry& entry : value->dict().entries())
          stack.push_back(&entry.second);
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

namespace detail {

void count_value_work(uint64_t units) {
  g_value_work += units;
}

void throw_too_deep() {
  throw TemplateError(ErrorKind::kLimit,
                      "value nested deeper than " + std::to_string(kMaxNesting) + " levels");
}

}  // namespace detail

uint64_t take_value_work() {
  uint64_t work = g_value_work;
  g_value_work = 0;
  return work;
}

}  // namespace cove::chat::jinja
