// The API-neutral generation request that every HTTP API (OpenAI, Ollama, WebSocket) parses its
// body into, and its conversion into a scheduler request. Keeping one conversion means the
// chat template, tokenization, context check, constrained decoding and tool forcing behave the
// same whichever API a client speaks.
//
//   GenerationInput  --plan_prompt-->  PromptPlan (text + grammar source; no tokenizer needed)
//                    --prepare_generation-->  PreparedGeneration (runtime::Request, ready to submit)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "runtime/scheduler.h"
#include "server/api_error.h"
#include "server/tool_calls.h"
#include "tokenizer/tokenizer.h"

namespace cove::server {

struct GenerationInput {
  std::string model;  // as requested; "" means the loaded model
  // Chat (messages rendered through the chat template) or plain completion (prompt as is).
  bool chat = true;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null or a validated array (tool_calls.h)
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_name;         // kFunction
  std::string prompt;            // completions

  // Output constraints: a JSON schema, any JSON object, or a raw GBNF grammar (at most one).
  std::optional<nlohmann::ordered_json> json_schema;
  bool json_object = false;
  std::string gbnf;

  int64_t max_tokens = -1;  // < 0: until end-of-generation or a full context
  runtime::SamplingParams sampling = default_sampling();
  std::optional<uint64_t> seed;  // none: random
  std::vector<std::string> stop;
  int n_logprobs = 0;      // top alternatives per token
  bool logprobs = false;   // report the chosen tokens' log-probabilities
  bool ignore_eos = false;

  // OpenAI's defaults: temperature 1, no top-k / top-p / min-p truncation, no penalties.
  static runtime::SamplingParams default_sampling();
};

// What the loaded model brings to the conversion.
struct ModelContext {
  std::string id;                    // the name clients use (file stem)
  std::vector<std::string> aliases;  // also accepted (general.name)
  const tokenizer::Tokenizer* tokenizer = nullptr;
  chat::ChatTemplate chat_template = chat::ChatTemplate::chatml();
  bool chatml_fallback = true;       // the model had no usable chat template
  int64_t n_ctx = 0;                 // positions per sequence

  bool answers_to(const std::string& name) const;
};

// The text-level result: the prompt as text and the grammar (if any) as GBNF source.
struct PromptPlan {
  std::string text;
  std::string gbnf;            // "" when unconstrained
  bool tool_call_forced = false;   // the output is the forced tool-call JSON
  bool detect_tool_calls = false;  // tool_choice auto with tools: look for calls in the output
  std::vector<std::string> stop;   // the request's stop strings plus the template's turn end
};

// Renders the chat template (or takes the completion prompt) and builds the grammar source.
// Template errors (bad roles, non-text content, raise_exception) are 400s.
ApiResult<PromptPlan> plan_prompt(const GenerationInput& input, const ModelContext& model);

struct PreparedGeneration {
  runtime::Request request;
  PromptPlan plan;
  int64_t prompt_tokens = 0;
};

// The whole conversion: model check (404), prompt plan, tokenization, the context check (400
// with both numbers), grammar compilation (400), generation options.
ApiResult<PreparedGeneration> prepare_generation(const GenerationInput& input,
                                                 const ModelContext& model);

}  // namespace cove::server
