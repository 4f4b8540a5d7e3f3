// What API handlers see of HTTP: a parsed request and a Responder to answer it, from any thread,
// whole or streamed (SSE / NDJSON). The socket side lives in http_server.h; handlers never
// touch Beast or Asio, so API files (openai_api.cpp, and later ollama_api.cpp) stay about APIs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cove::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent, query included
  std::string path;    // the target without its query
  HeaderList headers;  // names as sent
  std::string body;

  // The first header of that name (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

// One request's reply. Thread-safe: every call is forwarded to the connection's own executor,
// so scheduler callbacks may call it directly. Calls after the reply is complete, or after the
// client went away, are ignored.
class Responder {
 public:
  virtual ~Responder() = default;

  // A whole response with Content-Length.
  virtual void send(int status, std::string content_type, std::string body,
                    HeaderList extra_headers = {}) = 0;
  // A streamed 200 response (chunked transfer encoding): begin, any number of writes, end.
  virtual void begin_stream(std::string content_type) = 0;
  virtual void write(std::string data) = 0;
  virtual void end_stream() = 0;

  // `fn` runs once, on the connection's executor, if the client disconnects before the reply
  // is complete (at once if it already has). Handlers cancel their work there.
  virtual void on_disconnect(std::function<void()> fn) = 0;

  // Observers: the status (first send or begin_stream), for metrics.
  void set_status_observer(std::function<void(int status)> fn) { status_observer_ = std::move(fn); }

 protected:
  void report_status(int status) {
    if (status_observer_) {
      auto fn = std::move(status_observer_);
      status_observer_ = nullptr;
      fn(status);
    }
  }

 private:
  std::function<void(int)> status_observer_;
};

using ResponderPtr = std::shared_ptr<Responder>;

// Helpers for handlers.
void send_json(Responder& r, int status, const nlohmann::json& body, HeaderList extra = {});
// Serializes without throwing on invalid UTF-8 (bad bytes become U+FFFD).
std::string dump_json(const nlohmann::json& j);
// One Server-Sent Event carrying `data` ("data: ...\n\n").
std::string sse_event(std::string_view data);

}  // namespace cove::server
