// MCP tools as data: reading a server's tool definitions, turning a tools/call result into text
// for the model, naming tools with their server prefix, and the `x-mcp-header` parameters that
// the 2026-07-28 HTTP transport mirrors into headers.
//
// All of it reads untrusted server output: a bad definition is refused with a reason (and the
// other tools still work), never thrown.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "assistant/mcp_json_rpc.h"
#include "assistant/mcp_transport.h"
#include "core/result.h"

namespace cove::assistant {

// An `x-mcp-header` annotation of a tool parameter: mirrored as `Mcp-Param-{header}` over HTTP.
struct McpHeaderParam {
  std::vector<std::string> path;  // property names from the schema root
  std::string header;
};

struct McpTool {
  std::string name;  // the server's name for it
  std::string title;
  std::string description;
  Json input_schema;   // a JSON Schema object
  Json output_schema;  // null when absent
  Json annotations;    // null when absent
  std::vector<McpHeaderParam> header_params;
};

struct McpToolResult {
  bool is_error = false;    // the tool ran and reported failure (its text says why)
  std::string text;         // content turned into text for the model
  Json content;             // the raw content array
  Json structured_content;  // null when absent
};

// Reads one entry of a tools/list result. `strict_header_params` (Streamable HTTP) refuses a
// tool whose x-mcp-header annotations break the spec's rules, as the spec requires.
Result<McpTool> parse_mcp_tool(const Json& value, bool strict_header_params);

// Reads a tools/call result: content items become text (text items verbatim; images, audio and
// resources as a short bracketed note), structuredContent is kept, isError is honoured.
Result<McpToolResult> parse_tool_result(const Json& result);

// The Mcp-Param-* headers for a call of `tool` with `arguments` (values encoded per the spec:
// plain when header-safe, else "=?base64?...?=").
McpHeaders header_params_for_call(const McpTool& tool, const Json& arguments);

// A header value: itself when it is visible ASCII without leading/trailing space and does not
// look like the sentinel, else "=?base64?<base64 of the UTF-8 bytes>?=".
std::string encode_mcp_header_value(std::string_view value);

// The name the model sees: "<server>__<tool>", reduced to [A-Za-z0-9_-] and 64 characters
// (the OpenAI function-name rule).
std::string mcp_exposed_tool_name(std::string_view server, std::string_view tool);

// The OpenAI-style definition the model sees:
// {"type":"function","function":{"name","description","parameters"}}.
Json mcp_tool_definition(std::string_view exposed_name, const McpTool& tool);

}  // namespace cove::assistant
