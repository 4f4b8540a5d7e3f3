// MCP servers merged into the model's tool list (see mcp_hub.h).
#include "assistant/mcp_hub.h"

namespace cove::assistant {

McpClientConfig mcp_client_config_from(const McpServerConfig& config, const std::string& log_dir) {
  McpClientConfig out;
  out.name = config.name;
  if (!config.url.empty()) {
    out.transport = McpTransportKind::kHttp;
    out.http.url = config.url;
    for (const auto& [key, value] : config.headers) out.http.headers.emplace_back(key, value);
  } else {
    out.transport = McpTransportKind::kStdio;
    out.stdio.command = config.command;
    out.stdio.args = config.args;
    for (const auto& [key, value] : config.env) out.stdio.env.emplace_back(key, value);
    if (!log_dir.empty()) out.stdio.stderr_log_path = log_dir + "/mcp-" + config.name + ".log";
  }
  return out;
}

McpHub::~McpHub() { shutdown(); }

Status McpHub::add_server(McpClientConfig config) {
  std::string name = config.name;
  {
    std::lock_guard lock(mutex_);
    if (servers_.count(name)) return Error{"mcp server '" + name + "' is configured twice"};
  }
  Result<std::unique_ptr<McpClient>> created = McpClient::create(std::move(config));
  if (!created.is_ok()) return Error{created.message()};
  std::shared_ptr<McpClient> client(std::move(*created));
  {
    std::lock_guard lock(mutex_);
    servers_[name].client = client;
  }
  client->set_tools_changed_callback([this, name] { sync_server(name); });
  Status started = client->start();
  sync_server(name);
  return started;
}

std::shared_ptr<McpClient> McpHub::server(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = servers_.find(name);
  return it == servers_.end() ? nullptr : it->second.client;
}

std::vector<std::string> McpHub::server_names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : servers_) names.push_back(name);
  return names;
}

void McpHub::sync_server(const std::string& name) {
  std::shared_ptr<McpClient> client = server(name);
  if (!client) return;
  std::vector<McpTool> tools = client->tools();
  std::vector<ToolDefinition> added;
  std::vector<std::string> removed;
  ToolRegistry* registry;
  {
    std::lock_guard lock(mutex_);
    registry = registry_;
    auto found = servers_.find(name);
    if (found == servers_.end()) return;  // shut down meanwhile
    ServerEntry& entry = found->second;
    for (const std::string& exposed : entry.exposed) routes_.erase(exposed);
    removed = std::move(entry.exposed);
    entry.exposed.clear();
    for (const McpTool& tool : tools) {
      std::string exposed = mcp_exposed_tool_name(name, tool.name);
      // Two names that differ only in characters we had to replace get a numbered suffix.
      for (int n = 2; routes_.count(exposed); ++n) {
        std::string suffix = "_" + std::to_string(n);
        exposed = mcp_exposed_tool_name(name, tool.name).substr(0, 64 - suffix.size()) + suffix;
      }
      routes_[exposed] = Route{client, tool.name};
      entry.exposed.push_back(exposed);
      ToolDefinition definition;
      definition.spec.name = exposed;
      definition.spec.description = tool.description.empty() ? tool.title : tool.description;
      definition.spec.parameters = nlohmann::ordered_json::parse(tool.input_schema.dump());
      Route route{client, tool.name};
      definition.handler = [route](const nlohmann::json& arguments) {
        return call_route(route, arguments);
      };
      added.push_back(std::move(definition));
    }
  }
  if (!registry) return;
  for (const std::string& old : removed) registry->remove(old);
  for (ToolDefinition& definition : added) {
    // A clash with a built-in tool keeps the built-in; the MCP tool is left out.
    Status status = registry->add(std::move(definition));
    (void)status;
  }
}

std::vector<ToolSpec> McpHub::tool_specs() const {
  std::vector<std::pair<std::string, std::shared_ptr<McpClient>>> servers;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, entry] : servers_) servers.emplace_back(name, entry.client);
  }
  std::vector<ToolSpec> specs;
  for (const auto& [name, client] : servers) {
    std::lock_guard lock(mutex_);
    auto& exposed = servers_.find(name)->second.exposed;
    std::vector<McpTool> tools = client->tools();
    for (const std::string& exposed_name : exposed) {
      const Route& route = routes_.at(exposed_name);
      for (const McpTool& tool : tools) {
        if (tool.name != route.tool) continue;
        ToolSpec spec;
        spec.name = exposed_name;
        spec.description = tool.description.empty() ? tool.title : tool.description;
        spec.parameters = nlohmann::ordered_json::parse(tool.input_schema.dump());
        specs.push_back(std::move(spec));
        break;
      }
    }
  }
  return specs;
}

ToolResult McpHub::call_route(const Route& route, const Json& arguments) {
  std::shared_ptr<McpClient> client = route.client.lock();
  if (!client) return ToolResult::error("the MCP server of tool '" + route.tool + "' is gone");
  Result<McpToolResult> result = client->call_tool(route.tool, arguments);
  if (!result.is_ok()) return ToolResult::error(result.message());
  ToolResult out;
  out.is_error = result->is_error;
  out.text = std::move(result->text);
  out.structured = std::move(result->structured_content);
  return out;
}

ToolResult McpHub::call(std::string_view exposed_name, const Json& arguments) {
  Route route;
  {
    std::lock_guard lock(mutex_);
    auto it = routes_.find(exposed_name);
    if (it == routes_.end()) {
      return ToolResult::error("no MCP tool named '" + std::string(exposed_name) + "'");
    }
    route = it->second;
  }
  return call_route(route, arguments);
}

void McpHub::attach(ToolRegistry& registry) {
  {
    std::lock_guard lock(mutex_);
    registry_ = &registry;
  }
  for (const std::string& name : server_names()) sync_server(name);
}

void McpHub::shutdown() {
  std::map<std::string, ServerEntry, std::less<>> servers;
  ToolRegistry* registry;
  {
    std::lock_guard lock(mutex_);
    servers.swap(servers_);
    routes_.clear();
    registry = registry_;
    registry_ = nullptr;
  }
  for (auto& [name, entry] : servers) {
    if (registry) {
      for (const std::string& exposed : entry.exposed) registry->remove(exposed);
    }
    entry.client->shutdown();
  }
}

}  // namespace cove::assistant
