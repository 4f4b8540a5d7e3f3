// Function tools: validation, forced-call schemas, recognizing calls in output (tool_calls.h).
#include "server/tool_calls.h"

#include <algorithm>

namespace cove::server {
namespace {

using ordered_json = nlohmann::ordered_json;

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

const ordered_json* find_tool(const ordered_json& tools, const std::string& name) {
  if (!tools.is_array()) return nullptr;
  for (const ordered_json& tool : tools) {
    const ordered_json& fn = tool["function"];
    if (fn["name"] == name) return &fn;
  }
  return nullptr;
}

// Prefixes every local "$ref" ("#/...") below `schema` with `base` ("#/anyOf/0/...").
void rebase_refs(ordered_json& schema, const std::string& base) {
  if (schema.is_object()) {
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (it.key() == "$ref" && it.value().is_string()) {
        const std::string ref = it.value().get<std::string>();
        if (ref == "#") {
          it.value() = base;
        } else if (ref.rfind("#/", 0) == 0) {
          it.value() = base + ref.substr(1);
        }
      } else {
        rebase_refs(it.value(), base);
      }
    }
  } else if (schema.is_array()) {
    for (ordered_json& item : schema) rebase_refs(item, base);
  }
}

ordered_json call_schema(const ordered_json& fn, const std::string& base) {
  ordered_json parameters = fn.contains("parameters") && fn["parameters"].is_object()
                                ? fn["parameters"]
                                : ordered_json{{"type", "object"}};
  rebase_refs(parameters, base + "/properties/arguments");
  ordered_json schema = ordered_json::object();
  schema["type"] = "object";
  schema["properties"]["name"] = ordered_json{{"const", fn["name"]}};
  schema["properties"]["arguments"] = std::move(parameters);
  schema["required"] = ordered_json::array({"name", "arguments"});
  return schema;
}

// One {"name", "arguments"|"parameters"} object naming a declared tool.
std::optional<ToolCall> call_from_json(const ordered_json& j, const ordered_json& tools) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  const std::string name = j["name"].get<std::string>();
  if (find_tool(tools, name) == nullptr) return std::nullopt;
  const char* key = j.contains("arguments") ? "arguments" : "parameters";
  if (!j.contains(key)) return ToolCall{name, "{}"};
  const ordered_json& args = j[key];
  if (args.is_string()) return ToolCall{name, args.get<std::string>()};
  if (!args.is_object()) return std::nullopt;
  return ToolCall{name, args.dump(-1, ' ', false, ordered_json::error_handler_t::replace)};
}

std::optional<ordered_json> parse_json(std::string_view text) {
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

constexpr std::string_view kOpenTag = "<tool_call>";
constexpr std::string_view kCloseTag = "</tool_call>";

}  // namespace

ApiResult<bool> validate_tools(const ordered_json& tools) {
  if (tools.is_null()) return true;
  if (!tools.is_array()) return invalid_request("'tools' must be an array", "tools");
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const ordered_json& tool = tools[i];
    if (!tool.is_object() || tool.value("type", "") != "function") {
      return invalid_request(where + " must be an object with \"type\": \"function\"", where);
    }
    if (!tool.contains("function") || !tool["function"].is_object()) {
      return invalid_request(where + ".function must be an object", where + ".function");
    }
    const ordered_json& fn = tool["function"];
    if (!fn.contains("name") || !fn["name"].is_string() ||
        fn["name"].get<std::string>().empty()) {
      return invalid_request(where + ".function.name must be a non-empty string",
                             where + ".function.name");
    }
    if (fn.contains("parameters") && !fn["parameters"].is_object() &&
        !fn["parameters"].is_null()) {
      return invalid_request(where + ".function.parameters must be a JSON schema object",
                             where + ".function.parameters");
    }
  }
  return true;
}

ApiResult<ordered_json> forced_tool_call_schema(const ordered_json& tools, ToolChoice choice,
                                                const std::string& name) {
  if (!tools.is_array() || tools.empty()) {
    return invalid_request("tool_choice requires a non-empty 'tools' array", "tool_choice");
  }
  if (choice == ToolChoice::kFunction) {
    const ordered_json* fn = find_tool(tools, name);
    if (fn == nullptr) {
      return invalid_request("tool_choice names the function '" + name +
                                 "', which is not among 'tools'",
                             "tool_choice");
    }
    return call_schema(*fn, "#");
  }
  ordered_json any_of = ordered_json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    any_of.push_back(call_schema(tools[i]["function"], "#/anyOf/" + std::to_string(i)));
  }
  if (any_of.size() == 1) {
    return call_schema(tools[0]["function"], "#");
  }
  return ordered_json{{"anyOf", std::move(any_of)}};
}

std::optional<std::vector<ToolCall>> parse_tool_calls(std::string_view text,
                                                      const ordered_json& tools) {
  text = trim(text);
  if (text.empty() || !tools.is_array()) return std::nullopt;
  std::vector<ToolCall> calls;
  if (text.front() == '{' || text.front() == '[') {
    std::optional<ordered_json> j = parse_json(text);
    if (!j) return std::nullopt;
    if (j->is_array()) {
      if (j->empty()) return std::nullopt;
      for (const ordered_json& item : *j) {
        std::optional<ToolCall> call = call_from_json(item, tools);
        if (!call) return std::nullopt;
        calls.push_back(std::move(*call));
      }
      return calls;
    }
    std::optional<ToolCall> call = call_from_json(*j, tools);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    return calls;
  }
  // <tool_call>...</tool_call> blocks, separated by whitespace only.
  while (!text.empty()) {
    if (text.substr(0, kOpenTag.size()) != kOpenTag) return std::nullopt;
    text.remove_prefix(kOpenTag.size());
    const size_t close = text.find(kCloseTag);
    if (close == std::string_view::npos) return std::nullopt;
    std::optional<ordered_json> j = parse_json(trim(text.substr(0, close)));
    if (!j) return std::nullopt;
    std::optional<ToolCall> call = call_from_json(*j, tools);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    text = trim(text.substr(close + kCloseTag.size()));
  }
  if (calls.empty()) return std::nullopt;
  return calls;
}

bool may_become_tool_call(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' ||
                             text[i] == '\t')) {
    ++i;
  }
  text.remove_prefix(i);
  if (text.empty()) return true;
  if (text.front() == '{' || text.front() == '[') return true;
  const size_t n = std::min(text.size(), kOpenTag.size());
  return text.substr(0, n) == kOpenTag.substr(0, n);
}

}  // namespace cove::server
