// The MCP client's handshakes (legacy initialize, the stateless 2026-07-28 form and the "auto"
// probe between them) and tool-list paging (see mcp_client.h).
#include "assistant/mcp_client.h"
#include "assistant/mcp_client_internal.h"

namespace cove::assistant {

using namespace mcp_detail;

// --- handshake and tools --------------------------------------------------------------------

Result<std::vector<McpTool>> McpClient::fetch_tools(McpClock::time_point deadline) {
  std::vector<McpTool> tools;
  std::string cursor;
  bool strict_headers;
  {
    std::lock_guard lock(mutex_);
    strict_headers = era_ == Era::kModern && !transport_->restartable();
  }
  for (int page = 0; page < kMaxToolPages; ++page) {
    Json params = Json::object();
    if (!cursor.empty()) params["cursor"] = cursor;
    Result<Reply> reply = exchange("tools/list", std::move(params), deadline);
    if (!reply.is_ok()) return Error{reply.message(), reply.code()};
    if (reply->is_error) {
      return Error{"mcp server '" + config_.name + "': tools/list failed: " +
                   excerpt(reply->error_message, 300) + " (code " +
                   std::to_string(reply->error_code) + ")", "rpc_error"};
    }
    const Json& result = reply->result;
    if (!result.is_object() || !result.contains("tools") || !result["tools"].is_array()) {
      return Error{"mcp server '" + config_.name + "': tools/list result has no 'tools' array",
                   "bad_reply"};
    }
    for (const Json& entry : result["tools"]) {
      Result<McpTool> tool = parse_mcp_tool(entry, strict_headers);
      if (!tool.is_ok()) {
        note_problem("tool skipped: " + tool.message());
        continue;
      }
      auto same = std::find_if(tools.begin(), tools.end(),
                               [&](const McpTool& t) { return t.name == tool->name; });
      if (same != tools.end()) {
        note_problem("tool '" + tool->name + "' listed twice; the first is kept");
        continue;
      }
      tools.push_back(std::move(*tool));
    }
    auto next = result.find("nextCursor");
    if (next == result.end() || next->is_null()) return tools;
    if (!next->is_string()) {
      return Error{"mcp server '" + config_.name + "': tools/list nextCursor is not a string",
                   "bad_reply"};
    }
    std::string next_cursor = next->get<std::string>();
    if (next_cursor.empty()) return tools;
    if (next_cursor == cursor) {
      return Error{"mcp server '" + config_.name + "': tools/list returned the same cursor twice",
                   "bad_reply"};
    }
    cursor = std::move(next_cursor);
  }
  return Error{"mcp server '" + config_.name + "': tools/list has more than " +
               std::to_string(kMaxToolPages) + " pages", "bad_reply"};
}

Result<std::vector<McpTool>> McpClient::refresh_tools() {
  auto deadline = McpClock::now() + config_.request_timeout;
  Status ready_status = wait_until_ready(deadline);
  if (!ready_status.is_ok()) return Error{ready_status.message(), ready_status.code()};
  Result<std::vector<McpTool>> tools = fetch_tools(deadline);
  if (!tools.is_ok()) return tools;
  std::function<void()> changed;
  {
    std::lock_guard lock(mutex_);
    tools_ = *tools;
    changed = tools_changed_;
  }
  if (changed) changed();
  return tools;
}

Status McpClient::initialize_legacy(const std::string& offered, McpClock::time_point deadline) {
  Json params = {{"protocolVersion", offered},
                 {"capabilities", Json::object()},
                 {"clientInfo", {{"name", kClientName}, {"version", kClientVersion}}}};
  Result<Reply> reply = exchange("initialize", std::move(params), deadline);
  if (!reply.is_ok()) return Error{reply.message(), reply.code()};
  if (reply->is_error) {
    return Error{"mcp server '" + config_.name + "' refused initialize: " +
                 excerpt(reply->error_message, 300) + " (code " +
                 std::to_string(reply->error_code) + ")", "handshake"};
  }
  const Json& result = reply->result;
  if (!result.is_object() || !result.contains("protocolVersion") ||
      !result["protocolVersion"].is_string()) {
    return Error{"mcp server '" + config_.name + "': initialize result has no protocolVersion",
                 "handshake"};
  }
  std::string chosen = result["protocolVersion"].get<std::string>();
  if (!is_legacy_version(chosen)) {
    return Error{"mcp server '" + config_.name + "' chose protocol version '" + excerpt(chosen, 40) +
                 "', which cove does not support (cove supports " + supported_list() + ")",
                 "handshake"};
  }
  {
    std::lock_guard lock(mutex_);
    protocol_version_ = chosen;
    server_info_ = result.value("serverInfo", Json::object());
    server_capabilities_ = result.value("capabilities", Json::object());
    instructions_ = result.contains("instructions") && result["instructions"].is_string()
                        ? result["instructions"].get<std::string>()
                        : std::string();
  }
  return send_notification("notifications/initialized", Json());
}

Status McpClient::handshake(McpClock::time_point deadline) {
  Era era;
  {
    std::lock_guard lock(mutex_);
    era = era_;
    protocol_version_.clear();
  }
  const std::string& mode = config_.protocol;
  if (is_legacy_version(mode)) return initialize_legacy(mode, deadline);
  if (era == Era::kLegacy) return initialize_legacy(kMcpLegacyVersions[0], deadline);

  // Modern (or probing for it): server/discover with the per-request metadata.
  {
    std::lock_guard lock(mutex_);
    era_ = Era::kModern;
    protocol_version_ = kMcpModernVersion;
  }
  auto probe_deadline = mode == "auto" ? std::min(deadline, McpClock::now() + config_.probe_timeout)
                                       : deadline;
  Result<Reply> reply = exchange("server/discover", Json::object(), probe_deadline);
  auto fall_back = [&](const std::string& why) -> Status {
    {
      std::lock_guard lock(mutex_);
      era_ = Era::kLegacy;  // remembered for restarts of this server
      protocol_version_.clear();
    }
    if (!why.empty()) note_problem("not a " + std::string(kMcpModernVersion) + " server (" + why +
                                   "); using initialize");
    return initialize_legacy(kMcpLegacyVersions[0], deadline);
  };
  if (!reply.is_ok()) {
    if (mode == "auto" && reply.code() != "server_exited" && reply.code() != "unreachable" &&
        reply.code() != "shutdown") {
      return fall_back(reply.message());
    }
    std::lock_guard lock(mutex_);
    if (mode == "auto") era_ = Era::kUnknown;
    return Error{reply.message(), reply.code()};
  }
  if (reply->is_error) {
    if (reply->error_code == kMcpUnsupportedProtocolVersion) {
      Json supported = reply->error_data.is_object() ? reply->error_data.value("supported", Json())
                                                     : Json();
      bool legacy_ok = false;
      if (supported.is_array()) {
        for (const Json& v : supported) legacy_ok |= v.is_string() && is_legacy_version(v.get<std::string>());
      }
      if (mode == "auto" && legacy_ok) return fall_back("");
      return Error{"mcp server '" + config_.name + "' does not support protocol " +
                   kMcpModernVersion + " (it supports " +
                   excerpt(supported.is_null() ? std::string("?") : supported.dump(), 200) +
                   "); cove supports " + supported_list(), "handshake"};
    }
    if (mode == "auto") return fall_back(excerpt(reply->error_message, 200));
    return Error{"mcp server '" + config_.name + "': server/discover failed: " +
                 excerpt(reply->error_message, 300) + " (code " +
                 std::to_string(reply->error_code) + ")", "handshake"};
  }
  const Json& result = reply->result;
  if (!result.is_object()) {
    if (mode == "auto") return fall_back("server/discover returned no object");
    return Error{"mcp server '" + config_.name + "': server/discover returned no object",
                 "handshake"};
  }
  if (auto versions = result.find("supportedVersions"); versions != result.end() &&
                                                        versions->is_array()) {
    bool ours = std::any_of(versions->begin(), versions->end(),
                            [](const Json& v) { return v == kMcpModernVersion; });
    if (!ours) {
      if (mode == "auto") return fall_back("it lists " + excerpt(versions->dump(), 100));
      return Error{"mcp server '" + config_.name + "' supports " + excerpt(versions->dump(), 200) +
                   ", not " + kMcpModernVersion, "handshake"};
    }
  }
  std::lock_guard lock(mutex_);
  Json info = result.value("serverInfo", Json());
  if (!info.is_object() && result.contains("_meta") && result["_meta"].is_object()) {
    info = result["_meta"].value("io.modelcontextprotocol/serverInfo", Json());
  }
  server_info_ = info.is_object() ? info : Json::object();
  server_capabilities_ = result.value("capabilities", Json::object());
  instructions_ = result.contains("instructions") && result["instructions"].is_string()
                      ? result["instructions"].get<std::string>()
                      : std::string();
  return Status::ok();
}

}  // namespace cove::assistant
