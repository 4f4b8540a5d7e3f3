// cove serve: the OpenAI-compatible HTTP server (src/server/).
//
// Two modes:
//   cove serve -m MODEL.gguf     one model, stateless routes only (OpenAI, Ollama, WebSocket);
//   cove serve --config FILE     every local model of the config (a request's `model` picks one;
//                                the default is routes.default or the first), plus stored
//                                conversations through the assistant loop (conversation_api.h):
//                                the store and memory at storage.database, the configured tools,
//                                plugins and MCP servers. With neither -m nor --config,
//                                COVE_HOME/config.yaml is used when it exists.
// server.host / server.port / server.api_key_env come from the config; --host, --port and
// --api-key override them.
//
// It listens first (GET /health answers "loading"), then loads the model(s), builds the
// continuous-batching scheduler over --parallel sequences of --ctx positions for each, and
// serves until SIGINT/SIGTERM, when it stops accepting, lets requests in flight finish for a
// while, cancels the rest and exits 0.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "assistant/assistant.h"
#include "assistant/config.h"
#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "cli/serve_assistant.h"
#include "model/transformer.h"
#include "server/assistant_backend.h"
#include "server/conversation_api.h"
#include "server/conversation_service.h"
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
  std::string config_path;
  bool host_given = false;  // set from the command line (overrides the config)
  bool port_given = false;
  bool api_key_given = false;
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

void print_listening(const std::string& host, uint16_t port) {
  std::fprintf(stderr, "cove: listening on http://%s:%u\n",
               host.find(':') != std::string::npos ? ("[" + host + "]").c_str() : host.c_str(),
               static_cast<unsigned>(port));
  std::fflush(stderr);
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
  print_listening(o.host, srv.port());

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
  server::load_chat_template(*loaded->model, *loaded->tokenizer, context);
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


// The models the assistant may resolve, filled as they finish loading. Cleared before the
// server goes away: the backends own the engines, whose last callbacks post to its threads.
class ModelTable {
 public:
  void add(const std::string& name, std::shared_ptr<assistant::ModelBackend> backend) {
    std::lock_guard lock(mutex_);
    backends_[name] = std::move(backend);
  }
  Result<std::shared_ptr<assistant::ModelBackend>> find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = backends_.find(name);
    if (it != backends_.end()) return it->second;
    return Error("model '" + name + "' is not served by this server (only local models are)",
                 "no_model_available");
  }
  void clear() {
    std::lock_guard lock(mutex_);
    backends_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<assistant::ModelBackend>> backends_;
};

int serve_config(const ServeOptions& o, const std::string& config_path) {
  Result<assistant::Config> loaded_config = assistant::load_config(config_path);
  if (!loaded_config) return fail(loaded_config.message());
  const assistant::Config& config = *loaded_config;
  if (o.parallel < 1) return fail("--parallel must be at least 1");

  server::ServerOptions options;
  options.http.host = o.host_given ? o.host : config.server.host;
  const int port = o.port_given ? o.port : config.server.port;
  if (port < 0 || port > 65535) return fail("--port must be between 0 and 65535");
  options.http.port = static_cast<uint16_t>(port);
  options.http.max_body_bytes = o.max_body;
  options.api_key = o.api_key;
  if (!o.api_key_given && !config.server.api_key_env.empty()) {
    const char* key = std::getenv(config.server.api_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      return fail(config.file + ": server.api_key_env: the environment variable " +
                  config.server.api_key_env + " is not set");
    }
    options.api_key = key;
  }
  options.drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.drain_s * 1000));
  if (Status s = server::check_bind_policy(options); !s) return fail(s.message());

  // The default model first: routes.default, else the first local model.
  std::vector<const assistant::ModelConfig*> locals;
  for (const assistant::ModelConfig& m : config.models) {
    if (m.kind != assistant::ModelConfig::Kind::kLocal) {
      std::fprintf(stderr, "cove: model '%s' is remote; cove serve serves local models only\n",
                   m.name.c_str());
      continue;
    }
    if (m.name == config.routes.default_model) {
      locals.insert(locals.begin(), &m);
    } else {
      locals.push_back(&m);
    }
  }
  if (locals.empty()) return fail(config.file + ": no local model to serve (models: ...path:)");

  Result<std::unique_ptr<AssistantRuntime>> runtime =
      build_assistant_runtime(config, [](const std::string& line) {
        std::fprintf(stderr, "cove: %s\n", line.c_str());
        std::fflush(stderr);
      });
  if (!runtime) return fail(runtime.message());
  AssistantRuntime& rt = **runtime;

  ModelTable table;
  assistant::AssistantParts parts;
  parts.config = &config;
  parts.store = rt.store.get();
  parts.memory = rt.memory.get();
  parts.tools = rt.tools.get();
  parts.plugins = rt.plugins.get();
  parts.models = [&table](const std::string& name) { return table.find(name); };
  assistant::Assistant assistant(std::move(parts));
  server::ConversationServiceOptions service_options;
  service_options.workers = static_cast<int>(
      std::max<int64_t>(4, o.parallel * static_cast<int64_t>(locals.size())));
  service_options.max_queue = static_cast<int>(o.max_queue);
  server::ConversationService conversations(assistant, *rt.store, &config, service_options);

  // The server outlives the models (declared below, released first): the engines' last
  // callbacks post to the server's threads.
  server::Server srv(options);
  register_core_routes(srv.router(), srv.state());
  register_openai_routes(srv.router(), srv.state());
  register_ollama_routes(srv.router(), srv.state());
  register_websocket_routes(srv.router(), srv.state());
  register_conversation_routes(srv.router(), srv.state());
  srv.set_upgrade_handler(server::make_websocket_upgrade_handler(srv.state()));
  srv.state().set_conversations(&conversations);
  if (Status s = srv.start(); !s) return fail(s.message());
  print_listening(options.http.host, srv.port());

  struct ReleaseModels {  // on every way out, before the server is destroyed
    ModelTable& table;
    std::vector<std::shared_ptr<server::LocalModel>> models;
    ~ReleaseModels() {
      table.clear();
      models.clear();
    }
  } release{table, {}};
  std::vector<std::shared_ptr<const server::ModelService>> services;
  for (const assistant::ModelConfig* m : locals) {
    server::LocalModelOptions lo;
    lo.path = m->path;
    lo.id = m->name;
    lo.n_ctx = o.n_ctx > 0 ? o.n_ctx : m->context;
    lo.n_seq = o.parallel;
    lo.n_threads = o.n_threads;
    lo.scheduler.max_queue = o.max_queue;
    lo.scheduler.request_timeout =
        std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
    Result<std::unique_ptr<server::LocalModel>> local = server::load_local_model(lo);
    if (!local) {
      srv.shutdown();
      return fail("model '" + m->name + "': " + local.message());
    }
    std::shared_ptr<server::LocalModel> model(std::move(*local));
    auto service = std::make_shared<server::ModelService>();
    service->context = model->context;
    const std::string stem = std::filesystem::path(m->path).stem().string();
    if (stem != m->name) service->context.aliases.push_back(stem);
    service->engine = model->engine.get();
    service->description = server::describe_model(model->model->file(), m->path);
    service->created = static_cast<int64_t>(std::time(nullptr));
    services.push_back(service);
    table.add(m->name, server::make_local_backend(m->name, model));
    release.models.push_back(std::move(model));
    std::fprintf(stderr, "cove: serving %s (%lld sequences of %lld positions, %s chat template)\n",
                 m->name.c_str(), static_cast<long long>(o.parallel),
                 static_cast<long long>(service->context.n_ctx),
                 service->context.chatml_fallback ? "ChatML fallback" : "the model's");
    std::fflush(stderr);
  }
  srv.set_models(std::move(services));
  std::fprintf(stderr, "cove: conversations in %s (%zu tools)\n", config.storage.database.c_str(),
               rt.tools->specs().size());
  std::fflush(stderr);

  srv.run_until_signal();
  std::fprintf(stderr, "cove: stopped\n");
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  CLI::Option* model = sub->add_option("-m,--model", o->model_path, "GGUF model file");
  sub->add_option("--config", o->config_path,
                  "Serve the models, tools and stored conversations of a config file "
                  "(default without -m: COVE_HOME/config.yaml if it exists)")
      ->excludes(model);
  CLI::Option* host =
      sub->add_option("--host", o->host, "Address to listen on (default 127.0.0.1)");
  CLI::Option* port =
      sub->add_option("--port", o->port, "Port (0: any free port, printed on stderr)");
  sub->add_option("--parallel", o->parallel, "Sequences served at once (default 4)");
  sub->add_option("-c,--ctx", o->n_ctx,
                  "Context size per sequence (default: the model's, max 4096)");
  sub->add_option("-t,--threads", o->n_threads, "Threads (default: physical cores)");
  CLI::Option* api_key = sub->add_option(
      "--api-key", o->api_key,
      "Require 'Authorization: Bearer KEY' (needed to bind a non-loopback address)");
  sub->add_option("--max-queue", o->max_queue,
                  "Requests waiting beyond the running ones; more get 429 (default 64)");
  sub->add_option("--timeout-s", o->timeout_s, "Per-request time limit in seconds (0: none)");
  sub->add_option("--max-body", o->max_body, "Largest request body in bytes (default 10 MB)");
  sub->add_option("--drain-s", o->drain_s,
                  "At SIGTERM/SIGINT, seconds in-flight requests get to finish (default 10)");
  return [o, host, port, api_key]() {
    o->host_given = host->count() > 0;
    o->port_given = port->count() > 0;
    o->api_key_given = api_key->count() > 0;
    if (!o->model_path.empty()) return serve(*o);
    std::string config = o->config_path;
    if (config.empty()) {
      std::error_code ec;
      const std::string fallback = assistant::default_config_path();
      if (!std::filesystem::exists(fallback, ec)) {
        return fail("--model is required (or --config FILE, or a config at " + fallback + ")");
      }
      config = fallback;
    }
    return serve_config(*o, config);
  };
}

}  // namespace cove::cli
