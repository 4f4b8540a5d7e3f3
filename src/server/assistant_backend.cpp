// The assistant's ModelBackend over the in-process engine, and loading a GGUF into a LocalModel
// (assistant_backend.h).
#include "server/assistant_backend.h"

#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>

#include "core/random_id.h"
#include "server/tool_calls.h"

namespace cove::server {

void load_chat_template(const model::Model& m, const tokenizer::Tokenizer& tok,
                        ModelContext& context) {
  Result<std::optional<std::string>> source = m.file().get_string("tokenizer.chat_template");
  if (!source || !source->has_value()) return;
  const std::string bos = tok.bos_id() >= 0 ? std::string(tok.token_text(tok.bos_id())) : "";
  const std::string eos = tok.eos_id() >= 0 ? std::string(tok.token_text(tok.eos_id())) : "";
  Result<chat::ChatTemplate> parsed = chat::ChatTemplate::parse(**source, bos, eos);
  if (!parsed) {
    std::fprintf(stderr, "cove: the model's chat template does not parse (%s); using ChatML\n",
                 parsed.message().c_str());
    return;
  }
  context.chat_template = std::move(*parsed);
  context.chatml_fallback = false;
}

Result<std::unique_ptr<LocalModel>> load_local_model(const LocalModelOptions& options) {
  auto local = std::make_unique<LocalModel>();
  model::ModelLoadOptions load_options;
  load_options.repack = options.repack;
  Result<std::unique_ptr<model::Model>> m = model::Model::load(options.path, load_options);
  if (!m) return m.error();
  local->model = std::move(*m);
  Result<std::unique_ptr<tokenizer::Tokenizer>> t =
      tokenizer::Tokenizer::from_gguf(local->model->file());
  if (!t) return t.error();
  local->tokenizer = std::move(*t);
  if (local->tokenizer->n_vocab() != local->model->config().n_vocab) {
    return Error{options.path + ": the tokenizer has " +
                 std::to_string(local->tokenizer->n_vocab()) + " tokens but the embedding has " +
                 std::to_string(local->model->config().n_vocab) + " rows"};
  }
  model::TransformerOptions topts;
  topts.n_ctx = options.n_ctx;
  topts.n_seq = std::max<int64_t>(1, options.n_seq);
  topts.n_threads = options.n_threads;
  local->transformer = std::make_unique<model::Transformer>(*local->model, topts);

  ModelContext& context = local->context;
  context.id = options.id.empty() ? std::filesystem::path(options.path).stem().string() : options.id;
  Result<std::optional<std::string>> general_name = local->model->file().get_string("general.name");
  if (general_name && general_name->has_value() && **general_name != context.id) {
    context.aliases.push_back(**general_name);
  }
  context.tokenizer = local->tokenizer.get();
  context.n_ctx = local->transformer->n_ctx();
  load_chat_template(*local->model, *local->tokenizer, context);
  local->engine = make_scheduler_engine(*local->transformer, *local->tokenizer, options.scheduler);
  return local;
}

namespace {

class EngineBackend : public assistant::ModelBackend {
 public:
  EngineBackend(std::string name, const ModelContext& context, Engine& engine,
                std::shared_ptr<void> keep_alive)
      : name_(std::move(name)), context_(context), engine_(engine),
        keep_alive_(std::move(keep_alive)) {}

  const std::string& name() const override { return name_; }
  int64_t context_tokens() const override { return context_.n_ctx; }
  int64_t count_tokens(std::string_view text) const override {
    return static_cast<int64_t>(
        context_.tokenizer->encode(std::string(text), /*add_special=*/false, /*parse_special=*/true)
            .size());
  }

  Result<assistant::StepResult> generate(const assistant::StepRequest& request,
                                         const assistant::StepTextSink& on_text) override;

 private:
  std::string name_;
  const ModelContext& context_;
  Engine& engine_;
  std::shared_ptr<void> keep_alive_;
};

// What one request's callbacks share with the waiting thread.
struct StepState {
  const assistant::StepTextSink* sink = nullptr;
  bool stream = true;      // false under a forced call: nothing is streamed
  bool holding = false;    // kAuto with tools: text held while it may become a call
  std::string held;
  bool sink_stopped = false;
  std::promise<runtime::RequestResult> done;

  bool emit(std::string_view piece) {
    if (piece.empty() || *sink == nullptr) return true;
    if (!(*sink)(piece)) sink_stopped = true;
    return !sink_stopped;
  }
};

Result<assistant::StepResult> EngineBackend::generate(const assistant::StepRequest& request,
                                                      const assistant::StepTextSink& on_text) {
  GenerationInput input;
  input.model = context_.id;
  input.messages = request.messages;
  const bool has_tools = request.tool_mode != assistant::StepToolMode::kNone &&
                         request.tools.is_array() && !request.tools.empty();
  if (has_tools) {
    input.tools = request.tools;
    if (ApiResult<bool> valid = validate_tools(input.tools); !valid) {
      return Error("tools: " + valid.error().message, "bad_request");
    }
    if (request.tool_mode == assistant::StepToolMode::kForced) {
      input.tool_choice = request.forced_tool.empty() ? ToolChoice::kRequired : ToolChoice::kFunction;
      input.tool_name = request.forced_tool;
    } else {
      input.tool_choice = ToolChoice::kAuto;
    }
  } else {
    input.tool_choice = ToolChoice::kNone;
  }
  input.max_tokens = request.max_tokens;
  input.sampling = GenerationInput::default_sampling();
  input.sampling.temperature = request.temperature;
  input.seed = request.seed;

  ApiResult<PreparedGeneration> prepared = prepare_generation(input, context_);
  if (!prepared) {
    const ApiError& e = prepared.error();
    return Error(e.message, e.code == "context_length_exceeded" ? "context_overflow"
                                                                 : (e.code.empty() ? "bad_request" : e.code));
  }
  const PromptPlan plan = prepared->plan;

  auto state = std::make_shared<StepState>();
  state->sink = &on_text;
  state->stream = !plan.tool_call_forced;
  state->holding = plan.detect_tool_calls;
  std::future<runtime::RequestResult> finished = state->done.get_future();
  runtime::RequestCallbacks callbacks;
  callbacks.on_token = [state](const runtime::GeneratedToken&, std::string_view text) {
    if (!state->stream) return true;
    if (state->holding) {
      state->held += text;
      if (may_become_tool_call(state->held)) return true;
      state->holding = false;
      const bool go_on = state->emit(state->held);
      state->held.clear();
      return go_on;
    }
    return state->emit(text);
  };
  callbacks.on_done = [state](const runtime::RequestResult& result) {
    state->done.set_value(result);
  };
  Result<runtime::RequestId> id = engine_.submit(std::move(prepared->request), std::move(callbacks));
  if (!id) {
    return Error(name_ + ": " + id.message(),
                 id.code() == runtime::kQueueFull ? "overloaded" : id.code());
  }
  const runtime::RequestResult result = finished.get();  // on_done has returned

  assistant::StepResult out;
  out.prompt_tokens = result.prompt_tokens;
  out.completion_tokens = result.completion_tokens;
  out.text = result.text;
  switch (result.end) {
    case runtime::RequestEnd::kError:
      return Error(name_ + ": generation failed: " + result.error);
    case runtime::RequestEnd::kTimeout:
      return Error(name_ + ": generation timed out", "timeout");
    case runtime::RequestEnd::kCancelled:
      out.finish_reason = "cancelled";
      return out;
    case runtime::RequestEnd::kStop:
    case runtime::RequestEnd::kLength:
      out.finish_reason = result.end == runtime::RequestEnd::kStop ? "stop" : "length";
      break;
  }
  if (state->sink_stopped) {
    out.finish_reason = "cancelled";
    return out;
  }
  if (plan.tool_call_forced || plan.detect_tool_calls) {
    if (std::optional<std::vector<ToolCall>> calls = parse_tool_calls(result.text, input.tools)) {
      for (ToolCall& call : *calls) {
        out.tool_calls.push_back(
            {random_id("call_"), std::move(call.name), std::move(call.arguments)});
      }
      out.text.clear();
      out.finish_reason = "tool_calls";
      return out;
    }
  }
  // Not a call: whatever was held back (or not streamed under a forced grammar) goes out now.
  if (!state->stream) {
    state->emit(result.text);
  } else if (!state->held.empty()) {
    state->emit(state->held);
  }
  if (state->sink_stopped) out.finish_reason = "cancelled";
  return out;
}

}  // namespace

std::shared_ptr<assistant::ModelBackend> make_engine_backend(std::string name,
                                                             const ModelContext& context,
                                                             Engine& engine,
                                                             std::shared_ptr<void> keep_alive) {
  return std::make_shared<EngineBackend>(std::move(name), context, engine, std::move(keep_alive));
}

std::shared_ptr<assistant::ModelBackend> make_local_backend(std::string name,
                                                            std::shared_ptr<LocalModel> model) {
  const ModelContext& context = model->context;
  Engine& engine = *model->engine;
  return make_engine_backend(std::move(name), context, engine, std::move(model));
}

}  // namespace cove::server
