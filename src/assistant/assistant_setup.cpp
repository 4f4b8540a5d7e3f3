// The configured tools (assistant_setup.h).
#include "assistant/assistant_setup.h"

#include <chrono>

#include "assistant/tool_memory.h"

namespace cove::assistant {

BuiltinToolOptions builtin_tool_options(const ToolsConfig& tools) {
  BuiltinToolOptions options;
  options.calculator = tools.calculator;
  if (tools.files.enabled) {
    options.files.workspace = tools.files.workspace;
    options.files.max_read_bytes = static_cast<size_t>(tools.files.max_bytes);
    options.files.max_write_bytes = static_cast<size_t>(tools.files.max_bytes);
  }
  options.http.enabled = tools.http_fetch.enabled;
  options.http.allowed_hosts = tools.http_fetch.allow_hosts;
  options.http.max_bytes = static_cast<size_t>(tools.http_fetch.max_bytes);
  options.http.timeout = std::chrono::milliseconds(tools.http_fetch.timeout_ms);
  options.shell.enabled = tools.shell.enabled;
  options.shell.allowed_commands = tools.shell.allow_commands;
  options.shell.timeout = std::chrono::milliseconds(tools.shell.timeout_ms);
  options.shell.max_output_bytes = static_cast<size_t>(tools.shell.max_output_bytes);
  if (tools.files.enabled) options.shell.working_directory = tools.files.workspace;
  return options;
}

Status register_configured_tools(ToolRegistry& registry, const Config& config, Store& store,
                                 Memory& memory) {
  if (Status s = register_builtin_tools(registry, builtin_tool_options(config.tools)); !s) return s;
  if (!config.tools.time) registry.remove("current_time");
  if (config.tools.memory) {
    MemoryToolOptions options;
    options.memory = &memory;
    options.store = &store;
    if (Status s = register_memory_tools(registry, options); !s) return s;
  }
  return Status::ok();
}

}  // namespace cove::assistant
