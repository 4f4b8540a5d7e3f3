// Parsing and validating OpenAI request bodies (openai_request.h).
#include "server/openai_request.h"

#include <cmath>

namespace cove::server {
namespace {

using ordered_json = nlohmann::ordered_json;

// A present, non-null field.
const ordered_json* field(const ordered_json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

ApiError type_error(const std::string& name, const char* expected) {
  return invalid_request("'" + name + "' must be " + expected, name);
}

// Reads an optional number in [lo, hi] into `out`.
std::optional<ApiError> read_number(const ordered_json& body, const char* name, double lo,
                                    double hi, float& out) {
  const ordered_json* v = field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) return type_error(name, "a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    return invalid_request("'" + std::string(name) + "' must be between " +
                               nlohmann::json(lo).dump() + " and " + nlohmann::json(hi).dump() +
                               ", got " + v->dump(),
                           name);
  }
  out = static_cast<float>(x);
  return std::nullopt;
}

std::optional<ApiError> read_int(const ordered_json& body, const char* name, int64_t lo,
                                 int64_t hi, int64_t& out) {
  const ordered_json* v = field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) return type_error(name, "an integer");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi)) {
    return invalid_request("'" + std::string(name) + "' must be at most " + std::to_string(hi),
                           name);
  }
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) {
    return invalid_request("'" + std::string(name) + "' must be between " + std::to_string(lo) +
                               " and " + std::to_string(hi) + ", got " + std::to_string(x),
                           name);
  }
  out = x;
  return std::nullopt;
}

std::optional<ApiError> read_bool(const ordered_json& body, const char* name, bool& out) {
  const ordered_json* v = field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) return type_error(name, "a boolean");
  out = v->get<bool>();
  return std::nullopt;
}

// The fields both endpoints share: model, sampling, limits, stop, streaming.
std::optional<ApiError> read_common(const ordered_json& body, OpenAiRequest& out) {
  GenerationInput& in = out.input;
  if (const ordered_json* v = field(body, "model")) {
    if (!v->is_string()) return type_error("model", "a string");
    in.model = v->get<std::string>();
  }
  int64_t max_tokens = -1;
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (auto e = read_int(body, name, 1, int64_t{1} << 31, max_tokens)) return e;
  }
  in.max_tokens = max_tokens;
  if (auto e = read_number(body, "temperature", 0, 2, in.sampling.temperature)) return e;
  if (auto e = read_number(body, "top_p", 0, 1, in.sampling.top_p)) return e;
  if (auto e = read_number(body, "presence_penalty", -2, 2, in.sampling.presence_penalty)) {
    return e;
  }
  if (auto e = read_number(body, "frequency_penalty", -2, 2, in.sampling.frequency_penalty)) {
    return e;
  }
  // Penalties look at every generated token, as OpenAI's do.
  in.sampling.repeat_last_n = -1;
  // Extensions many clients send to local servers.
  int64_t top_k = in.sampling.top_k;
  if (auto e = read_int(body, "top_k", 0, 1 << 20, top_k)) return e;
  in.sampling.top_k = static_cast<int>(top_k);
  if (auto e = read_number(body, "min_p", 0, 1, in.sampling.min_p)) return e;
  if (auto e = read_bool(body, "ignore_eos", in.ignore_eos)) return e;

  if (const ordered_json* v = field(body, "seed")) {
    if (!v->is_number_integer()) return type_error("seed", "an integer");
    in.seed = v->is_number_unsigned() ? v->get<uint64_t>()
                                      : static_cast<uint64_t>(v->get<int64_t>());
  }
  if (const ordered_json* v = field(body, "stop")) {
    if (v->is_string()) {
      if (!v->get<std::string>().empty()) in.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      if (v->size() > 16) return invalid_request("'stop' has more than 16 entries", "stop");
      for (const ordered_json& s : *v) {
        if (!s.is_string()) return type_error("stop", "a string or an array of strings");
        if (!s.get<std::string>().empty()) in.stop.push_back(s.get<std::string>());
      }
    } else {
      return type_error("stop", "a string or an array of strings");
    }
  }
  int64_t n = 1;
  if (auto e = read_int(body, "n", 1, 1 << 20, n)) return e;
  if (n != 1) return invalid_request("only n = 1 is supported", "n");
  if (auto e = read_bool(body, "stream", out.stream)) return e;
  if (const ordered_json* v = field(body, "stream_options")) {
    if (!v->is_object()) return type_error("stream_options", "an object");
    if (auto e = read_bool(*v, "include_usage", out.include_usage)) {
      e->param = "stream_options.include_usage";
      return e;
    }
  }
  return std::nullopt;
}

std::optional<ApiError> read_messages(const ordered_json& body, GenerationInput& in) {
  const ordered_json* v = field(body, "messages");
  if (v == nullptr) return invalid_request("'messages' is required", "messages");
  if (!v->is_array() || v->empty()) return type_error("messages", "a non-empty array");
  for (size_t i = 0; i < v->size(); ++i) {
    const ordered_json& m = (*v)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid_request(where + " must be an object", where);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return invalid_request(where + ".role must be a string", where + ".role");
    }
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool") {
      return invalid_request(where + ".role '" + r +
                                 "' is not one of system, developer, user, assistant, tool",
                             where + ".role");
    }
    auto content = m.find("content");
    const bool has_tool_calls = m.contains("tool_calls") && m["tool_calls"].is_array() &&
                                !m["tool_calls"].empty();
    if (content == m.end() || content->is_null()) {
      if (r != "assistant" || !has_tool_calls) {
        return invalid_request(where + ".content is required", where + ".content");
      }
    } else if (!content->is_string() && !content->is_array()) {
      return invalid_request(where + ".content must be a string or an array of parts",
                             where + ".content");
    }
  }
  in.messages = *v;
  // "developer" is OpenAI's newer name for "system"; templates know only the latter.
  for (ordered_json& m : in.messages) {
    if (m["role"] == "developer") m["role"] = "system";
  }
  return std::nullopt;
}

std::optional<ApiError> read_response_format(const ordered_json& body, GenerationInput& in) {
  const ordered_json* v = field(body, "response_format");
  if (v == nullptr) return std::nullopt;
  if (!v->is_object() || !v->contains("type") || !(*v)["type"].is_string()) {
    return invalid_request("'response_format' must be an object with a 'type'",
                           "response_format");
  }
  const std::string type = (*v)["type"].get<std::string>();
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    in.json_object = true;
    return std::nullopt;
  }
  if (type == "json_schema") {
    const ordered_json* spec = field(*v, "json_schema");
    if (spec == nullptr || !spec->is_object()) {
      return invalid_request("response_format.json_schema must be an object",
                             "response_format.json_schema");
    }
    const ordered_json* schema = field(*spec, "schema");
    if (schema == nullptr) {
      in.json_object = true;  // a name without a schema: any JSON object
      return std::nullopt;
    }
    if (!schema->is_object() && !schema->is_boolean()) {
      return invalid_request("response_format.json_schema.schema must be a JSON schema object",
                             "response_format.json_schema.schema");
    }
    in.json_schema = *schema;
    return std::nullopt;
  }
  return invalid_request("response_format.type '" + type +
                             "' is not one of text, json_object, json_schema",
                         "response_format.type");
}

std::optional<ApiError> read_tools(const ordered_json& body, GenerationInput& in) {
  if (const ordered_json* v = field(body, "tools")) {
    ApiResult<bool> ok = validate_tools(*v);
    if (!ok) return ok.error();
    in.tools = *v;
  }
  const ordered_json* choice = field(body, "tool_choice");
  if (choice == nullptr) {
    in.tool_choice = ToolChoice::kAuto;
    return std::nullopt;
  }
  if (choice->is_string()) {
    const std::string c = choice->get<std::string>();
    if (c == "none") {
      in.tool_choice = ToolChoice::kNone;
    } else if (c == "auto") {
      in.tool_choice = ToolChoice::kAuto;
    } else if (c == "required") {
      in.tool_choice = ToolChoice::kRequired;
    } else {
      return invalid_request("tool_choice '" + c + "' is not one of none, auto, required",
                             "tool_choice");
    }
    return std::nullopt;
  }
  if (choice->is_object() && choice->value("type", "") == "function" &&
      choice->contains("function") && (*choice)["function"].is_object() &&
      (*choice)["function"].contains("name") && (*choice)["function"]["name"].is_string()) {
    in.tool_choice = ToolChoice::kFunction;
    in.tool_name = (*choice)["function"]["name"].get<std::string>();
    return std::nullopt;
  }
  return invalid_request(
      "tool_choice must be none, auto, required or {\"type\": \"function\", \"function\": "
      "{\"name\": ...}}",
      "tool_choice");
}

}  // namespace

ApiResult<ordered_json> parse_json_body(std::string_view body) {
  ordered_json j;
  try {
    j = ordered_json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return invalid_request(std::string("We could not parse the JSON body of your request: ") +
                           e.what());
  }
  if (!j.is_object()) return invalid_request("the request body must be a JSON object");
  return j;
}

ApiResult<OpenAiRequest> parse_chat_request(std::string_view body_text) {
  ApiResult<ordered_json> body = parse_json_body(body_text);
  if (!body) return body.error();
  OpenAiRequest out;
  out.input.chat = true;
  if (auto e = read_common(*body, out)) return *e;
  if (auto e = read_messages(*body, out.input)) return *e;
  if (auto e = read_response_format(*body, out.input)) return *e;
  if (auto e = read_tools(*body, out.input)) return *e;
  if (auto e = read_bool(*body, "logprobs", out.input.logprobs)) return *e;
  int64_t top = 0;
  if (auto e = read_int(*body, "top_logprobs", 0, 20, top)) return *e;
  if (top > 0 && !out.input.logprobs) {
    return invalid_request("'top_logprobs' requires 'logprobs': true", "top_logprobs");
  }
  out.input.n_logprobs = static_cast<int>(top);
  if (const ordered_json* v = field(*body, "conversation_id")) {
    if (!v->is_string()) return type_error("conversation_id", "a string");
    out.conversation_id = v->get<std::string>();
  }
  return out;
}

ApiResult<OpenAiRequest> parse_completion_request(std::string_view body_text) {
  ApiResult<ordered_json> body = parse_json_body(body_text);
  if (!body) return body.error();
  OpenAiRequest out;
  out.input.chat = false;
  if (auto e = read_common(*body, out)) return *e;
  if (!field(*body, "max_tokens")) out.input.max_tokens = 16;  // OpenAI's completions default
  const ordered_json* prompt = field(*body, "prompt");
  if (prompt == nullptr) return invalid_request("'prompt' is required", "prompt");
  if (prompt->is_string()) {
    out.input.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    out.input.prompt = (*prompt)[0].get<std::string>();
  } else {
    return invalid_request("'prompt' must be a string (one prompt per request)", "prompt");
  }
  // Completions' logprobs is the number of alternatives (0..5), not a flag.
  int64_t n_logprobs = -1;
  if (auto e = read_int(*body, "logprobs", 0, 20, n_logprobs)) return *e;
  if (n_logprobs >= 0) {
    out.input.logprobs = true;
    out.input.n_logprobs = static_cast<int>(n_logprobs);
  }
  if (auto e = read_response_format(*body, out.input)) return *e;
  return out;
}

}  // namespace cove::server
