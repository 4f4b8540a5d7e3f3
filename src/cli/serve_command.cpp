// cove serve: the OpenAI-compatible HTTP server over one model (src/server/).
//
// It listens first (GET /health answers "loading"), then loads the model, builds the
// continuous-batching scheduler over --parallel sequences of --ctx positions, and serves until
// SIGINT/SIGTERM, when it stops accepting, lets requests in flight finish for a while, cancels
// the rest and exits 0.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "model/transformer.h"
#include "server/engine.h"
#include "server/ollama_api.h"
#include "server/ollama_request.h"
#include "server/openai_api.h"
#include "server/server.h"
#include "server/websocket_api.h"

namespace cove::cli {
namespace {

struct ServeOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t parallel = 4;
  int64_t n_ctx = 0;
  int n_threads = 0;
  std::string api_key;
  int64_t max_queue = 64;
  double timeout_s = 0;
  uint64_t max_body = 10u << 20;
  double drain_s = 10;
};

// The chat template from the model's metadata, or ChatML when it has none or it does not parse.
void load_chat_template(const model::Model& m, const tokenizer::Tokenizer& tok,
                        server::ModelContext& context) {
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

int serve(const ServeOptions& o) {
  server::ServerOptions options;
  options.http.host = o.host;
  if (o.port < 0 || o.port > 65535) return fail("--port must be between 0 and 65535");
  if (o.parallel < 1) return fail("--parallel must be at least 1");
  options.http.port = static_cast<uint16_t>(o.port);
  options.http.max_body_bytes = o.max_body;
  options.api_key = o.api_key;
  options.drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.drain_s * 1000));

  // The server goes first so that it outlives the engine (declared below, destroyed first):
  // the engine's last callbacks post to the server's threads.
  server::Server srv(options);
  register_core_routes(srv.router(), srv.state());
  register_openai_routes(srv.router(), srv.state());
  register_ollama_routes(srv.router(), srv.state());
  register_websocket_routes(srv.router(), srv.state());
  srv.set_upgrade_handler(server::make_websocket_upgrade_handler(srv.state()));
  if (Status s = srv.start(); !s) return fail(s.message());
  std::fprintf(stderr, "cove: listening on http://%s:%u\n",
               o.host.find(':') != std::string::npos ? ("[" + o.host + "]").c_str()
                                                     : o.host.c_str(),
               static_cast<unsigned>(srv.port()));
  std::fflush(stderr);

  Result<LoadedModel> loaded = load_model(o.model_path);
  if (!loaded) {
    srv.shutdown();
    return fail(loaded.message());
  }
  model::TransformerOptions topts;
  topts.n_ctx = o.n_ctx;
  topts.n_seq = o.parallel;
  topts.n_threads = o.n_threads;
  auto transformer = std::make_unique<model::Transformer>(*loaded->model, topts);

  runtime::SchedulerOptions sopts;
  sopts.max_queue = o.max_queue;
  sopts.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  std::unique_ptr<server::Engine> engine =
      server::make_scheduler_engine(*transformer, *loaded->tokenizer, sopts);

  auto service = std::make_shared<server::ModelService>();
  server::ModelContext& context = service->context;
  context.id = std::filesystem::path(o.model_path).stem().string();
  Result<std::optional<std::string>> general_name =
      loaded->model->file().get_string("general.name");
  if (general_name && general_name->has_value() && **general_name != context.id) {
    context.aliases.push_back(**general_name);
  }
  context.tokenizer = loaded->tokenizer.get();
  context.n_ctx = transformer->n_ctx();
  load_chat_template(*loaded->model, *loaded->tokenizer, context);
  service->engine = engine.get();
  service->description = server::describe_model(loaded->model->file(), o.model_path);
  service->created = static_cast<int64_t>(std::time(nullptr));
  srv.set_model(service);
  std::fprintf(stderr, "cove: serving %s (%lld sequences of %lld positions, %s chat template)\n",
               context.id.c_str(), static_cast<long long>(o.parallel),
               static_cast<long long>(context.n_ctx),
               context.chatml_fallback ? "ChatML fallback" : "the model's");
  std::fflush(stderr);

  srv.run_until_signal();
  std::fprintf(stderr, "cove: stopped\n");
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  sub->add_option("-m,--model", o->model_path, "GGUF model file")->required();
  sub->add_option("--host", o->host, "Address to listen on (default 127.0.0.1)");
  sub->add_option("--port", o->port, "Port (0: any free port, printed on stderr)");
  sub->add_option("--parallel", o->parallel, "Sequences served at once (default 4)");
  sub->add_option("-c,--ctx", o->n_ctx,
                  "Context size per sequence (default: the model's, max 4096)");
  sub->add_option("-t,--threads", o->n_threads, "Threads (default: physical cores)");
  sub->add_option("--api-key", o->api_key,
                  "Require 'Authorization: Bearer KEY' (needed to bind a non-loopback address)");
  sub->add_option("--max-queue", o->max_queue,
                  "Requests waiting beyond the running ones; more get 429 (default 64)");
  sub->add_option("--timeout-s", o->timeout_s, "Per-request time limit in seconds (0: none)");
  sub->add_option("--max-body", o->max_body, "Largest request body in bytes (default 10 MB)");
  sub->add_option("--drain-s", o->drain_s,
                  "At SIGTERM/SIGINT, seconds in-flight requests get to finish (default 10)");
  return [o]() { return serve(*o); };
}

}  // namespace cove::cli
