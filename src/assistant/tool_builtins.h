// Registers the built-in tools from one options struct (what the config's `tools` section maps
// to): current_time and calculator always; the file tools when a workspace is set; http_fetch
// and shell only when enabled (disabled tools are not shown to the model at all).
#pragma once

#include "assistant/tool_files.h"
#include "assistant/tool_http.h"
#include "assistant/tool_shell.h"
#include "assistant/tool_time.h"
#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

struct BuiltinToolOptions {
  TimeToolOptions time;
  bool calculator = true;
  FilesToolOptions files;  // registered when files.workspace is not empty
  HttpFetchOptions http;   // registered when http.enabled
  ShellToolOptions shell;  // registered when shell.enabled
};

// Errors: a workspace that cannot be opened, a shell allowlist that validate() refuses, a name
// already taken in `registry`. Nothing is registered when an error is returned.
Status register_builtin_tools(ToolRegistry& registry, const BuiltinToolOptions& options);

}  // namespace cove::assistant
