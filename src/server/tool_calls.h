// Function tools (OpenAI `tools`): validation, the JSON schema a forced tool call must follow,
// and recognizing tool calls in generated text.
//
// A forced call (tool_choice "required" or a named function) is generated under a grammar for
//   {"name": "<one of the tools>", "arguments": {...the tool's parameters schema...}}
// With tool_choice "auto" the model is free, and the output counts as tool calls when it is,
// after trimming whitespace, one of the formats models are trained to emit:
//   {"name": ..., "arguments": {...}}                 (also "parameters" instead of "arguments")
//   [{"name": ..., "arguments": ...}, ...]
//   <tool_call>{"name": ..., "arguments": ...}</tool_call> (one or more; Hermes, Qwen 2.5/3)
// and every name is a declared tool.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace cove::server {

enum class ToolChoice { kNone, kAuto, kRequired, kFunction };

struct ToolCall {
  std::string name;
  std::string arguments;  // JSON text, as OpenAI returns it
};

// Checks `tools` (null or an array of {"type": "function", "function": {"name", ...}}).
ApiResult<bool> validate_tools(const nlohmann::ordered_json& tools);

// The schema of a forced call: one tool (kFunction, `name`) or any of them (kRequired).
// Local "$ref"s inside the tools' parameter schemas are rebased so they keep pointing at the
// same place inside the combined schema.
ApiResult<nlohmann::ordered_json> forced_tool_call_schema(const nlohmann::ordered_json& tools,
                                                          ToolChoice choice,
                                                          const std::string& name);

// Tool calls in generated text, or nullopt when the text is not (only) tool calls.
std::optional<std::vector<ToolCall>> parse_tool_calls(std::string_view text,
                                                      const nlohmann::ordered_json& tools);

// True while `text` could still become a recognizable tool call (used to hold back streamed
// text under tool_choice "auto").
bool may_become_tool_call(std::string_view text);

}  // namespace cove::server
