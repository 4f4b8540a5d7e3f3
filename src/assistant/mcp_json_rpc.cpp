// JSON-RPC 2.0 message building and classification for the MCP client (see mcp_json_rpc.h).
#include "assistant/mcp_json_rpc.h"

namespace cove::assistant {

std::string_view json_rpc_error_name(int code) {
  switch (code) {
    case kJsonRpcParseError: return "parse error";
    case kJsonRpcInvalidRequest: return "invalid request";
    case kJsonRpcMethodNotFound: return "method not found";
    case kJsonRpcInvalidParams: return "invalid params";
    case kJsonRpcInternalError: return "internal error";
    case kMcpHeaderMismatch: return "header mismatch";
    case kMcpMissingRequiredClientCapability: return "missing required client capability";
    case kMcpUnsupportedProtocolVersion: return "unsupported protocol version";
    default: return "";
  }
}

std::string excerpt(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += '?';  // keep control bytes of garbage input out of logs and terminals
    } else {
      out += c;
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

McpMessage classify_message(const Json& value) {
  McpMessage message;
  if (!value.is_object()) {
    message.problem = std::string("expected a JSON object, got ") + value.type_name();
    return message;
  }
  auto version = value.find("jsonrpc");
  if (version == value.end() || !version->is_string() || *version != "2.0") {
    message.problem = "missing \"jsonrpc\": \"2.0\"";
    return message;
  }
  auto id = value.find("id");
  if (id != value.end()) {
    if (!id->is_string() && !id->is_number_integer() && !id->is_null()) {
      message.problem = std::string("\"id\" must be a string or an integer, got ") +
                        id->type_name();
      return message;
    }
    message.id = *id;
  }
  auto method = value.find("method");
  if (method != value.end()) {
    if (!method->is_string()) {
      message.problem = "\"method\" must be a string";
      return message;
    }
    message.method = method->get<std::string>();
    auto params = value.find("params");
    if (params != value.end()) {
      if (!params->is_object() && !params->is_array()) {
        message.problem = "\"params\" of '" + message.method + "' must be an object";
        return message;
      }
      message.params = *params;
    }
    if (message.id.is_null()) {
      message.kind = id == value.end() ? McpMessageKind::kNotification : McpMessageKind::kInvalid;
      if (message.kind == McpMessageKind::kInvalid) message.problem = "request id must not be null";
    } else {
      message.kind = McpMessageKind::kRequest;
    }
    return message;
  }
  auto error = value.find("error");
  if (error != value.end()) {
    if (!error->is_object()) {
      message.problem = "\"error\" must be an object";
      return message;
    }
    auto code = error->find("code");
    auto text = error->find("message");
    if (code == error->end() || !code->is_number_integer()) {
      message.problem = "\"error.code\" must be an integer";
      return message;
    }
    int64_t wide = code->get<int64_t>();
    message.error_code = wide < INT32_MIN || wide > INT32_MAX ? 0 : static_cast<int>(wide);
    message.error_message = text != error->end() && text->is_string() ? text->get<std::string>()
                                                                      : std::string();
    if (auto data = error->find("data"); data != error->end()) message.error_data = *data;
    message.kind = McpMessageKind::kError;
    return message;
  }
  auto result = value.find("result");
  if (result != value.end()) {
    if (id == value.end() || message.id.is_null()) {
      message.problem = "a result needs an id";
      return message;
    }
    message.result = *result;
    message.kind = McpMessageKind::kResult;
    return message;
  }
  message.problem = "neither a request, a notification nor a response (no method/result/error)";
  return message;
}

Result<std::vector<Json>> parse_message_line(std::string_view line) {
  Json value = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return Error{"not valid JSON: '" + excerpt(line) + "'", "parse_error"};
  }
  std::vector<Json> messages;
  if (value.is_array()) {
    if (value.empty()) return Error{"empty JSON-RPC batch", "parse_error"};
    for (Json& element : value) messages.push_back(std::move(element));
  } else {
    messages.push_back(std::move(value));
  }
  return messages;
}

Json make_request(int64_t id, std::string_view method, Json params) {
  Json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) message["params"] = std::move(params);
  return message;
}

Json make_notification(std::string_view method, Json params) {
  Json message = {{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) message["params"] = std::move(params);
  return message;
}

Json make_result_response(const Json& id, Json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json make_error_response(const Json& id, int code, std::string_view message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

}  // namespace cove::assistant
