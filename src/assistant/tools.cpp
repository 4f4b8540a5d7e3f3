// ToolRegistry: registration, the policy chain, argument checks and the call log (tools.h).
#include "assistant/tools.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "tokenizer/utf8.h"

namespace cove::assistant {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

nlohmann::ordered_json ToolSpec::to_openai() const {
  OrderedJson function;
  function["name"] = name;
  function["description"] = description;
  function["parameters"] = parameters;
  OrderedJson tool;
  tool["type"] = "function";
  tool["function"] = std::move(function);
  return tool;
}

ToolResult ToolResult::ok(std::string text, nlohmann::json structured) {
  return {false, std::move(text), std::move(structured)};
}

ToolResult ToolResult::error(std::string text) { return {true, std::move(text), nullptr}; }

std::string_view outcome_name(ToolOutcome outcome) {
  switch (outcome) {
    case ToolOutcome::kOk: return "ok";
    case ToolOutcome::kToolError: return "tool_error";
    case ToolOutcome::kDenied: return "denied";
    case ToolOutcome::kUnknownTool: return "unknown_tool";
    case ToolOutcome::kBadArguments: return "bad_arguments";
  }
  return "unknown";
}

bool is_valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

std::string to_valid_utf8(std::string_view text) {
  if (tokenizer::is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  for (size_t pos = 0; pos < text.size();) {
    const tokenizer::Utf8Char c = tokenizer::decode_utf8(text, pos);
    if (c.status == tokenizer::Utf8Status::kValid) {
      out.append(text.substr(pos, c.length));
    } else {
      out.append(tokenizer::kReplacementChar);
    }
    pos += c.length;
  }
  return out;
}

std::string dump_json_lenient(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

bool matches_type(const Json& value, std::string_view type) {
  if (type == "string") return value.is_string();
  if (type == "number") return value.is_number();
  if (type == "integer") {
    if (value.is_number_integer()) return true;
    // 3.0 is an integer in JSON Schema.
    if (value.is_number_float()) {
      const double d = value.get<double>();
      return d == static_cast<double>(static_cast<long long>(d));
    }
    return false;
  }
  if (type == "boolean") return value.is_boolean();
  if (type == "array") return value.is_array();
  if (type == "object") return value.is_object();
  if (type == "null") return value.is_null();
  return true;  // an unknown type name constrains nothing here
}

// The schema's `type` (a string or an array of strings) allows `value`.
bool type_allows(const OrderedJson& type, const Json& value) {
  if (type.is_string()) return matches_type(value, type.get<std::string>());
  if (type.is_array()) {
    for (const auto& t : type) {
      if (t.is_string() && matches_type(value, t.get<std::string>())) return true;
    }
    return type.empty();
  }
  return true;
}

std::string type_text(const OrderedJson& type) {
  if (type.is_string()) return "a " + type.get<std::string>();
  std::string out = "one of";
  for (const auto& t : type) out += " " + (t.is_string() ? t.get<std::string>() : t.dump());
  return out;
}

}  // namespace

Status check_tool_arguments(const nlohmann::ordered_json& schema, const nlohmann::json& arguments) {
  if (!arguments.is_object()) {
    return Error{"the arguments must be a JSON object, got " + std::string(arguments.type_name())};
  }
  if (!schema.is_object()) return Status::ok();
  if (const auto required = schema.find("required");
      required != schema.end() && required->is_array()) {
    for (const auto& key : *required) {
      if (key.is_string() && !arguments.contains(key.get<std::string>())) {
        return Error{"missing required argument '" + key.get<std::string>() + "'"};
      }
    }
  }
  const auto properties = schema.find("properties");
  const bool closed = schema.contains("additionalProperties") &&
                      schema["additionalProperties"].is_boolean() &&
                      !schema["additionalProperties"].get<bool>();
  for (const auto& item : arguments.items()) {
    // Named copies, not structured bindings: clang 14 (the fuzz build) cannot capture those.
    const std::string& key = item.key();
    const Json& value = item.value();
    if (properties == schema.end() || !properties->is_object() || !properties->contains(key)) {
      if (closed) return Error{"unknown argument '" + key + "'"};
      continue;
    }
    const OrderedJson& property = (*properties)[key];
    if (!property.is_object()) continue;
    if (const auto type = property.find("type");
        type != property.end() && !type_allows(*type, value)) {
      return Error{"argument '" + key + "' must be " + type_text(*type) + ", got " +
                   value.type_name()};
    }
    if (const auto allowed = property.find("enum"); allowed != property.end() && allowed->is_array()) {
      const bool found = std::any_of(allowed->begin(), allowed->end(),
                                     [&](const OrderedJson& option) { return Json(option) == value; });
      if (!found) {
        return Error{"argument '" + key + "' must be one of " + allowed->dump() + ", got " +
                     dump_json_lenient(value)};
      }
    }
  }
  return Status::ok();
}

Status ToolRegistry::add(ToolDefinition tool) {
  if (!is_valid_tool_name(tool.spec.name)) {
    return Error{"tool name '" + tool.spec.name + "' is not 1 to 64 of [A-Za-z0-9_-]"};
  }
  if (!tool.handler) return Error{"tool '" + tool.spec.name + "' has no handler"};
  const OrderedJson& parameters = tool.spec.parameters;
  if (!parameters.is_object() || (parameters.contains("type") && parameters["type"] != "object")) {
    return Error{"tool '" + tool.spec.name + "': parameters must be a JSON Schema of type object"};
  }
  std::lock_guard lock(mutex_);
  for (const Entry& entry : tools_) {
    if (entry.spec.name == tool.spec.name) {
      return Error{"a tool named '" + tool.spec.name + "' is already registered"};
    }
  }
  tools_.push_back({std::move(tool.spec),
                    std::make_shared<const ToolHandler>(std::move(tool.handler))});
  return Status::ok();
}

bool ToolRegistry::remove(std::string_view name) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(tools_.begin(), tools_.end(),
                               [&](const Entry& entry) { return entry.spec.name == name; });
  if (it == tools_.end()) return false;
  tools_.erase(it);
  return true;
}

bool ToolRegistry::contains(std::string_view name) const {
  std::lock_guard lock(mutex_);
  return std::any_of(tools_.begin(), tools_.end(),
                     [&](const Entry& entry) { return entry.spec.name == name; });
}

std::vector<ToolSpec> ToolRegistry::specs() const {
  std::lock_guard lock(mutex_);
  std::vector<ToolSpec> out;
  for (const Entry& entry : tools_) out.push_back(entry.spec);
  return out;
}

nlohmann::ordered_json ToolRegistry::openai_tools() const {
  OrderedJson out = OrderedJson::array();
  for (const ToolSpec& spec : specs()) out.push_back(spec.to_openai());
  return out;
}

void ToolRegistry::add_policy(std::string name, ToolPolicy policy) {
  std::lock_guard lock(mutex_);
  policies_.push_back({std::move(name), std::make_shared<const ToolPolicy>(std::move(policy))});
}

bool ToolRegistry::remove_policy(std::string_view name) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(policies_.begin(), policies_.end(),
                               [&](const NamedPolicy& p) { return p.name == name; });
  if (it == policies_.end()) return false;
  policies_.erase(it);
  return true;
}

void ToolRegistry::set_log_sink(ToolLogSink sink) {
  std::lock_guard lock(mutex_);
  sink_ = sink ? std::make_shared<const ToolLogSink>(std::move(sink)) : nullptr;
}

void ToolRegistry::log(ToolLogEntry entry) const {
  std::shared_ptr<const ToolLogSink> sink;
  {
    std::lock_guard lock(mutex_);
    sink = sink_;
  }
  if (!sink) return;
  try {
    (*sink)(entry);
  } catch (...) {
    // A failing log sink must not turn a tool call into a crash; the store reports its own
    // problems when it is the sink.
  }
}

ToolResult ToolRegistry::call(std::string_view name, const nlohmann::json& arguments,
                              std::string_view call_id) {
  const auto start = std::chrono::steady_clock::now();
  ToolLogEntry entry;
  entry.call_id = std::string(call_id);
  entry.tool = std::string(name);
  entry.arguments = arguments;
  auto finish = [&](ToolOutcome outcome, ToolResult result) {
    entry.outcome = outcome;
    entry.result = result;
    entry.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    log(std::move(entry));
    return result;
  };

  // Copy what this call needs so handlers and policies run without the lock.
  ToolSpec spec;
  std::shared_ptr<const ToolHandler> handler;
  std::vector<NamedPolicy> policies;
  {
    std::lock_guard lock(mutex_);
    for (const Entry& e : tools_) {
      if (e.spec.name == name) {
        spec = e.spec;
        handler = e.handler;
        break;
      }
    }
    policies = policies_;
  }
  if (!handler) {
    return finish(ToolOutcome::kUnknownTool,
                  ToolResult::error("unknown tool '" + std::string(name) + "'"));
  }

  ToolCallRequest request{std::string(name), arguments, std::string(call_id)};
  for (const NamedPolicy& policy : policies) {
    PolicyVerdict verdict;
    try {
      verdict = (*policy.policy)(request);
    } catch (const std::exception& e) {
      // A policy that cannot decide must not let the call through.
      verdict = PolicyVerdict::deny("policy '" + policy.name + "' failed: " + e.what());
    } catch (...) {
      verdict = PolicyVerdict::deny("policy '" + policy.name + "' failed");
    }
    if (verdict.action == PolicyAction::kDeny) {
      entry.policy = policy.name;
      const std::string reason = verdict.reason.empty() ? "not allowed" : verdict.reason;
      return finish(ToolOutcome::kDenied, ToolResult::error("tool call '" + std::string(name) +
                                                            "' refused by policy: " + reason));
    }
    if (verdict.action == PolicyAction::kRewrite) {
      if (!verdict.arguments.is_object()) {
        entry.policy = policy.name;
        return finish(ToolOutcome::kDenied,
                      ToolResult::error("tool call '" + std::string(name) + "' refused: policy '" +
                                        policy.name + "' rewrote the arguments to a non-object"));
      }
      entry.policy = policy.name;
      request.arguments = std::move(verdict.arguments);
      entry.arguments = request.arguments;
    }
  }

  if (Status checked = check_tool_arguments(spec.parameters, request.arguments); !checked) {
    return finish(ToolOutcome::kBadArguments,
                  ToolResult::error("tool '" + spec.name + "': " + checked.message()));
  }

  ToolResult result;
  try {
    result = (*handler)(request.arguments);
  } catch (const std::exception& e) {
    result = ToolResult::error("tool '" + spec.name + "' failed: " + e.what());
  } catch (...) {
    result = ToolResult::error("tool '" + spec.name + "' failed");
  }
  // Handlers include plugins; whatever they return must be text the model and the store accept.
  result.text = to_valid_utf8(result.text);
  return finish(result.is_error ? ToolOutcome::kToolError : ToolOutcome::kOk, std::move(result));
}

ToolResult ToolRegistry::call_json(std::string_view name, std::string_view arguments_json,
                                   std::string_view call_id) {
  Json arguments = Json::object();
  const bool blank = arguments_json.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (!blank) {
    arguments = Json::parse(arguments_json, nullptr, /*allow_exceptions=*/false);
    if (arguments.is_discarded()) {
      ToolLogEntry entry;
      entry.call_id = std::string(call_id);
      entry.tool = std::string(name);
      entry.arguments = std::string(arguments_json);
      entry.outcome = ToolOutcome::kBadArguments;
      entry.result = ToolResult::error("tool '" + std::string(name) +
                                       "': the arguments are not valid JSON");
      ToolResult result = entry.result;
      log(std::move(entry));
      return result;
    }
  }
  return call(name, arguments, call_id);
}

}  // namespace cove::assistant
