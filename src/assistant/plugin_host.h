// Loads plugins (shared libraries speaking include/cove/plugin.h) and runs their hooks.
//
// PluginHost::load dlopens a library (RTLD_NOW | RTLD_LOCAL), finds cove_plugin_init, checks
// the ABI version and struct sizes, and lets the plugin register tools into the ToolRegistry
// (each wrapped so its C callback looks like any other handler). The host also installs one
// registry policy, "plugins", that runs every plugin's before_tool_call.
//
// Hooks are run in load order. Everything a plugin hands back is checked before it is used: the
// status must be a known value, REWRITE output must be valid UTF-8 within the size cap and, for
// before_prompt, a JSON array of messages with string roles; for before_tool_call, a JSON
// object. A hook that fails these checks, returns ERROR, or lets a C++ exception escape is
// reported (the report sink and `problems()`), and its input passes through unchanged — except
// before_tool_call, where a failure denies the call. A plugin that fails kMaxFailures times is
// disabled (its hooks are skipped; its tools answer with an error).
//
// Not guarded: a plugin that crashes (SIGSEGV) or corrupts memory takes the process down.
// Catching SIGSEGV and jumping out of a hook would leave locks held and memory inconsistent;
// code that must not be trusted belongs out of process (an MCP server).
//
// Lifetime: the host must outlive calls into the registry's plugin tools; its destructor removes
// those tools and the policy, calls each plugin's shutdown, and dlcloses the libraries.
#pragma once

#include <cove/plugin.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

struct PluginReport {
  std::string plugin;
  std::string hook;     // "init", "before_prompt", "after_reply", "before_tool_call", a tool name
  std::string message;
  bool is_error = true; // false for the plugin's own info/debug log lines
};

using PluginReportSink = std::function<void(const PluginReport&)>;

class PluginHost {
 public:
  static constexpr int kMaxFailures = 5;
  static constexpr size_t kMaxOutputBytes = 1u << 20;

  // `registry` receives plugin tools and the "plugins" policy; it must outlive the host.
  explicit PluginHost(ToolRegistry& registry, PluginReportSink sink = nullptr);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Returns the plugin's name. Errors: cannot open, no cove_plugin_init, ABI mismatch, init
  // refused, a plugin of that name already loaded.
  Result<std::string> load(const std::string& path);

  std::vector<std::string> plugin_names() const;

  // The hooks, over every plugin in load order. Each returns its possibly rewritten input.
  nlohmann::json before_prompt(nlohmann::json messages);
  std::string after_reply(std::string reply);
  PolicyVerdict before_tool_call(const ToolCallRequest& request);

  std::vector<PluginReport> problems() const;

 private:
  struct Plugin;

  // The host side of cove_host_api; `context` is the Plugin.
  static int c_register_tool(void* context, const cove_tool_def* tool);
  static void c_log(void* context, cove_log_level level, const char* message);

  int register_plugin_tool(Plugin& plugin, const cove_tool_def* tool);
  // Calls `hook` (which receives the output handle) guarded against exceptions; the status, or
  // an error that says what the plugin did wrong.
  template <class Hook>
  static Result<cove_hook_status> call_hook(cove_output& out, Hook&& hook);

  void report(const std::string& plugin, const std::string& hook, const std::string& message,
              bool is_error = true);
  void record_failure(Plugin& plugin, const std::string& hook, const std::string& message);

  ToolRegistry& registry_;
  PluginReportSink sink_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Plugin>> plugins_;
  std::vector<PluginReport> problems_;
};

}  // namespace cove::assistant
