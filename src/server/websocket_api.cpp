// The WebSocket API (websocket_api.h) on Boost.Beast over a connection the HTTP server hands
// over at the upgrade.
//
// Everything a session owns (its jobs, its outgoing queue) lives on the connection's strand;
// the engine's callbacks, which run on the engine's thread, only post to that strand.
#include "server/websocket_api.h"

#include <deque>
#include <unordered_map>

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "server/openai_request.h"

namespace cove::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr const char* kPath = "/v1/ws";
constexpr size_t kMaxMessageBytes = 10u << 20;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

const char* end_name(runtime::RequestEnd end) {
  switch (end) {
    case runtime::RequestEnd::kStop: return "stop";
    case runtime::RequestEnd::kLength: return "length";
    case runtime::RequestEnd::kCancelled: return "cancelled";
    case runtime::RequestEnd::kTimeout: return "timeout";
    case runtime::RequestEnd::kError: return "error";
  }
  return "error";
}

json error_event(const json& id, const std::string& message, const std::string& type,
                 const std::string& code) {
  return json{{"type", "error"},
              {"id", id},
              {"error", {{"message", message}, {"type", type}, {"code", code}}}};
}

json error_event(const json& id, const ApiError& e) {
  return error_event(id, e.message, e.type, e.code.empty() ? "invalid_request" : e.code);
}

// One chat request running on a socket.
struct WsJob {
  std::string id;
  std::shared_ptr<const ModelService> model;
  PromptPlan plan;
  ordered_json tools;
  std::optional<runtime::RequestId> engine_id;  // strand only
  std::atomic<bool> stop{false};                 // the engine should stop producing tokens
  Clock::time_point submitted;
  bool seen_token = false;     // engine thread only
  Clock::time_point last_token;
};

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket socket, ServerState& state) : ws_(std::move(socket)), state_(state) {}

  void start(http::request<http::string_body> request) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "cove"); }));
    ws_.read_message_max(kMaxMessageBytes);
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->closed();
      self->state_.metrics.count_request("websocket", 101);
      self->read();
    });
  }

 private:
  // --- reading ---------------------------------------------------------------------------

  void read() {
    buffer_.clear();
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    // Any failure ends the session; a message over kMaxMessageBytes has Beast close the socket
    // with status 1009 (message too big) first.
    if (ec) return closed();
    if (!ws_.got_text()) {
      send(error_event(nullptr, "binary messages are not accepted; send JSON text",
                       "invalid_request_error", "invalid_message"));
    } else {
      handle(beast::buffers_to_string(buffer_.data()));
    }
    read();
  }

  void handle(const std::string& text) {
    ordered_json message = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded()) {
      return send(error_event(nullptr, "the message is not valid JSON", "invalid_request_error",
                              "invalid_json"));
    }
    if (!message.is_object()) {
      return send(error_event(nullptr, "the message must be a JSON object",
                              "invalid_request_error", "invalid_message"));
    }
    json id = nullptr;
    auto id_it = message.find("id");
    if (id_it != message.end() && (id_it->is_string() || id_it->is_number())) {
      id = json::parse(id_it->dump());
    }
    auto type_it = message.find("type");
    if (type_it == message.end() || !type_it->is_string()) {
      return send(error_event(id, "the message needs a string \"type\" (chat or cancel)",
                              "invalid_request_error", "invalid_message"));
    }
    const std::string type = type_it->get<std::string>();
    if (type != "chat" && type != "cancel") {
      return send(error_event(id, "unknown message type \"" + type + "\" (chat or cancel)",
                              "invalid_request_error", "unknown_type"));
    }
    if (id_it == message.end() || !id_it->is_string() || id_it->get<std::string>().empty() ||
        id_it->get<std::string>().size() > 256) {
      return send(error_event(id, "\"" + type + "\" needs an \"id\": a non-empty string of at "
                                  "most 256 characters", "invalid_request_error", "invalid_id"));
    }
    const std::string key = id_it->get<std::string>();
    if (type == "cancel") return cancel(key);
    message.erase("type");
    message.erase("id");
    start_chat(key, message);
  }

  void start_chat(const std::string& id, const ordered_json& body) {
    if (jobs_.count(id) != 0) {
      return send(error_event(id, "a request with id \"" + id + "\" is still running",
                              "invalid_request_error", "duplicate_id"));
    }
    ApiResult<OpenAiRequest> parsed = parse_chat_request(body.dump());
    if (!parsed) return send(error_event(id, parsed.error()));
    if (parsed->conversation_id) {
      return send(error_event(id, invalid_request("conversation_id is not supported over /v1/ws; "
                                                  "use POST /v1/chat/completions",
                                                  "conversation_id")));
    }
    std::shared_ptr<const ModelService> model = state_.model_for(parsed->input.model);
    if (!model || state_.shutting_down()) {
      return send(error_event(id, model ? "the server is shutting down" : "the model is loading",
                              "server_error", model ? "shutting_down" : "loading"));
    }
    if (auto unknown = unknown_model_error(state_, parsed->input.model)) {
      return send(error_event(id, *unknown));
    }
    ApiResult<PreparedGeneration> prepared = prepare_generation(parsed->input, model->context);
    if (!prepared) return send(error_event(id, prepared.error()));

    auto job = std::make_shared<WsJob>();
    job->id = id;
    job->model = model;
    job->plan = prepared->plan;
    job->tools = parsed->input.tools;
    job->submitted = Clock::now();

    runtime::RequestCallbacks callbacks;
    callbacks.on_token = [this, self = shared_from_this(), job](
                             const runtime::GeneratedToken&, std::string_view text) {
      note_token(*job);
      if (job->stop.load()) return false;
      if (text.empty() || job->plan.tool_call_forced) return true;
      net::post(ws_.get_executor(), [self, job, text = std::string(text)]() mutable {
        self->send(json{{"type", "token"}, {"id", job->id}, {"text", std::move(text)}});
      });
      return true;
    };
    callbacks.on_done = [self = shared_from_this(), job](const runtime::RequestResult& result) {
      self->state_.metrics.add_prompt_tokens(result.prompt_tokens - result.cached_tokens);
      self->state_.metrics.add_cached_prompt_tokens(result.cached_tokens);
      self->state_.metrics.request_ended(end_name(result.end));
      net::post(self->ws_.get_executor(),
                [self, job, result]() { self->finished(*job, result); });
    };
    Result<runtime::RequestId> engine_id =
        model->engine->submit(std::move(prepared->request), std::move(callbacks));
    if (!engine_id) {
      if (engine_id.code() == runtime::kQueueFull) {
        return send(error_event(id, "The server is busy: the request queue is full. Retry "
                                    "shortly.", "rate_limit_error", "queue_full"));
      }
      return send(error_event(id, invalid_request(engine_id.message(), "messages")));
    }
    job->engine_id = *engine_id;
    jobs_[id] = job;
  }

  void note_token(WsJob& job) {
    const Clock::time_point now = Clock::now();
    state_.metrics.add_generated_token(now);
    if (!job.seen_token) {
      state_.metrics.observe_time_to_first_token(
          std::chrono::duration<double>(now - job.submitted).count());
      job.seen_token = true;
    } else {
      state_.metrics.observe_inter_token_latency(
          std::chrono::duration<double>(now - job.last_token).count());
    }
    job.last_token = now;
  }

  void cancel(const std::string& id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      return send(error_event(id, "no running request has id \"" + id + "\"",
                              "invalid_request_error", "unknown_id"));
    }
    it->second->stop.store(true);
    it->second->model->engine->cancel(*it->second->engine_id);  // "done" follows from on_done
  }

  void finished(WsJob& job, const runtime::RequestResult& result) {
    jobs_.erase(job.id);
    if (result.end == runtime::RequestEnd::kTimeout) {
      return send(error_event(job.id, "The request did not finish within the server's time "
                                      "limit", "timeout_error", "timeout"));
    }
    if (result.end == runtime::RequestEnd::kError) {
      return send(error_event(job.id, "generation failed: " + result.error, "server_error",
                              "generation_failed"));
    }
    json done = {{"type", "done"}, {"id", job.id}, {"finish_reason", end_name(result.end)}};
    if (result.end == runtime::RequestEnd::kStop &&
        (job.plan.tool_call_forced || job.plan.detect_tool_calls)) {
      if (auto calls = parse_tool_calls(result.text, job.tools)) {
        json list = json::array();
        for (const ToolCall& call : *calls) {
          list.push_back({{"type", "function"},
                          {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
        }
        done["finish_reason"] = "tool_calls";
        done["tool_calls"] = std::move(list);
      } else if (job.plan.tool_call_forced) {
        done["text"] = result.text;  // no token events were sent
      }
    }
    done["usage"] = {{"prompt_tokens", result.prompt_tokens},
                     {"completion_tokens", result.completion_tokens},
                     {"total_tokens", result.prompt_tokens + result.completion_tokens}};
    send(done);
  }

  // --- writing ---------------------------------------------------------------------------

  void send(const json& event) {
    if (closed_) return;
    outbox_.push_back(dump_json(event));
    write_next();
  }

  void write_next() {
    if (writing_ || outbox_.empty() || closed_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(outbox_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (ec) return self->closed();
                      self->outbox_.pop_front();
                      self->write_next();
                    });
  }

  // The client went away (or the socket failed): cancel everything it started.
  void closed() {
    if (closed_) return;
    closed_ = true;
    outbox_.clear();
    for (auto& [id, job] : jobs_) {
      job->stop.store(true);
      job->model->engine->cancel(*job->engine_id);
    }
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  websocket::stream<beast::tcp_stream> ws_;
  ServerState& state_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closed_ = false;
  std::unordered_map<std::string, std::shared_ptr<WsJob>> jobs_;
};

}  // namespace

void register_websocket_routes(Router& router, ServerState& state) {
  (void)state;
  router.add(Route{"GET", kPath, "websocket", [](const HttpRequest&, ResponderPtr r) {
                     ApiError e{426,
                                std::string(kPath) + " speaks WebSocket: connect with "
                                "'Connection: Upgrade' and 'Upgrade: websocket'",
                                "invalid_request_error", "", "upgrade_required"};
                     send_json(*r, 426, error_json(e), {{"Upgrade", "websocket"}});
                   }});
}

UpgradeHandler make_websocket_upgrade_handler(ServerState& state) {
  return [&state](tcp::socket& socket, const HttpRequest& request) {
    if (request.path != kPath || !iequals(request.header("Upgrade"), "websocket")) return false;
    http::request<http::string_body> req{http::verb::get, request.target, 11};
    for (const auto& [name, value] : request.headers) req.insert(name, value);
    if (!websocket::is_upgrade(req)) return false;
    std::make_shared<WsSession>(std::move(socket), state)->start(std::move(req));
    return true;
  };
}

}  // namespace cove::server
