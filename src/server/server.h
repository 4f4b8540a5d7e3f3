// `cove serve`: the HTTP server that ties the transport (http_server.h), the routes of each API
// (openai_api.h, ...), metrics and the loaded model together, and shuts down gracefully.
//
//   Server server(options);
//   register_openai_routes(server.router(), server.state());
//   server.start();                    // listening; /health says "loading"
//   server.set_model(service);         // /health says "ok"; generation routes answer
//   server.run_until_signal();         // SIGINT/SIGTERM: stop accepting, drain, exit
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "core/result.h"
#include "server/api_error.h"
#include "server/engine.h"
#include "server/generation.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/router.h"

namespace cove::server {

struct ModelDescription;  // ollama_request.h

// A loaded model as the handlers see it.
struct ModelService {
  ModelContext context;
  Engine* engine = nullptr;  // owned by whoever loaded the model; outlives the server's threads
  int64_t created = 0;       // unix time of loading
  // The file's facts for APIs that describe models (Ollama's /api/tags, /api/show); may be null.
  std::shared_ptr<const ModelDescription> description;
};

class ConversationService;  // conversation_service.h

// State every API's handlers share.
class ServerState {
 public:
  Metrics metrics;

  // The default model (the one requests without a `model` get); null while loading.
  std::shared_ptr<const ModelService> model() const;
  // Every loaded model, the default first; empty while loading.
  std::vector<std::shared_ptr<const ModelService>> models() const;
  // The model that answers to `name` (its id or an alias; "" is the default), else null.
  std::shared_ptr<const ModelService> find_model(const std::string& name) const;
  // The model for a request naming `name`: the one that answers to it, else the default (whose
  // own name check then produces the "model does not exist" error). Null while loading.
  std::shared_ptr<const ModelService> model_for(const std::string& name) const;
  // One model.
  void set_model(std::shared_ptr<const ModelService> model);
  // Several; the first is the default.
  void set_models(std::vector<std::shared_ptr<const ModelService>> models);
  // Stored conversations (config mode); null when the server has no store. Set before start().
  ConversationService* conversations() const { return conversations_; }
  void set_conversations(ConversationService* service) { conversations_ = service; }
  bool shutting_down() const { return shutting_down_.load(); }
  void set_shutting_down() { shutting_down_.store(true); }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const ModelService>> models_;
  ConversationService* conversations_ = nullptr;
  std::atomic<bool> shutting_down_{false};
};

struct ServerOptions {
  HttpServerOptions http;
  std::string api_key;  // "" : none; then only loopback addresses may be bound
  std::chrono::milliseconds drain_timeout{10000};  // in-flight requests get this long at exit
  int io_threads = 2;
};

// Binding a non-loopback address without an API key is refused (anyone on the network could use
// the model); the error says so and how to fix it.
Status check_bind_policy(const ServerOptions& options);

// The 404 for a request naming a model no loaded model answers to (listing the served ones), or
// nullopt when `name` is "" or served.
std::optional<ApiError> unknown_model_error(const ServerState& state, const std::string& name);

// GET /health and GET /metrics.
void register_core_routes(Router& router, ServerState& state);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Router& router() { return router_; }
  // Connections asking for a protocol upgrade (WebSocket) go here, after the API key check;
  // unauthorized ones are answered as normal requests (401). Before start().
  void set_upgrade_handler(UpgradeHandler handler) { upgrade_ = std::move(handler); }
  ServerState& state() { return state_; }

  // Checks the bind policy, listens, starts the I/O threads. Register routes first.
  Status start();
  uint16_t port() const { return http_ ? http_->port() : 0; }
  void set_model(std::shared_ptr<const ModelService> model) { state_.set_model(std::move(model)); }
  void set_models(std::vector<std::shared_ptr<const ModelService>> models) {
    state_.set_models(std::move(models));
  }

  // Blocks until SIGINT or SIGTERM (or request_shutdown), then shutdown().
  void run_until_signal();
  // Wakes run_until_signal from any thread.
  void request_shutdown();
  // Stops accepting, lets in-flight requests finish until drain_timeout and then cancels them,
  // flushes their last bytes, stops the I/O threads. Idempotent.
  void shutdown();

 private:
  void dispatch(HttpRequest&& request, ResponderPtr responder);
  bool authorized(const HttpRequest& request) const;

  ServerOptions options_;
  boost::asio::io_context io_;
  Router router_;
  ServerState state_;
  std::unique_ptr<HttpServer> http_;
  UpgradeHandler upgrade_;
  std::unique_ptr<boost::asio::signal_set> signals_;  // from start() on, so no signal kills us
  std::vector<std::thread> threads_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stop_requested_ = false;
  bool stopped_ = false;
};

}  // namespace cove::server
