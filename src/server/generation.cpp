// GenerationInput -> scheduler request (generation.h).
#include "server/generation.h"

#include <algorithm>
#include <random>

#include "runtime/grammar.h"
#include "runtime/json_schema.h"

namespace cove::server {

runtime::SamplingParams GenerationInput::default_sampling() {
  runtime::SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.0f;
  return p;
}

bool ModelContext::answers_to(const std::string& name) const {
  if (name.empty() || name == id) return true;
  return std::find(aliases.begin(), aliases.end(), name) != aliases.end();
}

ApiResult<PromptPlan> plan_prompt(const GenerationInput& input, const ModelContext& model) {
  PromptPlan plan;
  plan.stop = input.stop;
  if (input.chat) {
    if (!input.messages.is_array() || input.messages.empty()) {
      return invalid_request("'messages' must be a non-empty array", "messages");
    }
    const bool render_tools = input.tool_choice != ToolChoice::kNone && input.tools.is_array() &&
                              !input.tools.empty();
    Result<std::string> text = model.chat_template.render(
        input.messages, render_tools ? input.tools : nlohmann::ordered_json(), true);
    if (!text) return invalid_request(text.message(), "messages");
    plan.text = std::move(*text);
    if (model.chatml_fallback &&
        std::find(plan.stop.begin(), plan.stop.end(), "<|im_end|>") == plan.stop.end()) {
      plan.stop.push_back("<|im_end|>");  // the fallback's turn end, in case it is not a token
    }
  } else {
    plan.text = input.prompt;
  }

  const bool has_tools = input.tools.is_array() && !input.tools.empty();
  if (has_tools &&
      (input.tool_choice == ToolChoice::kRequired || input.tool_choice == ToolChoice::kFunction)) {
    ApiResult<nlohmann::ordered_json> schema =
        forced_tool_call_schema(input.tools, input.tool_choice, input.tool_name);
    if (!schema) return schema.error();
    Result<std::string> gbnf = runtime::json_schema_to_gbnf(*schema);
    if (!gbnf) return invalid_request("tools: " + gbnf.message(), "tools");
    plan.gbnf = std::move(*gbnf);
    plan.tool_call_forced = true;
    return plan;
  }
  if (input.tool_choice == ToolChoice::kFunction || input.tool_choice == ToolChoice::kRequired) {
    return invalid_request("tool_choice requires a non-empty 'tools' array", "tool_choice");
  }
  plan.detect_tool_calls = has_tools && input.tool_choice == ToolChoice::kAuto;
  if (input.json_schema) {
    Result<std::string> gbnf = runtime::json_schema_to_gbnf(*input.json_schema);
    if (!gbnf) return invalid_request(gbnf.message(), "response_format");
    plan.gbnf = std::move(*gbnf);
  } else if (input.json_object) {
    plan.gbnf = runtime::json_object_gbnf();
  } else if (!input.gbnf.empty()) {
    plan.gbnf = input.gbnf;
  }
  return plan;
}

ApiResult<PreparedGeneration> prepare_generation(const GenerationInput& input,
                                                 const ModelContext& model) {
  if (!model.answers_to(input.model)) {
    return not_found("The model '" + input.model + "' does not exist; this server serves '" +
                         model.id + "'",
                     "model", "model_not_found");
  }
  ApiResult<PromptPlan> plan = plan_prompt(input, model);
  if (!plan) return plan.error();

  PreparedGeneration out;
  const tokenizer::Tokenizer& tok = *model.tokenizer;
  // Templates that print the BOS text themselves must not get a second BOS.
  bool add_special = true;
  if (input.chat && tok.bos_id() >= 0) {
    const std::string_view bos = tok.token_text(tok.bos_id());
    if (!bos.empty() && std::string_view(plan->text).substr(0, bos.size()) == bos) {
      add_special = false;
    }
  }
  out.request.prompt = tok.encode(plan->text, add_special, /*parse_special=*/true);
  out.prompt_tokens = static_cast<int64_t>(out.request.prompt.size());
  if (out.request.prompt.empty()) {
    return invalid_request("the prompt is empty and the model adds no BOS token",
                           input.chat ? "messages" : "prompt");
  }
  if (out.prompt_tokens >= model.n_ctx) {
    return invalid_request("This model's maximum context length is " +
                               std::to_string(model.n_ctx) + " tokens, but the prompt has " +
                               std::to_string(out.prompt_tokens) +
                               " tokens (at least one more is needed to generate)",
                           input.chat ? "messages" : "prompt", "context_length_exceeded");
  }

  if (!plan->gbnf.empty()) {
    Result<runtime::Grammar> grammar = runtime::Grammar::parse(plan->gbnf);
    if (!grammar) {
      return invalid_request("grammar: " + grammar.message(),
                             plan->tool_call_forced ? "tools" : "response_format");
    }
    out.request.grammar = std::make_shared<const runtime::Grammar>(std::move(*grammar));
  }

  runtime::GenerateOptions& g = out.request.options;
  g.max_tokens = input.max_tokens;
  g.sampling = input.sampling;
  g.sampling.seed = input.seed ? *input.seed : std::random_device{}();
  g.stop = plan->stop;
  g.ignore_eos = input.ignore_eos;
  g.n_logprobs = input.n_logprobs;
  g.logprob = input.logprobs;
  out.plan = std::move(*plan);
  return out;
}

}  // namespace cove::server
