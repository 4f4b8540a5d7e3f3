// PluginHost: dlopen loading, the host side of the C ABI, and checked hook calls (plugin_host.h).
#include "assistant/plugin_host.h"

#include <dlfcn.h>

#include <cstddef>
#include <exception>

#include "tokenizer/utf8.h"

// The C ABI's opaque output handle: text a plugin hands back, copied into host memory.
struct cove_output {
  std::string text;
  bool written = false;
  bool overflow = false;
};

namespace cove::assistant {

using Json = nlohmann::json;

struct PluginHost::Plugin {
  PluginHost* host = nullptr;
  std::string name;
  std::string path;
  void* handle = nullptr;
  cove_host_api api{};
  cove_plugin plugin{};
  bool in_init = false;
  std::vector<std::string> tools;
  std::atomic<int> failures{0};

  bool disabled() const { return failures.load() >= kMaxFailures; }
};

namespace {

const char* const kPolicyName = "plugins";

void host_set_output(cove_output* out, const char* data, size_t length) {
  if (!out) return;
  if (length > PluginHost::kMaxOutputBytes || (!data && length > 0)) {
    out->overflow = true;
    out->written = false;
    out->text.clear();
    return;
  }
  out->text.assign(data ? data : "", length);
  out->written = true;
  out->overflow = false;
}

// The output a hook or tool wrote, as usable text, or why not.
Result<std::string> checked_output(const cove_output& out) {
  if (out.overflow) {
    return Error{"output larger than " + std::to_string(PluginHost::kMaxOutputBytes) + " bytes"};
  }
  if (!out.written) return Error{"no output was written"};
  if (!tokenizer::is_valid_utf8(out.text)) return Error{"the output is not valid UTF-8"};
  return out.text;
}

const char* status_name(cove_hook_status status) {
  switch (status) {
    case COVE_HOOK_CONTINUE: return "CONTINUE";
    case COVE_HOOK_REWRITE: return "REWRITE";
    case COVE_HOOK_DENY: return "DENY";
    case COVE_HOOK_ERROR: return "ERROR";
  }
  return "?";
}

}  // namespace

PluginHost::PluginHost(ToolRegistry& registry, PluginReportSink sink)
    : registry_(registry), sink_(std::move(sink)) {
  registry_.add_policy(kPolicyName,
                       [this](const ToolCallRequest& request) { return before_tool_call(request); });
}

PluginHost::~PluginHost() {
  registry_.remove_policy(kPolicyName);
  std::lock_guard lock(mutex_);
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
    Plugin& plugin = **it;
    for (const std::string& tool : plugin.tools) registry_.remove(tool);
    if (plugin.plugin.shutdown) {
      try {
        plugin.plugin.shutdown(plugin.plugin.user_data);
      } catch (...) {
      }
    }
    if (plugin.handle) ::dlclose(plugin.handle);
  }
}

void PluginHost::report(const std::string& plugin, const std::string& hook,
                        const std::string& message, bool is_error) {
  PluginReport entry{plugin, hook, message, is_error};
  if (is_error) {
    std::lock_guard lock(mutex_);
    if (problems_.size() < 1000) problems_.push_back(entry);
  }
  if (sink_) {
    try {
      sink_(entry);
    } catch (...) {
    }
  }
}

void PluginHost::record_failure(Plugin& plugin, const std::string& hook,
                                const std::string& message) {
  report(plugin.name, hook, message);
  if (++plugin.failures == kMaxFailures) {
    report(plugin.name, hook,
           "disabled after " + std::to_string(kMaxFailures) +
               " failures; its prompt and reply hooks are skipped and its tools refuse calls");
  }
}

std::vector<PluginReport> PluginHost::problems() const {
  std::lock_guard lock(mutex_);
  return problems_;
}

std::vector<std::string> PluginHost::plugin_names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& plugin : plugins_) names.push_back(plugin->name);
  return names;
}

void PluginHost::c_log(void* context, cove_log_level level, const char* message) {
  auto* plugin = static_cast<Plugin*>(context);
  if (!plugin || !message) return;
  plugin->host->report(plugin->name, "log", to_valid_utf8(message), level >= COVE_LOG_WARN);
}

int PluginHost::c_register_tool(void* context, const cove_tool_def* tool) {
  auto* plugin = static_cast<Plugin*>(context);
  if (!plugin) return 1;
  return plugin->host->register_plugin_tool(*plugin, tool);
}

int PluginHost::register_plugin_tool(Plugin& plugin, const cove_tool_def* def) {
  auto refuse = [&](const std::string& why) {
    report(plugin.name, "register_tool", why);
    return 1;
  };
  if (!plugin.in_init) return refuse("tools can only be registered during cove_plugin_init");
  if (!def || def->struct_size < sizeof(cove_tool_def)) {
    return refuse("cove_tool_def is missing or too small");
  }
  if (!def->name || !def->call) return refuse("a tool needs a name and a call function");
  ToolSpec spec;
  spec.name = def->name;
  spec.description = def->description ? to_valid_utf8(def->description) : "";
  if (def->parameters_json && *def->parameters_json) {
    spec.parameters = nlohmann::ordered_json::parse(def->parameters_json, nullptr, false);
    if (!spec.parameters.is_object()) {
      return refuse("tool '" + spec.name + "': parameters_json is not a JSON object");
    }
  }
  const cove_tool_fn fn = def->call;
  void* const user_data = def->user_data;
  Plugin* const owner = &plugin;
  const std::string tool_name = spec.name;
  ToolDefinition definition{std::move(spec), [this, owner, fn, user_data, tool_name](
                                                 const Json& arguments) {
    if (owner->disabled()) {
      return ToolResult::error("tool '" + tool_name + "': plugin '" + owner->name +
                               "' is disabled after repeated failures");
    }
    const std::string text = dump_json_lenient(arguments);
    cove_output out;
    int rc = 0;
    try {
      rc = fn(user_data, text.c_str(), &out);
    } catch (const std::exception& e) {
      record_failure(*owner, tool_name, std::string("the tool threw: ") + e.what());
      return ToolResult::error("tool '" + tool_name + "' failed inside plugin '" + owner->name + "'");
    } catch (...) {
      record_failure(*owner, tool_name, "the tool threw an exception");
      return ToolResult::error("tool '" + tool_name + "' failed inside plugin '" + owner->name + "'");
    }
    Result<std::string> output = checked_output(out);
    if (!output && out.written) {
      record_failure(*owner, tool_name, output.message());
      return ToolResult::error("tool '" + tool_name + "': " + output.message());
    }
    std::string result = output ? *output : std::string();
    return rc == 0 ? ToolResult::ok(std::move(result)) : ToolResult::error(std::move(result));
  }};
  if (Status added = registry_.add(std::move(definition)); !added) return refuse(added.message());
  plugin.tools.push_back(tool_name);
  return 0;
}

Result<std::string> PluginHost::load(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return Error{"plugin '" + path + "': cannot load: " + (why ? why : "unknown error")};
  }
  auto init = reinterpret_cast<cove_plugin_init_fn>(::dlsym(handle, COVE_PLUGIN_INIT_SYMBOL));
  if (!init) {
    ::dlclose(handle);
    return Error{"plugin '" + path + "': no " + std::string(COVE_PLUGIN_INIT_SYMBOL) +
                 " symbol (is it exported with C linkage?)"};
  }

  auto plugin = std::make_unique<Plugin>();
  plugin->host = this;
  plugin->path = path;
  plugin->handle = handle;
  plugin->name = path;  // until the plugin names itself
  plugin->api.abi_version = COVE_PLUGIN_ABI_VERSION;
  plugin->api.struct_size = sizeof(cove_host_api);
  plugin->api.host = plugin.get();
  plugin->api.register_tool = &PluginHost::c_register_tool;
  plugin->api.set_output = host_set_output;
  plugin->api.log = &PluginHost::c_log;
  plugin->plugin.abi_version = COVE_PLUGIN_ABI_VERSION;
  plugin->plugin.struct_size = sizeof(cove_plugin);

  auto fail = [&](const std::string& why) -> Error {
    for (const std::string& tool : plugin->tools) registry_.remove(tool);
    ::dlclose(handle);
    return Error{"plugin '" + path + "': " + why};
  };

  plugin->in_init = true;
  int rc = 0;
  try {
    rc = init(&plugin->api, &plugin->plugin);
  } catch (const std::exception& e) {
    return fail(std::string("cove_plugin_init threw: ") + e.what());
  } catch (...) {
    return fail("cove_plugin_init threw an exception");
  }
  plugin->in_init = false;
  if (rc != 0) return fail("cove_plugin_init refused to load (returned " + std::to_string(rc) + ")");
  const uint32_t major = COVE_PLUGIN_ABI_MAJOR(plugin->plugin.abi_version);
  if (major != COVE_PLUGIN_ABI_MAJOR(COVE_PLUGIN_ABI_VERSION)) {
    return fail("built for plugin ABI " + std::to_string(major) + ", this cove speaks " +
                std::to_string(COVE_PLUGIN_ABI_MAJOR(COVE_PLUGIN_ABI_VERSION)));
  }
  // Fields past the size the plugin knows about are not its own: ignore them.
  const size_t known = plugin->plugin.struct_size;
  auto fits = [&](size_t offset) { return known >= offset + sizeof(void*); };
  if (!fits(offsetof(cove_plugin, user_data))) return fail("its cove_plugin struct is too small");
  if (!fits(offsetof(cove_plugin, before_prompt))) plugin->plugin.before_prompt = nullptr;
  if (!fits(offsetof(cove_plugin, after_reply))) plugin->plugin.after_reply = nullptr;
  if (!fits(offsetof(cove_plugin, before_tool_call))) plugin->plugin.before_tool_call = nullptr;
  if (!fits(offsetof(cove_plugin, shutdown))) plugin->plugin.shutdown = nullptr;
  if (!plugin->plugin.name || !*plugin->plugin.name) return fail("it did not set its name");
  const std::string name = plugin->plugin.name;
  if (name.size() > 64 || !tokenizer::is_valid_utf8(name)) return fail("its name is not valid");
  bool duplicate = false;
  {
    std::lock_guard lock(mutex_);
    for (const auto& other : plugins_) duplicate = duplicate || other->name == name;
    if (!duplicate) {
      plugin->name = name;
      plugins_.push_back(std::move(plugin));
    }
  }
  if (duplicate) return fail("a plugin named '" + name + "' is already loaded");
  return name;
}

template <class Hook>
Result<cove_hook_status> PluginHost::call_hook(cove_output& out, Hook&& hook) {
  int status = 0;
  try {
    status = hook(&out);
  } catch (const std::exception& e) {
    return Error{std::string("threw: ") + e.what()};
  } catch (...) {
    return Error{"threw an exception"};
  }
  if (status < COVE_HOOK_CONTINUE || status > COVE_HOOK_ERROR) {
    return Error{"returned " + std::to_string(status) + ", which is not a cove_hook_status"};
  }
  return static_cast<cove_hook_status>(status);
}

nlohmann::json PluginHost::before_prompt(nlohmann::json messages) {
  std::vector<Plugin*> plugins;
  {
    std::lock_guard lock(mutex_);
    for (const auto& p : plugins_) plugins.push_back(p.get());
  }
  for (Plugin* plugin : plugins) {
    if (!plugin->plugin.before_prompt || plugin->disabled()) continue;
    const std::string input = dump_json_lenient(messages);
    cove_output out;
    Result<cove_hook_status> status = call_hook(out, [&](cove_output* o) {
      return plugin->plugin.before_prompt(plugin->plugin.user_data, input.c_str(), o);
    });
    if (!status) {
      record_failure(*plugin, "before_prompt", status.message());
      continue;
    }
    if (*status == COVE_HOOK_CONTINUE) continue;
    if (*status != COVE_HOOK_REWRITE) {
      record_failure(*plugin, "before_prompt",
                     std::string("returned ") + status_name(*status) + "; the prompt is unchanged");
      continue;
    }
    Result<std::string> text = checked_output(out);
    if (!text) {
      record_failure(*plugin, "before_prompt", "REWRITE: " + text.message());
      continue;
    }
    Json rewritten = Json::parse(*text, nullptr, false);
    bool valid = rewritten.is_array();
    if (valid) {
      for (const Json& message : rewritten) {
        if (!message.is_object() || !message.contains("role") || !message["role"].is_string()) {
          valid = false;
          break;
        }
      }
    }
    if (!valid) {
      record_failure(*plugin, "before_prompt",
                     "REWRITE output is not a JSON array of messages with a string \"role\"");
      continue;
    }
    messages = std::move(rewritten);
  }
  return messages;
}

std::string PluginHost::after_reply(std::string reply) {
  std::vector<Plugin*> plugins;
  {
    std::lock_guard lock(mutex_);
    for (const auto& p : plugins_) plugins.push_back(p.get());
  }
  for (Plugin* plugin : plugins) {
    if (!plugin->plugin.after_reply || plugin->disabled()) continue;
    const std::string input = to_valid_utf8(reply);
    cove_output out;
    Result<cove_hook_status> status = call_hook(out, [&](cove_output* o) {
      return plugin->plugin.after_reply(plugin->plugin.user_data, input.c_str(), o);
    });
    if (!status) {
      record_failure(*plugin, "after_reply", status.message());
      continue;
    }
    if (*status == COVE_HOOK_CONTINUE) continue;
    if (*status != COVE_HOOK_REWRITE) {
      record_failure(*plugin, "after_reply",
                     std::string("returned ") + status_name(*status) + "; the reply is unchanged");
      continue;
    }
    Result<std::string> text = checked_output(out);
    if (!text) {
      record_failure(*plugin, "after_reply", "REWRITE: " + text.message());
      continue;
    }
    reply = std::move(*text);
  }
  return reply;
}

PolicyVerdict PluginHost::before_tool_call(const ToolCallRequest& request) {
  std::vector<Plugin*> plugins;
  {
    std::lock_guard lock(mutex_);
    for (const auto& p : plugins_) plugins.push_back(p.get());
  }
  Json arguments = request.arguments;
  bool rewritten = false;
  for (Plugin* plugin : plugins) {
    // A disabled plugin's policy still runs: a policy that is skipped would fail open.
    if (!plugin->plugin.before_tool_call) continue;
    const std::string input = dump_json_lenient(arguments);
    const std::string name = to_valid_utf8(request.name);
    cove_output out;
    Result<cove_hook_status> status =
        call_hook(out, [&](cove_output* o) {
          return plugin->plugin.before_tool_call(plugin->plugin.user_data, name.c_str(),
                                                 input.c_str(), o);
        });
    const std::string who = "plugin '" + plugin->name + "'";
    if (!status) {
      record_failure(*plugin, "before_tool_call", status.message());
      return PolicyVerdict::deny(who + " failed to decide (" + status.message() + ")");
    }
    switch (*status) {
      case COVE_HOOK_CONTINUE:
        break;
      case COVE_HOOK_DENY: {
        Result<std::string> reason = checked_output(out);
        return PolicyVerdict::deny(who + ": " + (reason ? *reason : std::string("denied")));
      }
      case COVE_HOOK_REWRITE: {
        Result<std::string> text = checked_output(out);
        Json replacement = text ? Json::parse(*text, nullptr, false) : Json();
        if (!replacement.is_object()) {
          const std::string why = text ? "REWRITE output is not a JSON object"
                                       : "REWRITE: " + text.message();
          record_failure(*plugin, "before_tool_call", why);
          return PolicyVerdict::deny(who + " failed to decide (" + why + ")");
        }
        arguments = std::move(replacement);
        rewritten = true;
        break;
      }
      case COVE_HOOK_ERROR:
        record_failure(*plugin, "before_tool_call", "returned ERROR");
        return PolicyVerdict::deny(who + " returned an error");
    }
  }
  return rewritten ? PolicyVerdict::rewrite(std::move(arguments)) : PolicyVerdict::allow();
}

}  // namespace cove::assistant
