// register_builtin_tools (tool_builtins.h).
#include "assistant/tool_builtins.h"

#include "assistant/tool_calculator.h"

namespace cove::assistant {

Status register_builtin_tools(ToolRegistry& registry, const BuiltinToolOptions& options) {
  std::vector<ToolDefinition> tools;
  tools.push_back(make_time_tool(options.time));
  if (options.calculator) tools.push_back(make_calculator_tool());
  if (!options.files.workspace.empty()) {
    Result<std::vector<ToolDefinition>> files = make_file_tools(options.files);
    if (!files) return Error{"tools.files: " + files.message()};
    for (ToolDefinition& tool : *files) tools.push_back(std::move(tool));
  }
  if (options.http.enabled) tools.push_back(make_http_fetch_tool(options.http));
  if (options.shell.enabled) {
    if (Status valid = options.shell.validate(); !valid) return Error{"tools.shell: " + valid.message()};
    tools.push_back(make_shell_tool(options.shell));
  }
  for (const ToolDefinition& tool : tools) {
    if (registry.contains(tool.spec.name)) {
      return Error{"a tool named '" + tool.spec.name + "' is already registered"};
    }
  }
  for (ToolDefinition& tool : tools) {
    if (Status added = registry.add(std::move(tool)); !added) return added;
  }
  return Status::ok();
}

}  // namespace cove::assistant
