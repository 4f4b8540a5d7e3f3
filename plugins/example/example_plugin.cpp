// Example cove plugin: one tool and all three hooks, over the C ABI of include/cove/plugin.h.
//
// What it does (tests/plugin_test.cpp checks each):
//   tool word_count {"text": string}      -> the number of whitespace-separated words
//   before_prompt   adds a system message with the plugin's house rule after the existing
//                   system messages
//   after_reply     replaces the word "password" by "[redacted]" and says so in a note
//   before_tool_call denies file_write to paths under "private/", and rewrites current_time
//                   calls without a timezone to use UTC
// For testing the host's handling of misbehaving plugins, a reply or prompt that contains one
// of these markers makes the hook misbehave on purpose:
//   "#bad-status"  returns a status value outside cove_hook_status
//   "#bad-json"    returns REWRITE with output that is not the JSON the hook must give
//   "#throw"       throws a C++ exception out of the hook
//   "#no-output"   returns REWRITE without writing any output
// Built by CMake as cove_example_plugin.so; only cove_plugin_init is exported.
#include <cove/plugin.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

// The host API pointer travels as user_data (no globals: the library may be loaded by several
// hosts in one process).
const cove_host_api* host_of(void* user_data) { return static_cast<const cove_host_api*>(user_data); }

void output(const cove_host_api* host, cove_output* out, const std::string& text) {
  host->set_output(out, text.data(), text.size());
}

// Shared misbehaviour switch; returns true (and sets `status`) when a marker is present.
bool misbehave(const cove_host_api* host, const std::string& text, cove_output* out, int& status) {
  if (text.find("#bad-status") != std::string::npos) {
    status = 42;
    return true;
  }
  if (text.find("#bad-json") != std::string::npos) {
    output(host, out, "{this is not json");
    status = COVE_HOOK_REWRITE;
    return true;
  }
  if (text.find("#throw") != std::string::npos) {
    throw std::runtime_error("example plugin: thrown on purpose");
  }
  if (text.find("#no-output") != std::string::npos) {
    status = COVE_HOOK_REWRITE;
    return true;
  }
  return false;
}

int word_count(void* user_data, const char* arguments_json, cove_output* result) {
  const cove_host_api* host = host_of(user_data);
  const nlohmann::json arguments = nlohmann::json::parse(arguments_json, nullptr, false);
  if (!arguments.is_object() || !arguments.contains("text") || !arguments["text"].is_string()) {
    output(host, result, "word_count: expected {\"text\": string}");
    return 1;
  }
  std::istringstream words(arguments["text"].get<std::string>());
  std::string word;
  size_t count = 0;
  while (words >> word) ++count;
  output(host, result, std::to_string(count));
  return 0;
}

int before_prompt(void* user_data, const char* messages_json, cove_output* out) {
  const cove_host_api* host = host_of(user_data);
  int status = COVE_HOOK_CONTINUE;
  if (misbehave(host, messages_json, out, status)) return status;
  nlohmann::json messages = nlohmann::json::parse(messages_json, nullptr, false);
  if (!messages.is_array()) return COVE_HOOK_ERROR;
  size_t insert_at = 0;
  while (insert_at < messages.size() && messages[insert_at].value("role", "") == "system") {
    ++insert_at;
  }
  const nlohmann::json note = {{"role", "system"},
                               {"content", "House rule from the example plugin: be brief."}};
  messages.insert(messages.begin() + static_cast<std::ptrdiff_t>(insert_at), note);
  output(host, out, messages.dump());
  return COVE_HOOK_REWRITE;
}

int after_reply(void* user_data, const char* reply_text, cove_output* out) {
  const cove_host_api* host = host_of(user_data);
  std::string reply = reply_text;
  int status = COVE_HOOK_CONTINUE;
  if (misbehave(host, reply, out, status)) return status;
  const std::string word = "password";
  size_t n = 0;
  for (size_t at = reply.find(word); at != std::string::npos; at = reply.find(word, at)) {
    reply.replace(at, word.size(), "[redacted]");
    ++n;
  }
  if (n == 0) return COVE_HOOK_CONTINUE;
  reply += "\n\n(note: the example plugin redacted " + std::to_string(n) + " word(s))";
  output(host, out, reply);
  return COVE_HOOK_REWRITE;
}

int before_tool_call(void* user_data, const char* tool_name,
                                  const char* arguments_json, cove_output* out) {
  const cove_host_api* host = host_of(user_data);
  const std::string name = tool_name;
  nlohmann::json arguments = nlohmann::json::parse(arguments_json, nullptr, false);
  if (!arguments.is_object()) return COVE_HOOK_ERROR;
  if (name == "file_write" && arguments.value("path", "").rfind("private/", 0) == 0) {
    output(host, out, "the example plugin keeps private/ read-only");
    return COVE_HOOK_DENY;
  }
  if (name == "current_time" && !arguments.contains("timezone")) {
    arguments["timezone"] = "UTC";
    output(host, out, arguments.dump());
    return COVE_HOOK_REWRITE;
  }
  if (name == "word_count") {
    int status = COVE_HOOK_CONTINUE;
    if (misbehave(host, arguments.value("text", ""), out, status)) return status;
  }
  return COVE_HOOK_CONTINUE;
}

void shutdown(void* /*user_data*/) {}

}  // namespace

extern "C" __attribute__((visibility("default"))) int cove_plugin_init(const cove_host_api* host,
                                                                       cove_plugin* plugin) {
  if (!host || !plugin || COVE_PLUGIN_ABI_MAJOR(host->abi_version) !=
                              COVE_PLUGIN_ABI_MAJOR(COVE_PLUGIN_ABI_VERSION)) {
    return 1;
  }
  if (host->struct_size < sizeof(cove_host_api) || plugin->struct_size < sizeof(cove_plugin)) {
    return 1;
  }
  plugin->abi_version = COVE_PLUGIN_ABI_VERSION;
  plugin->struct_size = sizeof(cove_plugin);
  plugin->name = "example";
  plugin->version = "1.0";
  plugin->user_data = const_cast<cove_host_api*>(host);
  plugin->before_prompt = before_prompt;
  plugin->after_reply = after_reply;
  plugin->before_tool_call = before_tool_call;
  plugin->shutdown = shutdown;

  cove_tool_def tool{};
  tool.struct_size = sizeof(cove_tool_def);
  tool.name = "word_count";
  tool.description = "Count the words in a text.";
  tool.parameters_json =
      R"({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})";
  tool.call = word_count;
  tool.user_data = const_cast<cove_host_api*>(host);
  if (host->register_tool(host->host, &tool) != 0) {
    host->log(host->host, COVE_LOG_ERROR, "example plugin: could not register word_count");
    return 1;
  }
  host->log(host->host, COVE_LOG_INFO, "example plugin loaded");
  return 0;
}
