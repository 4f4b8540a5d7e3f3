// The server: dispatch (routing, auth, metrics), health and metrics routes, graceful shutdown.
#include "server/server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>

#include "server/api_error.h"
#include "server/conversation_service.h"

namespace cove::server {

std::shared_ptr<const ModelService> ServerState::model() const {
  std::lock_guard lock(mutex_);
  return models_.empty() ? nullptr : models_.front();
}

std::vector<std::shared_ptr<const ModelService>> ServerState::models() const {
  std::lock_guard lock(mutex_);
  return models_;
}

std::shared_ptr<const ModelService> ServerState::find_model(const std::string& name) const {
  std::lock_guard lock(mutex_);
  if (models_.empty()) return nullptr;
  if (name.empty()) return models_.front();
  // Exact ids first, so an alias of one model never shadows another model's id.
  for (const auto& m : models_) {
    if (m->context.id == name) return m;
  }
  for (const auto& m : models_) {
    if (m->context.answers_to(name)) return m;
  }
  return nullptr;
}

std::shared_ptr<const ModelService> ServerState::model_for(const std::string& name) const {
  if (auto m = find_model(name)) return m;
  return model();
}

void ServerState::set_model(std::shared_ptr<const ModelService> model) {
  std::lock_guard lock(mutex_);
  models_.clear();
  if (model) models_.push_back(std::move(model));
}

void ServerState::set_models(std::vector<std::shared_ptr<const ModelService>> models) {
  std::lock_guard lock(mutex_);
  models_ = std::move(models);
}

namespace {

// The schedulers' numbers summed over every loaded model (one model: its own).
std::optional<runtime::SchedulerStats> summed_stats(const ServerState& state) {
  std::vector<std::shared_ptr<const ModelService>> models = state.models();
  if (models.empty()) return std::nullopt;
  runtime::SchedulerStats sum;
  for (const auto& m : models) {
    const runtime::SchedulerStats s = m->engine->stats();
    sum.running += s.running;
    sum.queued += s.queued;
    sum.slots += s.slots;
    sum.kv_cells_used += s.kv_cells_used;
    sum.kv_cells_total += s.kv_cells_total;
    sum.prompt_tokens_total += s.prompt_tokens_total;
    sum.generated_tokens_total += s.generated_tokens_total;
    sum.steps_total += s.steps_total;
  }
  return sum;
}

}  // namespace

Status check_bind_policy(const ServerOptions& options) {
  boost::system::error_code ec;
  const boost::asio::ip::address address =
      boost::asio::ip::make_address(options.http.host, ec);
  if (ec) return Error{"--host '" + options.http.host + "' is not an IP address", ""};
  if (!address.is_loopback() && options.api_key.empty()) {
    return Error{"refusing to listen on " + options.http.host +
                 " without --api-key: that address is reachable from other machines, and "
                 "anyone who can reach it could use the model. Pass --api-key KEY (clients "
                 "then send 'Authorization: Bearer KEY'), or bind 127.0.0.1", ""};
  }
  return Status::ok();
}

std::optional<ApiError> unknown_model_error(const ServerState& state, const std::string& name) {
  if (name.empty() || state.find_model(name)) return std::nullopt;
  std::string served;
  for (const auto& m : state.models()) {
    served += (served.empty() ? "'" : ", '") + m->context.id + "'";
  }
  return not_found("The model '" + name + "' does not exist; this server serves " +
                       (served.empty() ? "no model yet" : served),
                   "model", "model_not_found");
}

void register_core_routes(Router& router, ServerState& state) {
  router.add(Route{"GET", "/health", "health",
                   [&state](const HttpRequest&, ResponderPtr r) {
                     if (state.model()) {
                       send_json(*r, 200, {{"status", "ok"}});
                     } else {
                       send_json(*r, 503, {{"status", "loading"}});
                     }
                   },
                   /*needs_auth=*/false});
  router.add(Route{"GET", "/metrics", "metrics", [&state](const HttpRequest&, ResponderPtr r) {
                     r->send(200, "text/plain; version=0.0.4; charset=utf-8",
                             state.metrics.render(summed_stats(state),
                                                  std::chrono::steady_clock::now()));
                   }});
}

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() { shutdown(); }

bool Server::authorized(const HttpRequest& request) const {
  if (options_.api_key.empty()) return true;
  const std::string auth = request.header("Authorization");
  const std::string expected = "Bearer " + options_.api_key;
  if (auth.size() != expected.size()) return false;
  unsigned char diff = 0;  // constant time: no early exit on the first wrong byte
  for (size_t i = 0; i < auth.size(); ++i) {
    diff |= static_cast<unsigned char>(auth[i] ^ expected[i]);
  }
  return diff == 0;
}

void Server::dispatch(HttpRequest&& request, ResponderPtr responder) {
  Router::Match match;
  const Route* route = router_.find(request.method, request.path, match);
  const std::string label = route ? route->name : "other";
  responder->set_status_observer(
      [this, label](int status) { state_.metrics.count_request(label, status); });
  if (route == nullptr) {
    ApiError e = not_found("No route for " + request.method + " " + request.path);
    if (match == Router::Match::kWrongMethod) {
      e.status = 405;
      e.message = "Method " + request.method + " is not allowed on " + request.path;
    }
    send_json(*responder, e.status, error_json(e));
    return;
  }
  if (route->needs_auth && !authorized(request)) {
    ApiError e{401,
               request.header("Authorization").empty()
                   ? "Missing API key: send 'Authorization: Bearer KEY'"
                   : "Incorrect API key provided",
               "invalid_request_error", "", "invalid_api_key"};
    send_json(*responder, 401, error_json(e), {{"WWW-Authenticate", "Bearer"}});
    return;
  }
  try {
    route->handler(request, responder);
  } catch (const std::exception& e) {
    send_json(*responder, 500, error_json(server_error(std::string("internal error: ") +
                                                       e.what())));
  }
}

Status Server::start() {
  if (Status s = check_bind_policy(options_); !s) return s;
  http_ = std::make_unique<HttpServer>(
      io_, options_.http,
      [this](HttpRequest&& request, ResponderPtr responder) {
        dispatch(std::move(request), std::move(responder));
      });
  if (upgrade_) {
    http_->set_upgrade_handler(
        [this](boost::asio::ip::tcp::socket& socket, const HttpRequest& request) {
          return authorized(request) && upgrade_(socket, request);
        });
  }
  if (Status s = http_->listen(); !s) return s;
  signals_ = std::make_unique<boost::asio::signal_set>(io_, SIGINT, SIGTERM);
  signals_->async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) request_shutdown();
  });
  const int n = std::max(1, options_.io_threads);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  return Status::ok();
}

void Server::request_shutdown() {
  std::lock_guard lock(stop_mutex_);
  stop_requested_ = true;
  stop_cv_.notify_all();
}

void Server::run_until_signal() {
  {
    std::unique_lock lock(stop_mutex_);
    stop_cv_.wait(lock, [this] { return stop_requested_; });
  }
  shutdown();
}

void Server::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  state_.set_shutting_down();
  if (http_) http_->stop_accepting();
  const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  ConversationService* conversations = state_.conversations();
  // Turns first, while the engines still run, so they can finish; then the engines, which
  // releases any turn still waiting on a model step.
  if (conversations) conversations->drain(deadline);
  for (const auto& model : state_.models()) model->engine->drain(deadline);
  if (conversations) conversations->wait_idle();
  // The drained requests' last chunks are still being written; give them a moment.
  const auto flush_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (http_ && http_->replies_in_flight() > 0 &&
         std::chrono::steady_clock::now() < flush_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (signals_) {
    boost::system::error_code ignored;
    signals_->cancel(ignored);
  }
  io_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  signals_.reset();
}

}  // namespace cove::server
