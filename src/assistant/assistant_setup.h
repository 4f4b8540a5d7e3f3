// Assembling the assistant's tools from the config: the built-in tools as the `tools` section
// sets them up, plus memory_save / memory_search / conversation_search (tools.memory). Shared by
// `cove chat` and the server.
#pragma once

#include "assistant/config.h"
#include "assistant/memory.h"
#include "assistant/store.h"
#include "assistant/tool_builtins.h"
#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

// The config's `tools` section as register_builtin_tools options (the files tool gets the
// workspace only when enabled; the shell runs in the workspace when there is one).
BuiltinToolOptions builtin_tool_options(const ToolsConfig& tools);

// Registers what the config enables: time (tools.time), calculator, files, http_fetch, shell,
// and with tools.memory the memory and conversation_search tools over `store` / `memory`.
Status register_configured_tools(ToolRegistry& registry, const Config& config, Store& store,
                                 Memory& memory);

}  // namespace cove::assistant
