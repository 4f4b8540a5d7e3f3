// JSON Schema -> GBNF. One rule per schema that needs its own (objects, arrays, constrained
// strings, unions, references), plus shared primitives (ws, string, number, value, ...) added on
// first use. See json_schema.h for the supported keywords and the grammar's choices.
#include "runtime/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "runtime/json_schema_regex.h"

namespace cove::runtime {
namespace {

using Json = nlohmann::ordered_json;
using detail::gbnf_literal;

constexpr int kMaxSchemaDepth = 64;
constexpr uint64_t kMaxLength = 4096;  // larger minLength is an error, larger maxLength unbounded
constexpr uint64_t kMaxItems = 1000;   // the same for minItems / maxItems

struct Primitive {
  const char* name;
  const char* body;
  std::vector<const char*> uses;
};

// The building blocks. Whitespace is bounded so a model cannot pad forever: nothing, a space,
// or a newline and up to 40 spaces/tabs of indentation.
const std::vector<Primitive>& primitives() {
  static const std::vector<Primitive> kPrimitives = {
      {"ws", R"(( " " | "\n" [ \t]{0,40} )?)", {}},
      {"value",
       "object | array | string | number | boolean | null",
       {"object", "array", "string", "number", "boolean", "null"}},
      {"object",
       R"("{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}")",
       {"ws", "string", "value"}},
      {"array", R"("[" ws ( value ws ( "," ws value ws )* )? "]")", {"ws", "value"}},
      {"string", R"("\"" char* "\"")", {"char"}},
      {"char", R"([^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ))", {}},
      {"int-digits", R"("0" | [1-9] [0-9]{0,19})", {}},
      {"integer", R"("-"? int-digits)", {"int-digits"}},
      {"unsigned-number",
       R"(int-digits ( "." [0-9]{1,20} )? ( [eE] [-+]? [0-9]{1,4} )?)",
       {"int-digits"}},
      {"number", R"("-"? unsigned-number)", {"unsigned-number"}},
      {"boolean", R"("true" | "false")", {}},
      {"null", R"("null")", {}},
      {"date",
       R"([0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ))",
       {}},
      {"partial-time",
       R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,9} )?)",
       {}},
      {"time-offset", R"("Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9])", {}},
      {"time", "partial-time time-offset?", {"partial-time", "time-offset"}},
      {"date-time",
       R"(date "T" partial-time time-offset)",
       {"date", "partial-time", "time-offset"}},
      {"uuid",
       R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})",
       {}},
  };
  return kPrimitives;
}

// Keywords that constrain a value (used to decide whether siblings of anyOf matter).
const std::set<std::string>& constraint_keywords() {
  static const std::set<std::string> kKeywords = {
      "type",      "properties",  "required", "additionalProperties",
      "items",     "prefixItems", "minItems", "maxItems",
      "minLength", "maxLength",   "pattern",  "format",
      "enum",      "const",       "allOf",    "minimum",
      "nullable",  "$ref"};
  return kKeywords;
}

std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A JSON pointer token: '~' -> "~0", '/' -> "~1".
std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

const Json* find(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

class SchemaConverter {
 public:
  explicit SchemaConverter(const Json& root) : root_(root) {
    for (const Primitive& p : primitives()) taken_.insert(p.name);
  }

  Result<std::string> run() {
    taken_.insert("root");
    ref_rules_["#"] = "root";
    std::string body;
    if (!body_for(root_, "root", "#", 0, body)) return Error{*error_};
    std::string out = "root ::= " + body + "\n";
    for (const auto& [name, rule_body] : rules_) out += name + " ::= " + rule_body + "\n";
    return out;
  }

 private:
  bool fail(const std::string& path, const std::string& message) {
    if (!error_) error_ = "json schema " + path + ": " + message;
    return false;
  }

  // The name of a primitive rule, adding it (and what it uses) on first use.
  std::string use(const std::string& name) {
    if (used_primitives_.insert(name).second) {
      for (const Primitive& p : primitives()) {
        if (name == p.name) {
          rules_.emplace_back(p.name, p.body);
          for (const char* dependency : p.uses) use(dependency);
        }
      }
    }
    return name;
  }

  std::string unique_name(const std::string& hint) {
    std::string base;
    for (char c : hint) {
      const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      base += keep ? c : '-';
    }
    if (base.size() > 60) base.resize(60);
    if (base.empty()) base = "rule";
    std::string name = base;
    for (int i = 2; taken_.count(name); ++i) name = base + "-" + std::to_string(i);
    taken_.insert(name);
    return name;
  }

  std::string add_rule(const std::string& hint, const std::string& body) {
    const std::string name = unique_name(hint);
    rules_.emplace_back(name, body);
    return name;
  }

  static bool is_identifier(const std::string& text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    });
  }

  // A rule name for `schema`: an existing one when that is all the body is, otherwise a new rule.
  bool visit(const Json& schema, const std::string& name, const std::string& path, int depth,
             std::string& rule) {
    std::string body;
    if (!body_for(schema, name, path, depth, body)) return false;
    rule = is_identifier(body) ? body : add_rule(name, body);
    return true;
  }

  bool body_for(const Json& schema, const std::string& name, const std::string& path, int depth,
                std::string& body) {
    if (depth > kMaxSchemaDepth) {
      return fail(path, "nested deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) return fail(path, "the schema 'false' allows no value");
      body = use("value");
      return true;
    }
    if (!schema.is_object()) return fail(path, "a schema must be an object or a boolean");
    if (!core_body(schema, name, path, depth, body)) return false;
    const Json* nullable = find(schema, "nullable");
    if (nullable && nullable->is_boolean() && nullable->get<bool>()) {
      body = "( " + body + " ) | " + use("null");
    }
    return true;
  }

  bool core_body(const Json& schema, const std::string& name, const std::string& path, int depth,
                 std::string& body) {
    if (const Json* ref = find(schema, "$ref")) return visit_ref(*ref, path, depth, body);
    if (const Json* value = find(schema, "const")) {
      return literal(*value, path + "/const", 0, body);
    }
    if (const Json* values = find(schema, "enum")) {
      if (!values->is_array() || values->empty()) {
        return fail(path + "/enum", "must be a non-empty array");
      }
      body.clear();
      for (size_t i = 0; i < values->size(); ++i) {
        std::string alternative;
        if (!literal((*values)[i], path + "/enum/" + std::to_string(i), 0, alternative)) {
          return false;
        }
        body += (i ? " | " : "") + alternative;
      }
      return true;
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (const Json* branches = find(schema, key)) {
        return union_body(schema, *branches, key, name, path, depth, body);
      }
    }
    if (find(schema, "allOf")) {
      Json merged;
      if (!merge_parts({schema}, path, depth, merged)) return false;
      merged.erase("nullable");  // applied once, by our caller
      return body_for(merged, name, path, depth + 1, body);
    }
    const Json* type = find(schema, "type");
    if (type && type->is_array()) {
      if (type->empty()) return fail(path + "/type", "an empty type list allows no value");
      body.clear();
      for (size_t i = 0; i < type->size(); ++i) {
        if (!(*type)[i].is_string()) return fail(path + "/type", "types must be strings");
        Json single = schema;
        single["type"] = (*type)[i];
        single.erase("nullable");
        std::string rule;
        if (!visit(single, name + "-" + (*type)[i].get<std::string>(), path, depth + 1, rule)) {
          return false;
        }
        body += (i ? " | " : "") + rule;
      }
      return true;
    }
    std::string type_name;
    if (type) {
      if (!type->is_string()) return fail(path + "/type", "must be a string or an array");
      type_name = type->get<std::string>();
    } else {
      type_name = infer_type(schema);
    }
    if (type_name.empty()) {
      body = use("value");
    } else if (type_name == "object") {
      return object_body(schema, name, path, depth, body);
    } else if (type_name == "array") {
      return array_body(schema, name, path, depth, body);
    } else if (type_name == "string") {
      return string_body(schema, path, body);
    } else if (type_name == "number" || type_name == "integer") {
      // Bounds are not enforced, except that a non-negative lower bound drops the sign.
      bool non_negative = false;
      for (const char* key : {"minimum", "exclusiveMinimum"}) {
        const Json* bound = find(schema, key);
        if (bound && bound->is_number() && bound->get<double>() >= 0) non_negative = true;
      }
      if (type_name == "integer") {
        body = non_negative ? use("int-digits") : use("integer");
      } else {
        body = non_negative ? use("unsigned-number") : use("number");
      }
    } else if (type_name == "boolean" || type_name == "null") {
      body = use(type_name);
    } else {
      return fail(path + "/type", "unknown type '" + type_name + "'");
    }
    return true;
  }

  static std::string infer_type(const Json& schema) {
    const auto has = [&](std::initializer_list<const char*> keys) {
      return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return find(schema, k); });
    };
    if (has({"properties", "additionalProperties", "required"})) return "object";
    if (has({"items", "prefixItems", "minItems", "maxItems"})) return "array";
    if (has({"pattern", "minLength", "maxLength", "format"})) return "string";
    if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})) {
      return "number";
    }
    return "";
  }

  // ---------------------------------------------------------------------------------------
  // References and combinators

  const Json* resolve(const std::string& ref) const {
    if (ref == "#") return &root_;
    if (ref.rfind("#/", 0) != 0) return nullptr;
    const Json* node = &root_;
    size_t start = 2;
    while (start <= ref.size()) {
      size_t end = ref.find('/', start);
      if (end == std::string::npos) end = ref.size();
      std::string token;
      for (size_t i = start; i < end; ++i) {
        if (ref[i] == '~' && i + 1 < end && (ref[i + 1] == '0' || ref[i + 1] == '1')) {
          token += ref[i + 1] == '0' ? '~' : '/';
          ++i;
        } else {
          token += ref[i];
        }
      }
      if (node->is_object()) {
        auto it = node->find(token);
        if (it == node->end()) return nullptr;
        node = &*it;
      } else if (node->is_array()) {
        if (token.empty() || token.size() > 9 ||
            !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return nullptr;
        }
        const size_t index = std::stoul(token);
        if (index >= node->size()) return nullptr;
        node = &(*node)[index];
      } else {
        return nullptr;
      }
      start = end + 1;
    }
    return node;
  }

  bool visit_ref(const Json& ref_value, const std::string& path, int depth, std::string& rule) {
    if (!ref_value.is_string()) return fail(path + "/$ref", "must be a string");
    const std::string ref = ref_value.get<std::string>();
    if (auto it = ref_rules_.find(ref); it != ref_rules_.end()) {
      rule = it->second;
      return true;
    }
    const Json* target = resolve(ref);
    if (!target) {
      return fail(path + "/$ref", "cannot resolve '" + ref +
                                      "' (only references inside this schema, '#/...', work)");
    }
    // Reserve the name before visiting, so that recursive references find it.
    const size_t slash = ref.rfind('/');
    const std::string name = unique_name(slash == std::string::npos ? ref : ref.substr(slash + 1));
    ref_rules_[ref] = name;
    std::string body;
    if (!body_for(*target, name, ref, depth + 1, body)) return false;
    rules_.emplace_back(name, body);
    rule = name;
    return true;
  }

  bool union_body(const Json& schema, const Json& branches, const char* key,
                  const std::string& name, const std::string& path, int depth, std::string& body) {
    const std::string branches_path = path + "/" + key;
    if (!branches.is_array() || branches.empty()) {
      return fail(branches_path, "must be a non-empty array");
    }
    // Constraining siblings (e.g. "type": "object" next to anyOf) apply to every branch.
    Json siblings = schema;
    siblings.erase("anyOf");
    siblings.erase("oneOf");
    siblings.erase("nullable");
    bool merge = false;
    for (const auto& [k, v] : siblings.items()) merge = merge || constraint_keywords().count(k);
    body.clear();
    for (size_t i = 0; i < branches.size(); ++i) {
      const std::string branch_path = branches_path + "/" + std::to_string(i);
      Json branch = branches[i];
      if (merge && !merge_parts({siblings, branches[i]}, branch_path, depth, branch)) return false;
      std::string rule;
      if (!visit(branch, name + "-" + std::to_string(i), branch_path, depth + 1, rule)) {
        return false;
      }
      body += (i ? " | " : "") + rule;
    }
    return true;
  }

  static std::vector<std::string> type_list(const Json& type) {
    std::vector<std::string> out;
    if (type.is_string()) out.push_back(type.get<std::string>());
    if (type.is_array()) {
      for (const Json& t : type) {
        if (t.is_string()) out.push_back(t.get<std::string>());
      }
    }
    return out;
  }

  // allOf: merges the parts (references resolved, nested allOf flattened) into one schema.
  bool merge_parts(const std::vector<Json>& parts, const std::string& path, int depth, Json& out) {
    if (depth > kMaxSchemaDepth) return fail(path, "allOf/$ref chain too deep or circular");
    if (!out.is_object()) out = Json::object();
    for (Json part : parts) {
      if (part.is_boolean()) {
        if (part.get<bool>()) continue;
        return fail(path, "allOf includes the schema 'false'");
      }
      if (!part.is_object()) return fail(path, "allOf parts must be schemas");
      std::vector<Json> expanded;
      if (const Json* ref = find(part, "$ref")) {
        if (!ref->is_string()) return fail(path + "/$ref", "must be a string");
        const Json* target = resolve(ref->get<std::string>());
        if (!target)
          return fail(path + "/$ref", "cannot resolve '" + ref->get<std::string>() + "'");
        expanded.push_back(*target);
        part.erase("$ref");
      }
      if (const Json* all = find(part, "allOf")) {
        if (!all->is_array()) return fail(path + "/allOf", "must be an array");
        for (const Json& p : *all) expanded.push_back(p);
        part.erase("allOf");
      }
      if (!expanded.empty()) {
        expanded.push_back(part);
        Json inner = Json::object();
        if (!merge_parts(expanded, path, depth + 1, inner)) return false;
        part = std::move(inner);
      }
      for (const auto& [key, value] : part.items()) {
        if (key == "properties" && value.is_object() && out.contains("properties")) {
          for (const auto& [p, s] : value.items()) out["properties"][p] = s;
        } else if (key == "required" && value.is_array() && out.contains("required")) {
          for (const Json& r : value) {
            if (std::find(out["required"].begin(), out["required"].end(), r) ==
                out["required"].end()) {
              out["required"].push_back(r);
            }
          }
        } else if (key == "type" && out.contains("type")) {
          std::vector<std::string> common;
          const std::vector<std::string> a = type_list(out["type"]), b = type_list(value);
          for (const std::string& t : a) {
            for (const std::string& u : b) {
              if (t == u || (t == "number" && u == "integer")) common.push_back(u);
              if (t == "integer" && u == "number") common.push_back(t);
            }
          }
          if (common.empty()) return fail(path, "allOf combines types that share no value");
          out["type"] = common.size() == 1 ? Json(common[0]) : Json(common);
        } else if ((key == "anyOf" || key == "oneOf") &&
                   (out.contains("anyOf") || out.contains("oneOf"))) {
          return fail(path, "allOf with more than one anyOf/oneOf is not supported");
        } else {
          out[key] = value;
        }
      }
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Values of each type

  // A JSON value as grammar: scalars exactly as serialized, arrays and objects with whitespace.
  bool literal(const Json& value, const std::string& path, int depth, std::string& body) {
    if (depth > kMaxSchemaDepth) return fail(path, "value nested too deeply");
    if (value.is_object() || value.is_array()) {
      const bool object = value.is_object();
      body = gbnf_literal(object ? "{" : "[") + " " + use("ws");
      size_t i = 0;
      for (const auto& [key, item] : value.items()) {
        std::string item_body;
        if (!literal(item, path, depth + 1, item_body)) return false;
        body += i++ ? " \",\" ws " : " ";
        if (object) body += gbnf_literal(dump_json(Json(key))) + " ws \":\" ws ";
        body += "( " + item_body + " ) ws";
      }
      body += " " + gbnf_literal(object ? "}" : "]");
      return true;
    }
    body = gbnf_literal(dump_json(value));
    return true;
  }

  bool read_count(const Json& schema, const char* key, const std::string& path,
                  std::optional<uint64_t>& out) {
    const Json* value = find(schema, key);
    out.reset();
    if (!value) return true;
    if (!value->is_number() || value->get<double>() < 0 ||
        value->get<double>() != std::floor(value->get<double>())) {
      return fail(path + "/" + key, "must be a non-negative integer");
    }
    const double v = value->get<double>();
    out = v > 1e15 ? uint64_t{1000000000000000} : static_cast<uint64_t>(v);
    return true;
  }

  // "{m,n}" for the grammar, or "" when it is {1,1}. n == nullopt: unbounded.
  static std::string repeat(uint64_t min, std::optional<uint64_t> max) {
    if (!max) return min == 0 ? "*" : min == 1 ? "+" : "{" + std::to_string(min) + ",}";
    if (min == *max) return min == 1 ? "" : "{" + std::to_string(min) + "}";
    if (min == 0 && *max == 1) return "?";
    return "{" + std::to_string(min) + "," + std::to_string(*max) + "}";
  }

  bool string_body(const Json& schema, const std::string& path, std::string& body) {
    const std::string quote = gbnf_literal("\"");
    if (const Json* pattern = find(schema, "pattern")) {
      if (!pattern->is_string()) return fail(path + "/pattern", "must be a string");
      Result<std::string> expression = detail::regex_to_gbnf(pattern->get<std::string>());
      if (!expression) return fail(path + "/pattern", expression.message());
      body = quote + " " + *expression + " " + quote;
      return true;
    }
    if (const Json* format = find(schema, "format"); format && format->is_string()) {
      const std::string f = format->get<std::string>();
      if (f == "date" || f == "time" || f == "date-time" || f == "uuid") {
        body = quote + " " + use(f) + " " + quote;
        return true;
      }
    }
    std::optional<uint64_t> min_length, max_length;
    if (!read_count(schema, "minLength", path, min_length)) return false;
    if (!read_count(schema, "maxLength", path, max_length)) return false;
    const uint64_t min = min_length.value_or(0);
    if (min > kMaxLength) {
      return fail(path + "/minLength", "larger than the supported " + std::to_string(kMaxLength));
    }
    if (max_length && *max_length > kMaxLength) max_length.reset();
    if (max_length && *max_length < min) {
      return fail(path, "maxLength is below minLength");
    }
    if (min == 0 && !max_length) {
      body = use("string");
      return true;
    }
    if (max_length && *max_length == 0) {
      body = quote + " " + quote;
      return true;
    }
    body = quote + " " + use("char") + repeat(min, max_length) + " " + quote;
    return true;
  }

  bool array_body(const Json& schema, const std::string& name, const std::string& path, int depth,
                  std::string& body) {
    const std::string ws = use("ws");
    const Json* prefix = find(schema, "prefixItems");
    const Json* items = find(schema, "items");
    if ((prefix && prefix->is_array()) || (items && items->is_array())) {
      // A tuple: every listed item, then more only when `items` is a schema.
      const bool modern = prefix && prefix->is_array();
      const Json& tuple = modern ? *prefix : *items;
      const std::string tuple_path = path + (modern ? "/prefixItems" : "/items");
      std::string rest;
      if (modern && items && (items->is_object() || (items->is_boolean() && items->get<bool>()))) {
        if (!visit(*items, name + "-item", path + "/items", depth + 1, rest)) return false;
      }
      body = gbnf_literal("[") + " " + ws;
      for (size_t i = 0; i < tuple.size(); ++i) {
        std::string rule;
        if (!visit(tuple[i], name + "-" + std::to_string(i), tuple_path + "/" + std::to_string(i),
                   depth + 1, rule)) {
          return false;
        }
        body += (i ? " \",\" ws " : " ") + rule + " ws";
      }
      if (!rest.empty()) {
        body += tuple.empty() ? " ( " + rest + " ws ( \",\" ws " + rest + " ws )* )?"
                              : " ( \",\" ws " + rest + " ws )*";
      }
      body += " " + gbnf_literal("]");
      return true;
    }
    std::optional<uint64_t> min_items, max_items;
    if (!read_count(schema, "minItems", path, min_items)) return false;
    if (!read_count(schema, "maxItems", path, max_items)) return false;
    const uint64_t min = min_items.value_or(0);
    if (min > kMaxItems) {
      return fail(path + "/minItems", "larger than the supported " + std::to_string(kMaxItems));
    }
    if (max_items && *max_items > kMaxItems) max_items.reset();
    if (max_items && *max_items < min) return fail(path, "maxItems is below minItems");
    std::string item = use("value");
    if (items && items->is_boolean() && !items->get<bool>()) {
      max_items = 0;
    } else if (items) {
      if (!visit(*items, name + "-item", path + "/items", depth + 1, item)) return false;
    }
    if (max_items && *max_items == 0) {
      if (min > 0) return fail(path, "minItems > 0 but no item is allowed");
      body = gbnf_literal("[") + " ws " + gbnf_literal("]");
      return true;
    }
    const uint64_t more_min = min > 0 ? min - 1 : 0;
    std::optional<uint64_t> more_max;
    if (max_items) more_max = *max_items - 1;
    std::string items_body = item + " ws";
    if (!more_max || *more_max > 0) {
      items_body += " ( \",\" ws " + item + " ws )" + repeat(more_min, more_max);
    }
    body = gbnf_literal("[") + " ws " + (min == 0 ? "( " + items_body + " )?" : items_body) + " " +
           gbnf_literal("]");
    return true;
  }

  bool object_body(const Json& schema, const std::string& name, const std::string& path, int depth,
                   std::string& body) {
    const std::string ws = use("ws");
    const Json* properties = find(schema, "properties");
    if (properties && !properties->is_object()) {
      return fail(path + "/properties", "must be an object");
    }
    std::vector<std::string> required;
    if (const Json* list = find(schema, "required")) {
      if (!list->is_array()) return fail(path + "/required", "must be an array of names");
      for (const Json& r : *list) {
        if (!r.is_string()) return fail(path + "/required", "must be an array of names");
        if (std::find(required.begin(), required.end(), r.get<std::string>()) == required.end()) {
          required.push_back(r.get<std::string>());
        }
      }
    }
    // Additional members: off by default when properties are listed (strict mode).
    std::string extra_value;
    if (const Json* additional = find(schema, "additionalProperties")) {
      if (additional->is_boolean()) {
        if (additional->get<bool>()) extra_value = use("value");
      } else if (!visit(*additional, name + "-additional", path + "/additionalProperties",
                        depth + 1, extra_value)) {
        return false;
      }
    } else if (!properties) {
      extra_value = use("value");
    }
    if (!properties && required.empty() && extra_value == "value") {
      body = use("object");
      return true;
    }

    struct Member {
      std::string key;
      const Json* schema;  // null: any value (a required name with no property schema)
    };
    std::vector<Member> required_members, optional_members;
    const auto is_required = [&](const std::string& key) {
      return std::find(required.begin(), required.end(), key) != required.end();
    };
    if (properties) {
      for (const auto& [key, sub] : properties->items()) {
        if (is_required(key)) required_members.push_back({key, &sub});
      }
    }
    for (const std::string& key : required) {
      if (!properties || !properties->contains(key)) required_members.push_back({key, nullptr});
    }
    if (properties) {
      for (const auto& [key, sub] : properties->items()) {
        if (!is_required(key)) optional_members.push_back({key, &sub});
      }
    }
    // One rule per member: "key" ws ":" ws value ws.
    const auto member_rule = [&](const Member& m, std::string& rule) {
      std::string value = use("value");
      if (m.schema && !visit(*m.schema, name + "-" + m.key,
                             path + "/properties/" + pointer_token(m.key), depth + 1, value)) {
        return false;
      }
      rule = add_rule(name + "-" + m.key + "-kv",
                      gbnf_literal(dump_json(Json(m.key))) + " ws \":\" ws " + value + " ws");
      return true;
    };
    std::vector<std::string> required_rules, optional_rules;
    for (const Member& m : required_members) {
      required_rules.emplace_back();
      if (!member_rule(m, required_rules.back())) return false;
    }
    for (const Member& m : optional_members) {
      optional_rules.emplace_back();
      if (!member_rule(m, optional_rules.back())) return false;
    }
    std::string extra_rule;
    if (!extra_value.empty()) {
      extra_rule =
          add_rule(name + "-additional-kv", use("string") + " ws \":\" ws " + extra_value + " ws");
    }
    const std::string open = gbnf_literal("{") + " ws";
    const std::string close = gbnf_literal("}");
    const std::string extras = extra_rule.empty() ? "" : " ( \",\" ws " + extra_rule + " )*";

    if (!required_rules.empty()) {
      body = open;
      for (size_t i = 0; i < required_rules.size(); ++i) {
        body += (i ? " \",\" ws " : " ") + required_rules[i];
      }
      for (const std::string& rule : optional_rules) body += " ( \",\" ws " + rule + " )?";
      body += extras + " " + close;
      return true;
    }
    if (optional_rules.empty() && extra_rule.empty()) {
      body = open + " " + close;
      return true;
    }
    // No required member: the first member present may be any optional one (or an extra one),
    // and after it come only the optional ones declared later, then extras. tail_i holds
    // "( , member_i )? ... extras" so the rule stays linear in the number of members.
    std::vector<std::string> tails(optional_rules.size() + 1);
    tails.back() = extras.empty() ? "" : add_rule(name + "-tail", extras.substr(1));
    for (size_t i = optional_rules.size(); i-- > 1;) {
      tails[i] = add_rule(name + "-tail", "( \",\" ws " + optional_rules[i] + " )?" +
                                              (tails[i + 1].empty() ? "" : " " + tails[i + 1]));
    }
    std::string first;
    for (size_t i = 0; i < optional_rules.size(); ++i) {
      first +=
          (i ? " | " : "") + optional_rules[i] + (tails[i + 1].empty() ? "" : " " + tails[i + 1]);
    }
    if (!extra_rule.empty()) {
      first += (first.empty() ? "" : " | ") + extra_rule + " " + tails.back();
    }
    const std::string members = add_rule(name + "-members", first);
    body = open + " " + members + "? " + close;
    return true;
  }

  const Json& root_;
  std::vector<std::pair<std::string, std::string>> rules_;  // in definition order, root excluded
  std::set<std::string> taken_;
  std::set<std::string> used_primitives_;
  std::map<std::string, std::string> ref_rules_;  // "$ref" string -> rule name
  std::optional<std::string> error_;
};

}  // namespace

std::string json_object_gbnf() {
  Result<std::string> gbnf = SchemaConverter(Json{{"type", "object"}}).run();
  return gbnf ? *gbnf : std::string();
}

Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema) {
  try {
    return SchemaConverter(schema).run();
  } catch (const nlohmann::json::exception& e) {
    // Every access above checks types first; this guards against a case missed.
    return Error{std::string("json schema: ") + e.what()};
  }
}

Result<std::string> json_schema_to_gbnf(const nlohmann::json& schema) {
  return json_schema_to_gbnf(nlohmann::ordered_json(schema));
}

}  // namespace cove::runtime
