// The assistant side of `cove serve --config`: everything a config names apart from the models.
// The store and long-term memory at storage.database, the tool registry with the built-in tools
// the `tools` section enables, the memory tools, the enabled plugins and MCP servers.
//
// Built all-or-nothing: a store that does not open, a tool that cannot be set up or a plugin
// that does not load is an error and nothing is left running. An MCP server that does not start
// is only reported (the hub keeps retrying it; its tools appear when it comes up).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "assistant/config.h"
#include "assistant/mcp_hub.h"
#include "assistant/memory.h"
#include "assistant/plugin_host.h"
#include "assistant/store.h"
#include "assistant/tools.h"
#include "core/result.h"

namespace cove::cli {

struct AssistantRuntime {
  // Declaration order is destruction order reversed: the hub and the plugins take their tools
  // out of the registry, so they go first; the store goes last.
  std::unique_ptr<assistant::Store> store;
  std::unique_ptr<assistant::Memory> memory;
  std::unique_ptr<assistant::ToolRegistry> tools;
  std::unique_ptr<assistant::PluginHost> plugins;
  std::unique_ptr<assistant::McpHub> mcp;
};

// `log` receives one line per notable event (an MCP server that did not start, plugin reports).
Result<std::unique_ptr<AssistantRuntime>> build_assistant_runtime(
    const assistant::Config& config, std::function<void(const std::string&)> log);

}  // namespace cove::cli
