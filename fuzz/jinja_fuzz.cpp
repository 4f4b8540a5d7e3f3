// libFuzzer target for the Jinja interpreter behind chat templates: any bytes, parsed as a
// template and rendered with a small chat-like context, must give text or an Error: never a
// crash, a hang, unbounded memory or a leak (reference cycles would show up as leaks).
//
// Build with -DCOVE_FUZZ=ON (clang). Published chat templates (tests/chat_template_test.cpp)
// make a good seed corpus. The limits are tighter than the server's so that each input stays
// fast.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "chat/jinja_template.h"

namespace {

using cove::chat::jinja::RenderOptions;
using cove::chat::jinja::Template;
using cove::chat::jinja::Value;
using cove::chat::jinja::Variables;

const nlohmann::ordered_json& context_json() {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content": "Hello! \u00e9\u00e8"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call12345", "type": "function",
         "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "tool_call_id": "call12345", "content": "{\"temperature\": 22}"},
      {"role": "user", "content": "Thanks"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>"
  })");
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view source(reinterpret_cast<const char*>(data), size);
  cove::Result<Template> compiled = Template::parse(source);
  if (!compiled.is_ok()) {
    if (compiled.message().find("internal error") != std::string::npos) __builtin_trap();
    return 0;
  }

  // A fresh context per input: templates may mutate lists and dicts they are given.
  Variables variables;
  const nlohmann::ordered_json& context = context_json();
  for (auto it = context.begin(); it != context.end(); ++it) {
    variables.emplace_back(it.key(), Value::from_json(it.value()));
  }
  RenderOptions options;
  options.limits.max_output_bytes = 1 << 20;
  options.limits.max_work = 200'000;
  options.fixed_time = 0;
  cove::Result<std::string> text = compiled->render(variables, options);
  if (text.is_ok() && text->size() > options.limits.max_output_bytes) __builtin_trap();
  // "internal error" means an exception other than a template error escaped the interpreter: a
  // bug (or memory exhaustion, which the limits should prevent).
  if (!text.is_ok() && text.message().find("internal error") != std::string::npos) {
    __builtin_trap();
  }
  return 0;
}
