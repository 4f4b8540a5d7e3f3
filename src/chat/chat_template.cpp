#include "chat/chat_template.h"

#include <cassert>
#include <utility>

#include "chat/jinja_error.h"

namespace cove::chat {

namespace {

using jinja::Value;

// ChatML, with content that is not a string (an assistant turn that only calls tools) rendered
// as empty rather than failing the render.
constexpr const char* kChatMlTemplate =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{{- message['content'] if message['content'] is string else '' -}}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

// Concatenates text parts; any other part type is refused.
template <class Json>
Result<std::string> flatten_content_parts(const Json& parts, const std::string& where) {
  std::string text;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Json& part = parts[i];
    std::string at = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) return Error{at + ": a content part must be an object"};
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) return Error{at + ": missing 'type'"};
    if (*type != "text") {
      return Error{at + ": content part type '" + type->template get<std::string>() +
                   "' is not supported (text only)"};
    }
    auto part_text = part.find("text");
    if (part_text == part.end() || !part_text->is_string()) return Error{at + ": missing 'text'"};
    text += part_text->template get<std::string>();
  }
  return text;
}

// function.arguments: a JSON string becomes a mapping that remembers its text; a mapping gets
// its Python-style JSON text so that it too concatenates as a string.
Value convert_arguments(const Value& arguments) {
  if (arguments.is_string()) {
    nlohmann::json parsed =
        nlohmann::json::parse(arguments.as_string(), nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return arguments;
    Value mapping = Value::from_json(parsed);
    mapping.dict_object().json_text = arguments.as_string();
    return mapping;
  }
  if (arguments.is_dict()) arguments.dict_object().json_text = jinja::to_json(arguments);
  return arguments;
}

template <class Json>
Value convert_tool_calls(const Json& tool_calls) {
  Value calls = Value::from_json(tool_calls);
  for (Value& call : calls.list()) {
    if (!call.is_dict()) continue;
    Value* function = call.dict().find("function");
    if (function == nullptr || !function->is_dict()) continue;
    Value* arguments = function->dict().find("arguments");
    if (arguments != nullptr) *arguments = convert_arguments(*arguments);
  }
  return calls;
}

template <class Json>
Result<Value> convert_message(const Json& message, size_t index) {
  std::string where = "messages[" + std::to_string(index) + "]";
  if (!message.is_object()) return Error{where + ": a message must be an object"};
  auto role = message.find("role");
  if (role == message.end() || !role->is_string()) return Error{where + ": missing 'role'"};

  Value converted = Value::make_dict();
  for (auto it = message.begin(); it != message.end(); ++it) {
    const std::string& key = it.key();
    const Json& field = it.value();
    if (key == "content" && field.is_array()) {
      Result<std::string> text = flatten_content_parts(field, where);
      if (!text) return text.error();
      converted.dict().set(Value(key), Value(std::move(*text)));
    } else if (key == "tool_calls") {
      if (field.is_null() || (field.is_array() && field.empty())) continue;
      if (!field.is_array()) return Error{where + ": 'tool_calls' must be an array"};
      converted.dict().set(Value(key), convert_tool_calls(field));
    } else {
      converted.dict().set(Value(key), Value::from_json(field));
    }
  }
  return converted;
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(std::string source, std::string bos_token,
                                         std::string eos_token) {
  jinja::TemplateOptions options;  // HF: trim_blocks and lstrip_blocks on
  Result<jinja::Template> compiled = jinja::Template::parse(source, options, "chat template");
  if (!compiled) return compiled.error();
  return ChatTemplate(std::move(*compiled), std::move(source), std::move(bos_token),
                      std::move(eos_token));
}

ChatTemplate ChatTemplate::chatml() {
  Result<ChatTemplate> chat_template = parse(kChatMlTemplate, "", "");
  assert(chat_template.is_ok() && "the built-in ChatML template must parse");
  return std::move(chat_template).value();
}

Result<std::string> ChatTemplate::render(const nlohmann::json& messages,
                                         const nlohmann::json& tools, bool add_generation_prompt,
                                         const nlohmann::json& extra_context) const {
  return render_json(messages, tools, add_generation_prompt, extra_context);
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& messages,
                                         const nlohmann::ordered_json& tools,
                                         bool add_generation_prompt,
                                         const nlohmann::ordered_json& extra_context) const {
  return render_json(messages, tools, add_generation_prompt, extra_context);
}

template <class Json>
Result<std::string> ChatTemplate::render_json(const Json& messages, const Json& tools,
                                              bool add_generation_prompt,
                                              const Json& extra_context) const {
  if (!messages.is_array()) return Error{"chat template: 'messages' must be an array"};
  if (!tools.is_null() && !tools.is_array()) {
    return Error{"chat template: 'tools' must be null or an array"};
  }
  if (!extra_context.is_null() && !extra_context.is_object()) {
    return Error{"chat template: the extra context must be an object"};
  }
  try {
    jinja::ValueList converted;
    converted.reserve(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) {
      Result<Value> message = convert_message(messages[i], i);
      if (!message) return Error{"chat template: " + message.message()};
      converted.push_back(std::move(*message));
    }
    jinja::Variables variables = {
        {"messages", Value::make_list(std::move(converted))},
        {"tools", tools.is_null() ? Value::none() : Value::from_json(tools)},
        {"add_generation_prompt", Value(add_generation_prompt)},
        {"bos_token", Value(bos_token_)},
        {"eos_token", Value(eos_token_)},
    };
    if (extra_context.is_object()) {
      for (auto it = extra_context.begin(); it != extra_context.end(); ++it) {
        variables.emplace_back(it.key(), Value::from_json(it.value()));
      }
    }
    return compiled_.render(variables, render_options_);
  } catch (const jinja::TemplateError& error) {  // input JSON nested too deeply to convert
    return Error{"chat template: " + error.message()};
  } catch (const std::exception& error) {  // out of memory converting the input
    return Error{std::string("chat template: internal error: ") + error.what()};
  }
}

}  // namespace cove::chat
