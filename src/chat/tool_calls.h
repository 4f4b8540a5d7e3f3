// Tool calls written by models as text: parsing the model-specific formats into OpenAI-shaped
// tool_calls, and the GBNF grammar that forces a well-formed call.
//
// Formats read (ToolCallFormat::kAuto tries each by its marker):
//   Llama 3.x   {"name": "f", "parameters": {...}} (or "arguments"), optionally after
//               <|python_tag|>; several separated by ';' or newlines; also a JSON array of such
//               objects, or the whole reply in a ```json fence. Untagged JSON counts as a call
//               only when it is the whole reply (and, if tool names are given, names one).
//   Qwen/Hermes <tool_call>{"name": "f", "arguments": {...}}</tool_call>, any number of them;
//               a final block whose closing tag never came (generation stopped) is read too.
//   Mistral     [TOOL_CALLS][{"name": "f", "arguments": {...}, "id": "abc123def"}, ...]
//               and the newer [TOOL_CALLS]f[ARGS]{...} (optionally f[CALL_ID]id[ARGS]{...}),
//               repeated for parallel calls.
// Each call becomes {"id", "type": "function", "function": {"name", "arguments": "<json text>"}}.
// Malformed candidates (bad JSON, no name, arguments that are not an object) are not calls: the
// text stays in `content` and `problems` says why. Nothing here throws on any input.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cove::chat {

enum class ToolCallFormat {
  kAuto,    // parse: detect by markers; grammar: same as kJson
  kJson,    // Llama 3.x JSON
  kHermes,  // <tool_call> blocks (Qwen 2/2.5/3, Hermes, many fine-tunes)
  kMistral, // [TOOL_CALLS]
};

struct ParsedToolCalls {
  nlohmann::ordered_json tool_calls = nlohmann::ordered_json::array();
  std::string content;                // the text without the calls, trimmed
  std::vector<std::string> problems;  // why candidate calls were not accepted
  bool has_calls() const { return !tool_calls.empty(); }
};

struct ToolCallParseOptions {
  ToolCallFormat format = ToolCallFormat::kAuto;
  // When not empty, an untagged JSON reply is a call only if it names one of these. Tagged calls
  // (<tool_call>, [TOOL_CALLS], <|python_tag|>) are returned whatever their name, so the caller
  // can answer "unknown tool".
  std::vector<std::string> tool_names;
};

ParsedToolCalls parse_tool_calls(std::string_view text, const ToolCallParseOptions& options = {});

// Guesses a model's format from its chat template text (markers it mentions); kJson when none.
ToolCallFormat tool_call_format_from_template(std::string_view chat_template);

struct ToolCallGrammarOptions {
  ToolCallFormat format = ToolCallFormat::kJson;
  bool parallel = false;  // allow more than one call
};

// A GBNF grammar (root rule "root") whose every match is a well-formed call, in the chosen
// format, to one of `tools` (OpenAI tools array: {"type": "function", "function": {"name",
// "parameters"}}; bare {"name", "parameters"} objects are accepted too), with arguments that
// match that tool's JSON Schema (runtime/json_schema.h). The call object is
// {"name": "<tool>", "arguments": {...}}, which parse_tool_calls reads back. A tool whose schema
// the converter cannot handle gets "any JSON object" arguments; entries without a valid name are
// skipped. Returns "" when no usable tool remains. Shared with the server for tool_choice.
std::string tool_call_grammar(const nlohmann::ordered_json& tools,
                              const ToolCallGrammarOptions& options = {});

}  // namespace cove::chat
