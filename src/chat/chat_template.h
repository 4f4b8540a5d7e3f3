// Chat templates: turn an OpenAI-style conversation into the prompt text a model was trained on,
// by rendering the model's own Jinja template (GGUF `tokenizer.chat_template`) the way HF
// transformers' apply_chat_template does.
//
//   Result<ChatTemplate> t = ChatTemplate::parse(source, "<s>", "</s>");
//   Result<std::string> prompt = t->render(messages, tools, /*add_generation_prompt=*/true);
//
// What the template sees (HF's variables):
//   messages               the conversation, one dict per message (see below)
//   tools                  the `tools` array as given (OpenAI function tools), or none
//   add_generation_prompt  whether to open an assistant turn at the end
//   bos_token, eos_token   the model's special token texts
//   raise_exception(msg)   fails the render with msg; strftime_now(fmt) formats local time
//   ...plus every key of `extra_context` (e.g. enable_thinking, date_string, builtin_tools).
//
// Messages arrive in OpenAI form and are passed through with these adjustments, so templates
// written for HF behave as they do there:
//   - content given as a list of parts ({"type": "text", "text": ...}) becomes one string, the
//     texts concatenated, as templates that walk content lists do themselves. Other part types
//     (images, audio) are an error: cove's models are text-only.
//   - tool_calls[i].function.arguments given as a JSON string becomes a mapping (templates do
//     `arguments | tojson` or `arguments.items()`), which still prints and concatenates as the
//     original text for templates that expect the string (DeepSeek's). Text that is not JSON
//     stays a string.
//   - a tool_calls key that is null or empty is dropped ("'tool_calls' in message" is false).
#pragma once

#include <ctime>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_template.h"
#include "core/result.h"

namespace cove::chat {

class ChatTemplate {
 public:
  // Parses with HF's Jinja settings (trim_blocks, lstrip_blocks). Errors name the line and
  // column: "chat template:12:5: syntax error: ...".
  static Result<ChatTemplate> parse(std::string source, std::string bos_token,
                                    std::string eos_token);

  // For models without a template: "<|im_start|>role\ncontent<|im_end|>\n" per message, then
  // "<|im_start|>assistant\n" when add_generation_prompt. No BOS/EOS, no tool rendering.
  static ChatTemplate chatml();

  // `messages`: array of {role, content, [tool_calls], [tool_call_id], [name], ...}.
  // `tools`: null or an array. `extra_context`: null or an object of extra template variables.
  // Key order reaches the prompt (a tool's JSON is printed in the order the template sees), so
  // callers that parse requests should use nlohmann::ordered_json; nlohmann::json sorts keys.
  Result<std::string> render(const nlohmann::json& messages, const nlohmann::json& tools,
                             bool add_generation_prompt,
                             const nlohmann::json& extra_context = {}) const;
  Result<std::string> render(const nlohmann::ordered_json& messages,
                             const nlohmann::ordered_json& tools, bool add_generation_prompt,
                             const nlohmann::ordered_json& extra_context = {}) const;

  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }

  // Makes strftime_now format this time instead of the clock, for reproducible prompts.
  void set_fixed_time(std::optional<std::time_t> time) { render_options_.fixed_time = time; }
  // The hostile-template guards (output size, depth, work budget); the defaults suit a server.
  void set_limits(const jinja::RenderLimits& limits) { render_options_.limits = limits; }

 private:
  ChatTemplate(jinja::Template compiled, std::string source, std::string bos_token,
               std::string eos_token)
      : compiled_(std::move(compiled)),
        source_(std::move(source)),
        bos_token_(std::move(bos_token)),
        eos_token_(std::move(eos_token)) {}

  template <class Json>
  Result<std::string> render_json(const Json& messages, const Json& tools,
                                  bool add_generation_prompt, const Json& extra_context) const;

  jinja::Template compiled_;
  std::string source_;
  std::string bos_token_;
  std::string eos_token_;
  jinja::RenderOptions render_options_;
};

}  // namespace cove::chat
