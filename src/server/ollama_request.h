// The Ollama API's request and response shapes, without sockets: /api/chat and /api/generate
// bodies -> GenerationInput (generation.h), and the pieces of Ollama's replies (RFC 3339 times,
// durations in nanoseconds, done_reason, tool calls with object arguments, the model
// description behind /api/tags, /api/show and /api/ps). ollama_api.cpp runs the requests.
//
// Ollama's conventions kept here: responses stream as NDJSON unless "stream": false; sampling
// options live under "options" with Ollama's defaults (temperature 0.8, top_k 40, top_p 0.9,
// repeat_penalty 1.1 over the last 64 tokens); errors are {"error": "..."}; model names may
// carry a tag ("name:latest").
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "runtime/scheduler.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/tool_calls.h"

namespace cove::server {

struct OllamaRequest {
  GenerationInput input;
  bool stream = true;
  // No messages (chat) or an empty prompt (generate): Ollama's "load the model" request,
  // answered at once with done_reason "load".
  bool load_only = false;
};

ApiResult<OllamaRequest> parse_ollama_chat(std::string_view body);
ApiResult<OllamaRequest> parse_ollama_generate(std::string_view body);

// The model name without Ollama's default tag: "smollm2:latest" -> "smollm2".
std::string ollama_base_name(std::string_view name);
// The name Ollama lists a model under: "smollm2" -> "smollm2:latest".
std::string ollama_tagged_name(std::string_view id);

// {"error": "..."}, Ollama's error body.
nlohmann::ordered_json ollama_error_json(const ApiError& error);
// Ollama's message for a model it does not have (404).
ApiError ollama_model_not_found(const std::string& name);

// RFC 3339 in UTC with nanoseconds, as Ollama writes created_at ("2024-05-01T12:00:00.1234Z").
std::string rfc3339(int64_t unix_ns);
int64_t unix_now_ns();

// "stop" or "length" (the ends that are not errors).
const char* ollama_done_reason(runtime::RequestEnd end);

// The final object's statistics: done_reason, total_duration, load_duration,
// prompt_eval_count, prompt_eval_duration, eval_count, eval_duration (nanoseconds), added to
// `out` in Ollama's order.
void add_ollama_stats(nlohmann::ordered_json& out, const runtime::RequestResult& result);

// Ollama's tool_calls: [{"function": {"name": ..., "arguments": {...object...}}}].
nlohmann::ordered_json ollama_tool_calls(const std::vector<ToolCall>& calls);

// What /api/tags, /api/show and /api/ps say about the loaded model, read once from its GGUF.
struct ModelDescription {
  std::string path;
  uint64_t size_bytes = 0;
  int64_t modified_unix_ns = 0;
  std::string family;        // general.architecture
  int64_t n_params = 0;      // sum of the tensors' elements
  std::string quantization;  // the most common type among the 2-D weights, e.g. "Q4_K"
  std::string chat_template; // tokenizer.chat_template source, "" when none
  nlohmann::ordered_json model_info = nlohmann::ordered_json::object();  // scalar metadata

  // sha256 of the file ("sha256:<hex>"), computed on first use (it reads the whole file).
  std::string digest() const;

 private:
  mutable std::once_flag digest_once_;
  mutable std::string digest_;
};

std::shared_ptr<const ModelDescription> describe_model(const gguf::File& file,
                                                      const std::string& path);

// "8.0B", "135M", "260K": Ollama's parameter_size.
std::string parameter_size_text(int64_t n_params);
// Ollama's "details" object.
nlohmann::ordered_json ollama_details(const ModelDescription& d);

}  // namespace cove::server
