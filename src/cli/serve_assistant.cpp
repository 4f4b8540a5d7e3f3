// Building the assistant's store, tools, plugins and MCP servers from a config
// (serve_assistant.h).
#include "cli/serve_assistant.h"

#include <filesystem>

#include "assistant/assistant_setup.h"

namespace cove::cli {

Result<std::unique_ptr<AssistantRuntime>> build_assistant_runtime(
    const assistant::Config& config, std::function<void(const std::string&)> log) {
  auto rt = std::make_unique<AssistantRuntime>();
  Result<std::unique_ptr<assistant::Store>> store = assistant::Store::open(config.storage.database);
  if (!store) return store.error();
  rt->store = std::move(*store);
  rt->memory = std::make_unique<assistant::Memory>(rt->store->database());
  rt->tools = std::make_unique<assistant::ToolRegistry>();

  if (Status s = assistant::register_configured_tools(*rt->tools, config, *rt->store, *rt->memory);
      !s) {
    return Error(config.file + ": tools: " + s.message());
  }

  rt->plugins =
      std::make_unique<assistant::PluginHost>(*rt->tools, [log](const assistant::PluginReport& r) {
        if (log) log("plugin " + r.plugin + " (" + r.hook + "): " + r.message);
      });
  for (const assistant::PluginConfig& p : config.plugins) {
    if (!p.enabled) continue;
    Result<std::string> loaded = rt->plugins->load(p.path);
    if (!loaded) return Error(config.file + ": plugin " + p.path + ": " + loaded.message());
  }

  rt->mcp = std::make_unique<assistant::McpHub>();
  const std::string log_dir = assistant::cove_home() + "/logs";
  bool any_mcp = false;
  for (const assistant::McpServerConfig& server : config.mcp_servers) {
    if (!server.enabled) continue;
    if (!any_mcp) {
      std::error_code ec;
      std::filesystem::create_directories(log_dir, ec);
      any_mcp = true;
    }
    assistant::McpClientConfig client = assistant::mcp_client_config_from(server, log_dir);
    client.log = [log, name = server.name](const std::string& line) {
      if (log) log("mcp " + name + ": " + line);
    };
    if (Status s = rt->mcp->add_server(std::move(client)); !s && log) {
      log("mcp server '" + server.name +
          "' did not start (retrying in the background): " + s.message());
    }
  }
  rt->mcp->attach(*rt->tools);
  return rt;
}

}  // namespace cove::cli
