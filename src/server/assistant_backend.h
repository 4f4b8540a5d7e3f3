// The assistant's model backend over the in-process engine: one assistant step (model_backend.h)
// becomes a GenerationInput, goes through the same prepare_generation as the HTTP APIs (chat
// template, tool grammar, context check) and runs on an Engine (the continuous-batching
// scheduler), blocking the calling thread until the request ends.
//
//   kNone    tools are not rendered; the reply is text
//   kAuto    tool_choice "auto": streamed text is held back while it may still become a tool
//            call (may_become_tool_call) and parsed with parse_tool_calls at the end
//   kForced  tool_choice "required" (or the named function): the grammar admits only a call
//
// Also here: loading a GGUF into a ready LocalModel (weights, tokenizer, chat template,
// transformer, scheduler), shared by `cove chat` and `cove serve`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "assistant/model_backend.h"
#include "core/result.h"
#include "model/model.h"
#include "model/transformer.h"
#include "server/engine.h"
#include "server/generation.h"
#include "tokenizer/tokenizer.h"

namespace cove::server {

// The chat template from the model's metadata (tokenizer.chat_template) into `context`, or
// ChatML (context.chatml_fallback stays true) when it has none or it does not parse; a template
// that does not parse is reported on stderr.
void load_chat_template(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                        ModelContext& context);

struct LocalModelOptions {
  std::string path;       // the GGUF file
  std::string id;         // the name it answers to; "" = the file's stem
  int64_t n_ctx = 0;      // positions per sequence; 0 = the model's own (max 4096)
  int64_t n_seq = 1;      // sequences served at once
  int n_threads = 0;      // 0 = physical cores
  bool repack = true;     // model::ModelLoadOptions::repack (where the CPU runs those kernels)
  runtime::SchedulerOptions scheduler;
};

// A model loaded and served in this process. Members are destroyed bottom-up: the engine
// (which cancels what still runs) before the transformer, before the weights.
struct LocalModel {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<model::Transformer> transformer;
  ModelContext context;  // id, aliases (general.name), tokenizer, chat template, n_ctx
  std::unique_ptr<Engine> engine;
};

// Errors: the file cannot be read or is not a model this build runs, or its tokenizer does not
// match its embedding (each message names the file).
Result<std::unique_ptr<LocalModel>> load_local_model(const LocalModelOptions& options);

// A ModelBackend over `context` + `engine`. `name` is what the assistant records per message
// (the config's model name). `keep_alive` (may be null) is held as long as the backend lives:
// pass the LocalModel to tie their lifetimes. The text sink runs on the engine's thread.
std::shared_ptr<assistant::ModelBackend> make_engine_backend(std::string name,
                                                             const ModelContext& context,
                                                             Engine& engine,
                                                             std::shared_ptr<void> keep_alive = {});

// The usual case: the backend owns a LocalModel.
std::shared_ptr<assistant::ModelBackend> make_local_backend(std::string name,
                                                            std::shared_ptr<LocalModel> model);

}  // namespace cove::server
