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
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "core/result.h"
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

// State every API's handlers share.
class ServerState {
 public:
  Metrics metrics;

  // Null while the model is loading.
  std::shared_ptr<const ModelService> model() const;
  void set_model(std::shared_ptr<const ModelService> model);
  bool shutting_down() const { return shutting_down_.load(); }
  void set_shutting_down() { shutting_down_.store(true); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ModelService> model_;
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
