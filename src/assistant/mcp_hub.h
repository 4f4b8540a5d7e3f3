// The configured MCP servers as one set of tools for the model.
//
// Each server's tools are exposed as "<server>__<tool>" (everything__echo) so that they merge
// into the model's tool list beside the built-in tools without clashing. attach() puts them
// into a ToolRegistry (tools.h), so every MCP call goes through the registry's policies and log
// like any other tool, and keeps them in step when a server's list changes or it restarts.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/config.h"
#include "assistant/mcp_client.h"
#include "assistant/tools.h"

namespace cove::assistant {

// The client settings for a server from the config file. `log_dir` (may be empty) receives the
// server's stderr as mcp-<name>.log.
McpClientConfig mcp_client_config_from(const McpServerConfig& config, const std::string& log_dir);

class McpHub {
 public:
  McpHub() = default;
  ~McpHub();
  McpHub(const McpHub&) = delete;
  McpHub& operator=(const McpHub&) = delete;

  // Adds a server and starts it. A bad config or a taken name is refused. A server that fails
  // to start stays in the hub (a stdio one keeps being retried in the background) and the error
  // is returned so the caller can report it.
  Status add_server(McpClientConfig config);

  std::shared_ptr<McpClient> server(std::string_view name) const;
  std::vector<std::string> server_names() const;

  // Every server's tools with their prefixed names, as the model sees them.
  std::vector<ToolSpec> tool_specs() const;

  // Calls a tool by its prefixed name. Protocol failures and tool errors both come back as
  // error results whose text says what happened.
  ToolResult call(std::string_view exposed_name, const Json& arguments);

  // Registers every MCP tool in `registry` and keeps it up to date. The registry must outlive
  // the hub (the hub removes its tools on destruction).
  void attach(ToolRegistry& registry);

  void shutdown();

 private:
  struct Route {
    std::weak_ptr<McpClient> client;
    std::string tool;  // the server's own name for it
  };
  struct ServerEntry {
    std::shared_ptr<McpClient> client;
    std::vector<std::string> exposed;  // names currently registered for it
  };

  void sync_server(const std::string& name);
  static ToolResult call_route(const Route& route, const Json& arguments);

  mutable std::mutex mutex_;
  std::map<std::string, ServerEntry, std::less<>> servers_;
  std::map<std::string, Route, std::less<>> routes_;  // exposed name -> server tool
  ToolRegistry* registry_ = nullptr;
};

}  // namespace cove::assistant
