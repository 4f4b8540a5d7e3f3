// Ollama request parsing and response pieces (ollama_request.h).
#include "server/ollama_request.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>

#include "server/openai_request.h"
#include "tensor/tensor_type.h"

namespace cove::server {
namespace {

using ordered_json = nlohmann::ordered_json;

const ordered_json* field(const ordered_json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

ApiError option_type_error(const std::string& name, const char* expected) {
  return invalid_request("option \"" + name + "\" must be " + expected, "options." + name);
}

std::optional<ApiError> read_float(const ordered_json& options, const char* name, double lo,
                                   double hi, float& out) {
  const ordered_json* v = field(options, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) return option_type_error(name, "a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    return invalid_request("option \"" + std::string(name) + "\" must be between " +
                               ordered_json(lo).dump() + " and " + ordered_json(hi).dump() +
                               ", got " + v->dump(),
                           std::string("options.") + name);
  }
  out = static_cast<float>(x);
  return std::nullopt;
}

// Integers; Go clients may send whole numbers as floats (2.0), which Ollama accepts.
std::optional<ApiError> read_integer(const ordered_json& options, const char* name, int64_t lo,
                                     int64_t hi, int64_t& out) {
  const ordered_json* v = field(options, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) return option_type_error(name, "an integer");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x != std::floor(x) || x < static_cast<double>(lo) ||
      x > static_cast<double>(hi)) {
    return invalid_request("option \"" + std::string(name) + "\" must be an integer between " +
                               std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                               v->dump(),
                           std::string("options.") + name);
  }
  out = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(x);
  return std::nullopt;
}

// Ollama's defaults for the sampling options it exposes.
runtime::SamplingParams ollama_default_sampling() {
  runtime::SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.9f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 64;
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.0f;
  return p;
}

// "options": the sampling and length options. Options Ollama has but that do not apply here
// (num_ctx, num_thread, mirostat, ...) are ignored, as Ollama ignores options a runner lacks.
std::optional<ApiError> read_options(const ordered_json& body, GenerationInput& in) {
  in.sampling = ollama_default_sampling();
  const ordered_json* options = field(body, "options");
  if (options == nullptr) return std::nullopt;
  if (!options->is_object()) return invalid_request("\"options\" must be an object", "options");
  const ordered_json& o = *options;
  runtime::SamplingParams& s = in.sampling;
  if (auto e = read_float(o, "temperature", 0, 100, s.temperature)) return e;
  if (auto e = read_float(o, "top_p", 0, 1, s.top_p)) return e;
  if (auto e = read_float(o, "min_p", 0, 1, s.min_p)) return e;
  if (auto e = read_float(o, "repeat_penalty", 0, 100, s.repeat_penalty)) return e;
  if (auto e = read_float(o, "presence_penalty", -100, 100, s.presence_penalty)) return e;
  if (auto e = read_float(o, "frequency_penalty", -100, 100, s.frequency_penalty)) return e;
  int64_t top_k = s.top_k;
  if (auto e = read_integer(o, "top_k", -1, 1 << 20, top_k)) return e;
  s.top_k = static_cast<int>(top_k);
  int64_t last_n = s.repeat_last_n;
  if (auto e = read_integer(o, "repeat_last_n", -1, 1 << 20, last_n)) return e;
  s.repeat_last_n = static_cast<int>(last_n);  // -1: the whole context, 0: off
  if (s.repeat_last_n == 0) s.repeat_penalty = 1.0f;
  int64_t seed = -1;
  if (auto e = read_integer(o, "seed", INT64_MIN / 2, INT64_MAX / 2, seed)) return e;
  if (seed >= 0) in.seed = static_cast<uint64_t>(seed);  // negative: random, as in Ollama
  int64_t num_predict = -1;
  if (auto e = read_integer(o, "num_predict", -2, int64_t{1} << 31, num_predict)) return e;
  in.max_tokens = num_predict > 0 ? num_predict : -1;  // -1 and -2 (fill the context): no limit
  if (const ordered_json* v = field(o, "stop")) {
    if (v->is_string()) {
      if (!v->get<std::string>().empty()) in.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      for (const ordered_json& s2 : *v) {
        if (!s2.is_string()) return option_type_error("stop", "an array of strings");
        if (!s2.get<std::string>().empty()) in.stop.push_back(s2.get<std::string>());
      }
    } else {
      return option_type_error("stop", "an array of strings");
    }
  }
  return std::nullopt;
}

// "format": "json" or a JSON schema object.
std::optional<ApiError> read_format(const ordered_json& body, GenerationInput& in) {
  const ordered_json* v = field(body, "format");
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) {
    const std::string f = v->get<std::string>();
    if (f.empty()) return std::nullopt;
    if (f == "json") {
      in.json_object = true;
      return std::nullopt;
    }
  } else if (v->is_object()) {
    in.json_schema = *v;
    return std::nullopt;
  }
  return invalid_request("invalid format: expected \"json\" or a valid JSON schema, got " +
                             v->dump(),
                         "format");
}

// The fields both endpoints share: model (required), stream, options, format.
std::optional<ApiError> read_common(const ordered_json& body, OllamaRequest& out) {
  const ordered_json* model = field(body, "model");
  if (model == nullptr) model = field(body, "name");  // older clients
  if (model == nullptr || !model->is_string() || model->get<std::string>().empty()) {
    return invalid_request("model is required", "model");
  }
  out.input.model = model->get<std::string>();
  if (const ordered_json* v = field(body, "stream")) {
    if (!v->is_boolean()) return invalid_request("\"stream\" must be a boolean", "stream");
    out.stream = v->get<bool>();
  }
  if (auto e = read_options(body, out.input)) return e;
  if (auto e = read_format(body, out.input)) return e;
  return std::nullopt;
}

std::optional<ApiError> reject_images(const ordered_json& holder, const std::string& where) {
  const ordered_json* images = field(holder, "images");
  if (images != nullptr && (!images->is_array() || !images->empty())) {
    return invalid_request(where + "images: this model does not accept images", where + "images");
  }
  return std::nullopt;
}

std::optional<ApiError> read_messages(const ordered_json& body, GenerationInput& in) {
  const ordered_json* v = field(body, "messages");
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return invalid_request("\"messages\" must be an array", "messages");
  for (size_t i = 0; i < v->size(); ++i) {
    const ordered_json& m = (*v)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid_request(where + " must be an object", where);
    const ordered_json* role = field(m, "role");
    if (role == nullptr || !role->is_string()) {
      return invalid_request(where + ".role must be a string", where + ".role");
    }
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
      return invalid_request(where + ".role \"" + r +
                                 "\" is not one of system, user, assistant, tool",
                             where + ".role");
    }
    const ordered_json* content = field(m, "content");
    if (content != nullptr && !content->is_string()) {
      return invalid_request(where + ".content must be a string", where + ".content");
    }
    if (auto e = reject_images(m, where + ".")) return e;
  }
  in.messages = ordered_json::array();
  for (const ordered_json& m : *v) {
    ordered_json copy = m;
    if (!copy.contains("content") || copy["content"].is_null()) copy["content"] = "";
    copy.erase("images");
    in.messages.push_back(std::move(copy));
  }
  return std::nullopt;
}

void put_zero_padded(std::string& out, int64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v));
  out += buf;
}

}  // namespace

ApiResult<OllamaRequest> parse_ollama_chat(std::string_view body_text) {
  ApiResult<ordered_json> body = parse_json_body(body_text);
  if (!body) return body.error();
  OllamaRequest out;
  out.input.chat = true;
  if (auto e = read_common(*body, out)) return *e;
  if (auto e = read_messages(*body, out.input)) return *e;
  if (const ordered_json* tools = field(*body, "tools")) {
    ApiResult<bool> ok = validate_tools(*tools);
    if (!ok) return ok.error();
    out.input.tools = *tools;
  }
  out.input.tool_choice = ToolChoice::kAuto;
  out.load_only = out.input.messages.empty();
  return out;
}

ApiResult<OllamaRequest> parse_ollama_generate(std::string_view body_text) {
  ApiResult<ordered_json> body = parse_json_body(body_text);
  if (!body) return body.error();
  OllamaRequest out;
  if (auto e = read_common(*body, out)) return *e;
  if (auto e = reject_images(*body, "")) return *e;
  std::string prompt;
  if (const ordered_json* v = field(*body, "prompt")) {
    if (!v->is_string()) return invalid_request("\"prompt\" must be a string", "prompt");
    prompt = v->get<std::string>();
  }
  std::string system;
  if (const ordered_json* v = field(*body, "system")) {
    if (!v->is_string()) return invalid_request("\"system\" must be a string", "system");
    system = v->get<std::string>();
  }
  bool raw = false;
  if (const ordered_json* v = field(*body, "raw")) {
    if (!v->is_boolean()) return invalid_request("\"raw\" must be a boolean", "raw");
    raw = v->get<bool>();
  }
  if (const ordered_json* v = field(*body, "suffix");
      v != nullptr && (!v->is_string() || !v->get<std::string>().empty())) {
    return invalid_request("\"" + out.input.model + "\" does not support insert", "suffix");
  }
  if (const ordered_json* v = field(*body, "template");
      v != nullptr && (!v->is_string() || !v->get<std::string>().empty())) {
    return invalid_request(
        "\"template\" is not supported: the model's own chat template is used (send "
        "\"raw\": true with a fully formatted prompt instead)",
        "template");
  }
  if (const ordered_json* v = field(*body, "context");
      v != nullptr && (!v->is_array() || !v->empty())) {
    return invalid_request(
        "\"context\" is not supported: send the conversation with /api/chat instead", "context");
  }
  if (prompt.empty()) {
    out.load_only = true;
    return out;
  }
  if (raw) {
    out.input.chat = false;
    out.input.prompt = std::move(prompt);
  } else {
    out.input.chat = true;
    out.input.messages = ordered_json::array();
    if (!system.empty()) out.input.messages.push_back({{"role", "system"}, {"content", system}});
    out.input.messages.push_back({{"role", "user"}, {"content", prompt}});
  }
  return out;
}

std::string ollama_base_name(std::string_view name) {
  constexpr std::string_view kLatest = ":latest";
  if (name.size() > kLatest.size() && name.substr(name.size() - kLatest.size()) == kLatest) {
    name.remove_suffix(kLatest.size());
  }
  return std::string(name);
}

std::string ollama_tagged_name(std::string_view id) {
  if (id.find(':') != std::string_view::npos) return std::string(id);
  return std::string(id) + ":latest";
}

ordered_json ollama_error_json(const ApiError& error) {
  return ordered_json{{"error", error.message}};
}

ApiError ollama_model_not_found(const std::string& name) {
  return not_found("model \"" + name + "\" not found, try pulling it first", "model",
                   "model_not_found");
}

std::string rfc3339(int64_t unix_ns) {
  const std::time_t secs = static_cast<std::time_t>(unix_ns / 1000000000);
  const int64_t frac = unix_ns % 1000000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  out += '.';
  put_zero_padded(out, frac, 9);
  out += 'Z';
  return out;
}

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* ollama_done_reason(runtime::RequestEnd end) {
  return end == runtime::RequestEnd::kLength ? "length" : "stop";
}

void add_ollama_stats(ordered_json& out, const runtime::RequestResult& result) {
  auto ns = [](double ms) { return static_cast<int64_t>(std::llround(std::max(0.0, ms) * 1e6)); };
  const runtime::RequestTimings& t = result.timings;
  // Prefill ends when the first token is sampled; without one (an immediate end) the whole
  // time after queueing is prompt evaluation.
  const double first = result.completion_tokens > 0 ? t.first_token_ms : t.total_ms;
  out["done_reason"] = ollama_done_reason(result.end);
  out["total_duration"] = ns(t.total_ms);
  out["load_duration"] = 0;  // the model stays loaded; no request ever waits for a load
  out["prompt_eval_count"] = result.prompt_tokens;
  out["prompt_eval_duration"] = ns(first - t.queued_ms);
  out["eval_count"] = result.completion_tokens;
  out["eval_duration"] = ns(t.total_ms - first);
}

ordered_json ollama_tool_calls(const std::vector<ToolCall>& calls) {
  ordered_json out = ordered_json::array();
  for (const ToolCall& call : calls) {
    ordered_json arguments = ordered_json::parse(call.arguments, nullptr, false);
    if (arguments.is_discarded()) arguments = ordered_json::object();
    out.push_back({{"function", {{"name", call.name}, {"arguments", std::move(arguments)}}}});
  }
  return out;
}

std::string ModelDescription::digest() const {
  std::call_once(digest_once_, [this] {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return;
    bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
    std::vector<char> buf(1 << 20);
    while (ok && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      if (in.gcount() > 0) ok = EVP_DigestUpdate(ctx, buf.data(), in.gcount()) == 1;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ok = ok && in.eof() && EVP_DigestFinal_ex(ctx, md, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return;
    static const char* hex = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned int i = 0; i < len; ++i) {
      out += hex[md[i] >> 4];
      out += hex[md[i] & 15];
    }
    digest_ = std::move(out);
  });
  return digest_;
}

std::shared_ptr<const ModelDescription> describe_model(const gguf::File& file,
                                                      const std::string& path) {
  auto out = std::make_shared<ModelDescription>();
  ModelDescription& d = *out;
  d.path = path;
  d.size_bytes = file.file_size();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    d.modified_unix_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                         static_cast<int64_t>(st.st_mtim.tv_nsec);
  }
  if (auto arch = file.get_string("general.architecture"); arch && arch->has_value()) {
    d.family = **arch;
  }
  if (auto tmpl = file.get_string("tokenizer.chat_template"); tmpl && tmpl->has_value()) {
    d.chat_template = **tmpl;
  }
  std::map<std::string, int64_t> weight_types;  // type name -> elements
  for (const gguf::TensorInfo& t : file.tensors()) {
    d.n_params += t.n_elements();
    if (t.shape.size() >= 2) weight_types[std::string(tensor::type_name(t.type))] += t.n_elements();
  }
  int64_t best = -1;
  for (const auto& [name, n] : weight_types) {
    if (n > best) {
      best = n;
      d.quantization = name;
    }
  }
  // model_info: the scalar metadata (arrays such as the vocabulary are left out, as Ollama
  // leaves them out unless asked for "verbose").
  for (const gguf::KeyValue& kv : file.metadata()) {
    if (kv.key == "tokenizer.chat_template") continue;
    const gguf::Value& v = kv.value;
    if (const std::string* s = v.as_string()) {
      d.model_info[kv.key] = *s;
    } else if (v.type == gguf::ValueType::BOOL) {
      d.model_info[kv.key] = v.as_bool().value_or(false);
    } else if (v.is_integer()) {
      if (auto i = v.as_int()) d.model_info[kv.key] = *i;
    } else if (v.is_float()) {
      d.model_info[kv.key] = v.as_double().value_or(0.0);
    }
  }
  d.model_info["general.parameter_count"] = d.n_params;
  return out;
}

std::string parameter_size_text(int64_t n) {
  char buf[32];
  if (n >= 1000000000) {
    std::snprintf(buf, sizeof buf, "%.1fB", static_cast<double>(n) / 1e9);
  } else if (n >= 1000000) {
    std::snprintf(buf, sizeof buf, "%.0fM", static_cast<double>(n) / 1e6);
  } else if (n >= 1000) {
    std::snprintf(buf, sizeof buf, "%.0fK", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  }
  return buf;
}

ordered_json ollama_details(const ModelDescription& d) {
  return ordered_json{{"parent_model", ""},
                      {"format", "gguf"},
                      {"family", d.family},
                      {"families", d.family.empty() ? ordered_json::array()
                                                    : ordered_json::array({d.family})},
                      {"parameter_size", parameter_size_text(d.n_params)},
                      {"quantization_level", d.quantization}};
}

}  // namespace cove::server
