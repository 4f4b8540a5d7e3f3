// libFuzzer target for the server's request layer: any bytes as the body of POST
// /v1/chat/completions (and /v1/completions) go through the OpenAI parser, and a request that
// parses is planned against two chat templates (ChatML and a Llama-3-style one with tool
// rendering): rendered, its JSON schema / tool-call schema converted to GBNF and compiled.
// Every step must give a value or an error: never a crash, a hang or a leak. The tool-call
// recognizer runs over the raw bytes too (it reads model output, which is just as arbitrary).
//
// Build with -DCOVE_FUZZ=ON (clang). scripts/test.sh seeds it with a few request bodies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chat/chat_template.h"
#include "runtime/grammar.h"
#include "server/generation.h"
#include "server/openai_request.h"
#include "server/tool_calls.h"

namespace {

using cove::server::ApiResult;
using cove::server::ModelContext;
using cove::server::OpenAiRequest;
using cove::server::PromptPlan;

const char* kLlama3Style = R"({{- bos_token }}
{%- if tools %}{{- '<|start_header_id|>system<|end_header_id|>\n\nTools:\n' }}
{%- for t in tools %}{{- t | tojson(indent=2) }}{{- '\n' }}{%- endfor %}{{- '<|eot_id|>' }}{%- endif %}
{%- for m in messages %}
{%- if m.tool_calls is defined %}{%- for c in m.tool_calls %}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "' + c.function.name + '", "parameters": ' + (c.function.arguments | tojson) + '}<|eot_id|>' }}
{%- endfor %}
{%- else %}{{- '<|start_header_id|>' + m.role + '<|end_header_id|>\n\n' + (m.content if m.content is string else '') | trim + '<|eot_id|>' }}
{%- endif %}{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %})";

std::vector<ModelContext> make_models() {
  std::vector<ModelContext> models(2);
  models[0].id = "chatml";
  models[0].n_ctx = 4096;
  cove::Result<cove::chat::ChatTemplate> t =
      cove::chat::ChatTemplate::parse(kLlama3Style, "<|begin_of_text|>", "<|eot_id|>");
  if (!t.is_ok()) __builtin_trap();  // the fixed template must parse
  models[1].id = "llama3";
  models[1].chat_template = std::move(*t);
  models[1].chatml_fallback = false;
  models[1].n_ctx = 4096;
  for (ModelContext& m : models) {
    cove::chat::jinja::RenderLimits limits;
    limits.max_output_bytes = 1 << 20;
    limits.max_work = 200'000;
    m.chat_template.set_limits(limits);
    m.chat_template.set_fixed_time(0);
  }
  return models;
}

void plan(const OpenAiRequest& request, const ModelContext& model) {
  ApiResult<PromptPlan> p = cove::server::plan_prompt(request.input, model);
  if (!p.is_ok()) {
    if (p.error().status != 400) __builtin_trap();  // request problems are 400s
    return;
  }
  if (!p->gbnf.empty() && p->gbnf.size() < (1u << 16)) {
    cove::runtime::GrammarLimits limits;
    // Compiles or fails with an error (the server answers 400); grammar_fuzz covers the parser.
    (void)cove::runtime::Grammar::parse(p->gbnf, "root", limits);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<ModelContext> models = make_models();
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  ApiResult<OpenAiRequest> chat = cove::server::parse_chat_request(body);
  if (chat.is_ok()) {
    for (const ModelContext& m : models) plan(*chat, m);
  } else if (chat.error().status != 400) {
    __builtin_trap();
  }
  ApiResult<OpenAiRequest> completion = cove::server::parse_completion_request(body);
  if (completion.is_ok()) plan(*completion, models[0]);

  static const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(
      R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])");
  (void)cove::server::parse_tool_calls(body, tools);
  (void)cove::server::may_become_tool_call(body);
  return 0;
}
