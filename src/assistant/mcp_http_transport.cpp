// MCP Streamable HTTP transport over Boost.Beast (see mcp_http_transport.h).
//
// Each send runs its own io_context on the calling thread: asynchronous operations are used
// only because Beast's timeouts (tcp_stream::expires_at) apply to them, which is how a server
// that never answers turns into a clean "timed out" error.
#include "assistant/mcp_http_transport.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>

#include "assistant/mcp_sse.h"

namespace cove::assistant {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Runs one asynchronous operation to completion on `ioc` and returns its error.
template <class Start>
beast::error_code run_op(asio::io_context& ioc, Start&& start) {
  beast::error_code result = asio::error::would_block;
  start([&](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// Connects to the server with the deadline applied to resolving and connecting.
beast::error_code connect(asio::io_context& ioc, beast::tcp_stream& stream, const HttpUrl& url,
                          McpClock::time_point deadline) {
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints;
  // Name resolution has no stream to carry a deadline, so a timer cancels it.
  asio::steady_timer timer(ioc);
  bool timed_out = false;
  timer.expires_at(deadline);
  timer.async_wait([&](beast::error_code e) {
    if (!e) {
      timed_out = true;
      resolver.cancel();
    }
  });
  beast::error_code ec = run_op(ioc, [&](auto handler) {
    resolver.async_resolve(url.host, url.port,
                           [&, handler](beast::error_code e, tcp::resolver::results_type r) {
                             endpoints = std::move(r);
                             timer.cancel();
                             handler(e);
                           });
  });
  if (timed_out) return beast::error::timeout;
  if (ec) return ec;
  stream.expires_at(deadline);
  return run_op(ioc, [&](auto handler) {
    stream.async_connect(endpoints, [handler](beast::error_code e, const tcp::endpoint&) {
      handler(e);
    });
  });
}

std::string describe_error(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

}  // namespace

Result<HttpUrl> parse_http_url(const std::string& url) {
  std::string_view rest(url);
  if (rest.substr(0, 8) == "https://") {
    return Error{"MCP server URL '" + url + "': https is not supported yet; use http:// "
                 "(for example through a local TLS-terminating proxy)"};
  }
  if (rest.substr(0, 7) != "http://") {
    return Error{"MCP server URL '" + url + "' must start with http://"};
  }
  rest.remove_prefix(7);
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.target[0] == '?') out.target = "/" + out.target;
  if (authority.find('@') != std::string_view::npos) {
    return Error{"MCP server URL '" + url + "': credentials in the URL are not supported; "
                 "configure an Authorization header instead"};
  }
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{"MCP server URL '" + url + "': bad IPv6 host"};
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] == ':') out.port = std::string(after.substr(1));
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty()) return Error{"MCP server URL '" + url + "' has no host"};
  if (out.port.empty()) out.port = "80";
  if (!std::all_of(out.port.begin(), out.port.end(), ::isdigit) || out.port.size() > 5) {
    return Error{"MCP server URL '" + url + "': port '" + out.port + "' is not a number"};
  }
  return out;
}

McpHttpTransport::McpHttpTransport(McpHttpOptions options) : options_(std::move(options)) {
  Result<HttpUrl> url = parse_http_url(options_.url);
  if (url.is_ok()) {
    url_ = std::move(*url);
  } else {
    url_status_ = url.status();
  }
}

McpHttpTransport::~McpHttpTransport() { close(); }

Status McpHttpTransport::open(McpTransportEvents events) {
  if (!url_status_.is_ok()) return url_status_;
  std::lock_guard lock(mutex_);
  events_ = std::move(events);
  return Status::ok();
}

std::string McpHttpTransport::session_id() const {
  std::lock_guard lock(mutex_);
  return session_id_;
}

void McpHttpTransport::reset_session() {
  std::lock_guard lock(mutex_);
  session_id_.clear();
}

Status McpHttpTransport::send(const Json& message, McpClock::time_point deadline,
                              const McpHeaders& headers) {
  if (!url_status_.is_ok()) return url_status_;
  const std::string where = options_.url;
  McpTransportEvents events;
  {
    std::lock_guard lock(mutex_);
    events = events_;
  }
  const bool is_request = message.contains("id") && message.contains("method");
  const Json request_id = is_request ? message["id"] : Json();
  std::string session = session_id();

  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec = connect(ioc, stream, url_, deadline);
  if (ec) {
    return Error{"cannot reach MCP server at " + where + ": " + describe_error(ec),
                 ec == beast::error::timeout ? "timeout" : "unreachable"};
  }

  http::request<http::string_body> request(http::verb::post, url_.target, 11);
  request.set(http::field::host, url_.port == "80" ? url_.host : url_.host + ":" + url_.port);
  request.set(http::field::user_agent, "cove-mcp-client");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "application/json, text/event-stream");
  if (!session.empty()) request.set("Mcp-Session-Id", session);
  for (const auto& [name, value] : options_.headers) request.set(name, value);
  for (const auto& [name, value] : headers) request.set(name, value);
  request.keep_alive(false);
  request.body() = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  request.prepare_payload();

  stream.expires_at(deadline);
  ec = run_op(ioc, [&](auto handler) { http::async_write(stream, request, handler); });
  if (ec) return Error{"sending to MCP server at " + where + " failed: " + describe_error(ec),
                       ec == beast::error::timeout ? "timeout" : "io"};

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  ec = run_op(ioc, [&](auto handler) { http::async_read_header(stream, buffer, parser, handler); });
  if (ec) {
    return Error{"no reply from MCP server at " + where + ": " + describe_error(ec),
                 ec == beast::error::timeout ? "timeout" : "io"};
  }
  const auto& head = parser.get();
  const unsigned status = head.result_int();
  if (auto it = head.find("Mcp-Session-Id"); it != head.end() && !it->value().empty()) {
    std::lock_guard lock(mutex_);
    if (session_id_.empty()) session_id_ = std::string(it->value());
  }
  std::string content_type;
  if (auto it = head.find(http::field::content_type); it != head.end()) {
    content_type = lower(std::string(it->value()));
  }
  const bool is_sse = content_type.rfind("text/event-stream", 0) == 0;

  // Reads the body in pieces; `on_bytes` returns false to stop early.
  auto read_body = [&](auto&& on_bytes) -> Status {
    char chunk[16384];
    size_t total = 0;
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      stream.expires_at(deadline);
      ec = run_op(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
      if (ec == http::error::need_buffer) ec = {};
      size_t got = sizeof chunk - parser.get().body().size;
      total += got;
      if (total > options_.max_response_bytes) {
        return Error{"reply from MCP server at " + where + " is larger than " +
                     std::to_string(options_.max_response_bytes) + " bytes", "too_large"};
      }
      if (got > 0 && !on_bytes(std::string_view(chunk, got))) return Status::ok();
      if (ec == http::error::end_of_stream || ec == asio::error::eof) break;
      if (ec) {
        return Error{"reading the reply from MCP server at " + where + " failed: " +
                     describe_error(ec), ec == beast::error::timeout ? "timeout" : "io"};
      }
    }
    return Status::ok();
  };

  if (status == 202) return Status::ok();  // a notification (or response) was accepted

  if (is_sse && status / 100 == 2) {
    SseParser sse;
    bool answered = false;
    Status read = read_body([&](std::string_view bytes) {
      for (SseEvent& event : sse.feed(bytes)) {
        if (event.type != "message" || event.data.empty()) continue;
        Result<std::vector<Json>> messages = parse_message_line(event.data);
        if (!messages.is_ok()) {
          if (events.on_protocol_error) {
            events.on_protocol_error("SSE event from " + where + ": " + messages.message());
          }
          continue;
        }
        for (Json& value : *messages) {
          bool ours = is_request && value.is_object() && value.value("id", Json()) == request_id &&
                      !value.contains("method");
          if (events.on_message) events.on_message(std::move(value));
          answered = answered || ours;
        }
      }
      return !answered;  // the response ends our interest in the stream
    });
    if (!read.is_ok() && !answered) return read;
    if (is_request && !answered) {
      return Error{"the SSE stream from MCP server at " + where + " ended without a response",
                   "no_response"};
    }
    return Status::ok();
  }

  std::string body;
  Status read = read_body([&](std::string_view bytes) {
    body.append(bytes);
    return true;
  });
  if (!read.is_ok()) return read;

  if (status / 100 != 2) {
    // A JSON-RPC error body is the server's answer to our request (modern servers send their
    // version and header errors this way): hand it to the client like any response.
    if (content_type.rfind("application/json", 0) == 0) {
      Result<std::vector<Json>> messages = parse_message_line(body);
      if (messages.is_ok() && messages->size() == 1 && (*messages)[0].is_object() &&
          (*messages)[0].contains("error") && is_request) {
        Json value = std::move((*messages)[0]);
        if (value.value("id", Json()).is_null()) value["id"] = request_id;
        if (events.on_message) events.on_message(std::move(value));
        return Status::ok();
      }
    }
    std::string text = "MCP server at " + where + " answered HTTP " + std::to_string(status) +
                       " " + std::string(head.reason());
    if (!body.empty()) text += ": " + excerpt(body);
    if (status == 404 && !session.empty()) {
      return Error{text + " (its session " + session + " has ended)", "session_expired"};
    }
    return Error{text, "http_" + std::to_string(status)};
  }
  if (!is_request) return Status::ok();
  if (content_type.rfind("application/json", 0) != 0) {
    return Error{"MCP server at " + where + " answered with content type '" + content_type +
                 "', expected application/json or text/event-stream", "bad_reply"};
  }
  Result<std::vector<Json>> messages = parse_message_line(body);
  if (!messages.is_ok()) {
    return Error{"MCP server at " + where + " sent " + messages.message(), "bad_reply"};
  }
  for (Json& value : *messages) {
    if (events.on_message) events.on_message(std::move(value));
  }
  return Status::ok();
}

void McpHttpTransport::close() {
  std::string session;
  {
    std::lock_guard lock(mutex_);
    session.swap(session_id_);
  }
  if (session.empty() || !url_status_.is_ok()) return;
  // End the session politely; a server that does not allow DELETE answers 405, which is fine.
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  auto deadline = McpClock::now() + std::chrono::seconds(2);
  if (connect(ioc, stream, url_, deadline)) return;
  http::request<http::empty_body> request(http::verb::delete_, url_.target, 11);
  request.set(http::field::host, url_.port == "80" ? url_.host : url_.host + ":" + url_.port);
  request.set(http::field::user_agent, "cove-mcp-client");
  request.set("Mcp-Session-Id", session);
  for (const auto& [name, value] : options_.headers) request.set(name, value);
  request.keep_alive(false);
  stream.expires_at(deadline);
  if (run_op(ioc, [&](auto handler) { http::async_write(stream, request, handler); })) return;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  (void)run_op(ioc, [&](auto handler) { http::async_read(stream, buffer, response, handler); });
}

}  // namespace cove::assistant
