// The tool registry: what the model may call, and the one door every call goes through.
//
// A tool is described the way OpenAI's function tools are (name, description, JSON-Schema
// `parameters`) and implemented by a handler that takes the parsed arguments and returns a
// ToolResult. ToolRegistry::call is the only way to run one, and on every call it
//   1. looks the tool up (an unknown name is an error result, not an exception),
//   2. runs the policies (before_tool_call hooks: allow, deny, or rewrite the arguments) in the
//      order they were added; the first deny wins, rewrites chain,
//   3. checks the arguments against the tool's schema (object, required keys, top-level types),
//   4. runs the handler, turning anything it throws into an error result,
//   5. hands a ToolLogEntry to the log sink, whatever the outcome.
// Refusals (a policy deny, a path outside the workspace, a command not allowed) come back as
// ToolResult errors that the assistant feeds to the model as the tool's answer; the
// conversation goes on.
//
// Thread safety: registration and calls may happen on different threads; handlers and policies
// run outside the registry's lock and must be safe to call concurrently themselves.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cove::assistant {

// What the model sees: one entry of the OpenAI `tools` array.
struct ToolSpec {
  std::string name;  // [A-Za-z0-9_-]{1,64}, as OpenAI requires
  std::string description;
  nlohmann::ordered_json parameters = {{"type", "object"}, {"properties", nlohmann::json::object()}};

  // {"type": "function", "function": {"name", "description", "parameters"}}
  nlohmann::ordered_json to_openai() const;
};

// A tool's answer. `text` is what the model reads; `structured` (null when absent) carries the
// same answer as data for callers that want it (MCP's structuredContent, the API's logs).
struct ToolResult {
  bool is_error = false;
  std::string text;
  nlohmann::json structured;

  static ToolResult ok(std::string text, nlohmann::json structured = nullptr);
  static ToolResult error(std::string text);
};

using ToolHandler = std::function<ToolResult(const nlohmann::json& arguments)>;

struct ToolDefinition {
  ToolSpec spec;
  ToolHandler handler;
};

struct ToolCallRequest {
  std::string name;
  nlohmann::json arguments;  // an object
  std::string call_id;       // the model's tool_call id, if any
};

enum class PolicyAction { kAllow, kDeny, kRewrite };

struct PolicyVerdict {
  PolicyAction action = PolicyAction::kAllow;
  std::string reason;         // for kDeny: told to the model and logged
  nlohmann::json arguments;   // for kRewrite: the replacement arguments (an object)

  static PolicyVerdict allow() { return {}; }
  static PolicyVerdict deny(std::string reason) {
    return {PolicyAction::kDeny, std::move(reason), nullptr};
  }
  static PolicyVerdict rewrite(nlohmann::json arguments) {
    return {PolicyAction::kRewrite, "", std::move(arguments)};
  }
};

using ToolPolicy = std::function<PolicyVerdict(const ToolCallRequest&)>;

// How a call ended, for the log.
enum class ToolOutcome {
  kOk,            // the handler ran and succeeded
  kToolError,     // the handler ran (or refused inside itself) and returned an error
  kDenied,        // a policy denied the call
  kUnknownTool,   // no tool of that name
  kBadArguments,  // the arguments were not JSON or did not fit the schema
};
std::string_view outcome_name(ToolOutcome outcome);

struct ToolLogEntry {
  std::string call_id;
  std::string tool;
  nlohmann::json arguments;  // as the handler saw them (after rewrites); the raw text if unparsable
  ToolOutcome outcome = ToolOutcome::kOk;
  std::string policy;        // which policy denied or rewrote, if any
  ToolResult result;
  double duration_ms = 0;
};

using ToolLogSink = std::function<void(const ToolLogEntry&)>;

class ToolRegistry {
 public:
  ToolRegistry() = default;
  ToolRegistry(const ToolRegistry&) = delete;
  ToolRegistry& operator=(const ToolRegistry&) = delete;

  // Errors: a bad or duplicate name, parameters that are not a JSON-Schema object, no handler.
  Status add(ToolDefinition tool);
  bool remove(std::string_view name);
  bool contains(std::string_view name) const;
  std::vector<ToolSpec> specs() const;  // in registration order

  // The OpenAI `tools` array for a request.
  nlohmann::ordered_json openai_tools() const;

  // Policies run on every call in the order added; `name` says which one decided in the log.
  void add_policy(std::string name, ToolPolicy policy);
  bool remove_policy(std::string_view name);

  void set_log_sink(ToolLogSink sink);

  ToolResult call(std::string_view name, const nlohmann::json& arguments,
                  std::string_view call_id = "");
  // `arguments_json` is the OpenAI function.arguments string; "" means {}.
  ToolResult call_json(std::string_view name, std::string_view arguments_json,
                       std::string_view call_id = "");

 private:
  struct Entry {
    ToolSpec spec;
    std::shared_ptr<const ToolHandler> handler;
  };
  struct NamedPolicy {
    std::string name;
    std::shared_ptr<const ToolPolicy> policy;
  };

  void log(ToolLogEntry entry) const;

  mutable std::mutex mutex_;
  std::vector<Entry> tools_;
  std::vector<NamedPolicy> policies_;
  std::shared_ptr<const ToolLogSink> sink_;
};

// True for names OpenAI accepts: 1 to 64 of [A-Za-z0-9_-].
bool is_valid_tool_name(std::string_view name);

// Checks `arguments` against the parts of `schema` the registry enforces: an object, every
// `required` key present, top-level property types (string, number, integer, boolean, array,
// object, null) and `enum`. Errors name the key ("argument 'path' must be a string").
Status check_tool_arguments(const nlohmann::ordered_json& schema, const nlohmann::json& arguments);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD (tool output is shown to a model
// and stored as JSON, which must be UTF-8).
std::string to_valid_utf8(std::string_view text);

// Dumps JSON for a model to read, replacing invalid UTF-8 instead of throwing.
std::string dump_json_lenient(const nlohmann::json& value);

}  // namespace cove::assistant
