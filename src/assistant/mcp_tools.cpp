// MCP tool definitions and results (see mcp_tools.h).
#include "assistant/mcp_tools.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace cove::assistant {

namespace {

bool is_tchar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                std::string_view::npos;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string string_field(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Keys whose values are data, not schemas: an "x-mcp-header" inside them is not an annotation.
bool is_data_keyword(std::string_view key) {
  return key == "default" || key == "const" || key == "enum" || key == "examples" ||
         key == "example";
}

// Walks a schema collecting x-mcp-header annotations; `reachable` says whether this schema is
// reached from the root through `properties` keys only.
Status collect_header_params(const Json& schema, std::vector<std::string>& path, bool reachable,
                             std::vector<McpHeaderParam>& out) {
  if (schema.is_array()) {
    for (const Json& element : schema) {
      Status s = collect_header_params(element, path, false, out);
      if (!s.is_ok()) return s;
    }
    return Status::ok();
  }
  if (!schema.is_object()) return Status::ok();
  if (auto it = schema.find("x-mcp-header"); it != schema.end()) {
    if (!reachable || path.empty()) {
      return Error{"x-mcp-header is only allowed on properties reached through 'properties'"};
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
      return Error{"x-mcp-header must be a non-empty string"};
    }
    std::string header = it->get<std::string>();
    for (unsigned char c : header) {
      if (!is_tchar(c)) return Error{"x-mcp-header '" + excerpt(header) + "' is not a header token"};
    }
    std::string type = string_field(schema, "type");
    if (type != "string" && type != "integer" && type != "boolean") {
      return Error{"x-mcp-header '" + header + "' is on a parameter of type '" + type +
                   "' (only string, integer and boolean are allowed)"};
    }
    out.push_back({path, header});
  }
  for (const auto& [key, value] : schema.items()) {
    if (is_data_keyword(key)) continue;
    if (key == "properties" && value.is_object()) {
      for (const auto& [name, property] : value.items()) {
        path.push_back(name);
        Status s = collect_header_params(property, path, reachable, out);
        path.pop_back();
        if (!s.is_ok()) return s;
      }
    } else if (value.is_object() || value.is_array()) {
      Status s = collect_header_params(value, path, false, out);
      if (!s.is_ok()) return s;
    }
  }
  return Status::ok();
}

std::string describe_binary(const char* kind, const Json& item) {
  std::string mime = string_field(item, "mimeType");
  size_t encoded = string_field(item, "data").size();
  return std::string("[") + kind + (mime.empty() ? "" : ": " + mime) + ", " +
         std::to_string(encoded / 4 * 3) + " bytes]";
}

}  // namespace

Result<McpTool> parse_mcp_tool(const Json& value, bool strict_header_params) {
  if (!value.is_object()) return Error{"a tool must be a JSON object"};
  McpTool tool;
  tool.name = string_field(value, "name");
  if (tool.name.empty()) return Error{"a tool has no name"};
  tool.title = string_field(value, "title");
  tool.description = string_field(value, "description");
  auto schema = value.find("inputSchema");
  if (schema == value.end() || schema->is_null()) {
    tool.input_schema = {{"type", "object"}};
  } else if (!schema->is_object()) {
    return Error{"tool '" + tool.name + "': inputSchema must be an object"};
  } else {
    tool.input_schema = *schema;
  }
  if (auto it = value.find("outputSchema"); it != value.end()) tool.output_schema = *it;
  if (auto it = value.find("annotations"); it != value.end()) tool.annotations = *it;
  std::vector<std::string> path;
  Status headers = collect_header_params(tool.input_schema, path, true, tool.header_params);
  if (headers.is_ok()) {
    std::set<std::string> seen;
    for (const McpHeaderParam& param : tool.header_params) {
      std::string lower = param.header;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (!seen.insert(lower).second) {
        headers = Error{"x-mcp-header '" + param.header + "' is used twice"};
        break;
      }
    }
  }
  if (!headers.is_ok()) {
    if (strict_header_params) return Error{"tool '" + tool.name + "': " + headers.message()};
    tool.header_params.clear();  // other transports may ignore the annotations
  }
  return tool;
}

Result<McpToolResult> parse_tool_result(const Json& result) {
  if (!result.is_object()) return Error{"a tools/call result must be a JSON object"};
  McpToolResult out;
  if (auto it = result.find("isError"); it != result.end() && it->is_boolean()) {
    out.is_error = it->get<bool>();
  }
  if (auto it = result.find("structuredContent"); it != result.end() && !it->is_null()) {
    out.structured_content = *it;
  }
  auto content = result.find("content");
  if (content != result.end() && !content->is_array()) {
    return Error{"tools/call result: 'content' must be an array"};
  }
  out.content = content != result.end() ? *content : Json::array();
  std::string text;
  for (const Json& item : out.content) {
    if (!item.is_object()) continue;
    std::string type = string_field(item, "type");
    std::string piece;
    if (type == "text") {
      piece = string_field(item, "text");
    } else if (type == "image" || type == "audio") {
      piece = describe_binary(type.c_str(), item);
    } else if (type == "resource_link") {
      piece = "[resource link: " + string_field(item, "uri");
      std::string name = string_field(item, "name");
      if (!name.empty()) piece += " (" + name + ")";
      piece += "]";
    } else if (type == "resource") {
      const Json& resource = item.contains("resource") && item["resource"].is_object()
                                 ? item["resource"]
                                 : item;
      if (resource.contains("text") && resource["text"].is_string()) {
        piece = resource["text"].get<std::string>();
      } else {
        piece = "[resource: " + string_field(resource, "uri") + "]";
      }
    } else {
      piece = "[" + (type.empty() ? std::string("untyped") : excerpt(type, 40)) + " content]";
    }
    if (!text.empty()) text += "\n";
    text += piece;
  }
  if (text.empty() && !out.structured_content.is_null()) {
    text = out.structured_content.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  out.text = std::move(text);
  return out;
}

std::string encode_mcp_header_value(std::string_view value) {
  bool safe = !value.empty() && value.front() != ' ' && value.front() != '\t' &&
              value.back() != ' ' && value.back() != '\t';
  for (unsigned char c : value) {
    if (!(c == '\t' || (c >= 0x20 && c <= 0x7e))) safe = false;
  }
  bool looks_encoded = value.size() >= 11 && value.substr(0, 9) == "=?base64?" &&
                       value.substr(value.size() - 2) == "?=";
  if (value.empty()) return std::string();
  if (safe && !looks_encoded) return std::string(value);
  return "=?base64?" + base64(value) + "?=";
}

McpHeaders header_params_for_call(const McpTool& tool, const Json& arguments) {
  McpHeaders headers;
  for (const McpHeaderParam& param : tool.header_params) {
    const Json* at = &arguments;
    for (const std::string& key : param.path) {
      if (!at->is_object() || !at->contains(key)) {
        at = nullptr;
        break;
      }
      at = &(*at)[key];
    }
    if (at == nullptr || at->is_null()) continue;  // absent or null: no header
    std::string value;
    if (at->is_string()) {
      value = at->get<std::string>();
    } else if (at->is_boolean()) {
      value = at->get<bool>() ? "true" : "false";
    } else if (at->is_number_integer()) {
      value = at->dump();
    } else if (at->is_number_float() && at->get<double>() == static_cast<int64_t>(at->get<double>())) {
      value = std::to_string(static_cast<int64_t>(at->get<double>()));
    } else {
      continue;  // not a primitive the annotation allows; the server validates the body
    }
    headers.emplace_back("Mcp-Param-" + param.header, encode_mcp_header_value(value));
  }
  return headers;
}

std::string mcp_exposed_tool_name(std::string_view server, std::string_view tool) {
  std::string name;
  auto append = [&](std::string_view part) {
    for (unsigned char c : part) name += std::isalnum(c) || c == '_' || c == '-' ? char(c) : '_';
  };
  append(server);
  name += "__";
  append(tool);
  if (name.size() > 64) name.resize(64);
  return name;
}

Json mcp_tool_definition(std::string_view exposed_name, const McpTool& tool) {
  std::string description = tool.description.empty() ? tool.title : tool.description;
  return {{"type", "function"},
          {"function",
           {{"name", exposed_name}, {"description", description}, {"parameters", tool.input_schema}}}};
}

}  // namespace cove::assistant
