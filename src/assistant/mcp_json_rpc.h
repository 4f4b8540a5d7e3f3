// JSON-RPC 2.0 messages as MCP uses them: building requests, notifications and responses, and
// sorting what a server sends into requests, notifications, results and errors.
//
// Everything a server sends is untrusted: classify_message never throws and says what is wrong
// with a message in `problem` instead. Newline-delimited framing (stdio) splits on '\n' only;
// a message must not contain a raw newline, which JSON serialisation guarantees.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cove::assistant {

using Json = nlohmann::json;

// Standard JSON-RPC codes and the ones MCP defines (-32020..-32099 are reserved for the MCP spec).
inline constexpr int kJsonRpcParseError = -32700;
inline constexpr int kJsonRpcInvalidRequest = -32600;
inline constexpr int kJsonRpcMethodNotFound = -32601;
inline constexpr int kJsonRpcInvalidParams = -32602;
inline constexpr int kJsonRpcInternalError = -32603;
inline constexpr int kMcpHeaderMismatch = -32020;
inline constexpr int kMcpMissingRequiredClientCapability = -32021;
inline constexpr int kMcpUnsupportedProtocolVersion = -32022;

// A short name for a known error code ("method not found"), or "" for others.
std::string_view json_rpc_error_name(int code);

enum class McpMessageKind {
  kRequest,        // method + id: the server asks us something (ping, roots/list, ...)
  kNotification,   // method, no id
  kResult,         // id + result
  kError,          // error (+ id, which may be null when the server could not read ours)
  kInvalid,        // anything else; `problem` says why
};

struct McpMessage {
  McpMessageKind kind = McpMessageKind::kInvalid;
  Json id;                 // null when absent
  std::string method;      // requests and notifications
  Json params;             // requests and notifications; null when absent
  Json result;             // kResult
  int error_code = 0;      // kError
  std::string error_message;
  Json error_data;         // kError; null when absent
  std::string problem;     // kInvalid: what is wrong
};

// Sorts one decoded JSON value into a message kind. Never throws.
McpMessage classify_message(const Json& value);

// Parses one line of newline-delimited JSON-RPC. A JSON array (a batch, allowed by older
// protocol versions) yields each element; anything that is not valid JSON is an error that
// quotes the start of the line.
Result<std::vector<Json>> parse_message_line(std::string_view line);

Json make_request(int64_t id, std::string_view method, Json params);
Json make_notification(std::string_view method, Json params);
Json make_result_response(const Json& id, Json result);
Json make_error_response(const Json& id, int code, std::string_view message);

// The first `limit` bytes of a text, for error messages about untrusted input.
std::string excerpt(std::string_view text, size_t limit = 120);

}  // namespace cove::assistant
