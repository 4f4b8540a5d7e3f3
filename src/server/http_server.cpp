// Listener and connection sessions on Boost.Beast (http_server.h).
#include "server/http_server.h"

#include <deque>
#include <sstream>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cove::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string serialize(http::response<http::string_body>& res) {
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  return os.str();
}

std::string error_body(const std::string& message, const char* type) {
  nlohmann::json body = {{"error",
                          {{"message", message}, {"type", type}, {"param", nullptr},
                           {"code", nullptr}}}};
  return dump_json(body);
}

class Session;

// What every session of one server shares; outlives the HttpServer if sessions linger.
struct SessionShared {
  HttpServerOptions options;
  Dispatch dispatch;
  UpgradeHandler upgrade;
  std::shared_ptr<std::atomic<int64_t>> in_flight;
};

// The Responder handed to handlers: forwards every call to the session's strand.
class SessionResponder : public Responder, public std::enable_shared_from_this<SessionResponder> {
 public:
  SessionResponder(std::shared_ptr<Session> session, uint64_t request_id)
      : session_(std::move(session)), request_id_(request_id) {}

  void send(int status, std::string content_type, std::string body,
            HeaderList extra_headers) override;
  void begin_stream(std::string content_type) override;
  void write(std::string data) override;
  void end_stream() override;
  void on_disconnect(std::function<void()> fn) override;

  void status(int code) { report_status(code); }

 private:
  std::shared_ptr<Session> session_;
  uint64_t request_id_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const SessionShared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  // --- reply side (called on the strand) ---------------------------------------------------

  void send(uint64_t id, int status, std::string content_type, std::string body,
            HeaderList extra, SessionResponder& responder) {
    if (!current(id) || reply_started_) return;
    responder.status(status);
    http::response<http::string_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::server, "cove");
    res.set(http::field::content_type, content_type);
    for (auto& [name, value] : extra) res.set(name, value);
    res.keep_alive(keep_alive_);
    res.body() = std::move(body);
    reply_started_ = true;
    reply_complete_ = true;
    queue(serialize(res));
  }

  void begin_stream(uint64_t id, std::string content_type, SessionResponder& responder) {
    if (!current(id) || reply_started_) return;
    responder.status(200);
    http::response<http::empty_body> res{http::status::ok, version_};
    res.set(http::field::server, "cove");
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-cache");
    res.keep_alive(keep_alive_);
    res.chunked(true);
    std::ostringstream os;
    os << res.base();
    reply_started_ = true;
    chunked_ = true;
    queue(os.str());
  }

  void write(uint64_t id, std::string data) {
    if (!current(id) || !chunked_ || reply_complete_ || data.empty()) return;
    std::ostringstream size;
    size << std::hex << data.size() << "\r\n";
    queue(size.str() + data + "\r\n");
  }

  void end_stream(uint64_t id) {
    if (!current(id) || !chunked_ || reply_complete_) return;
    reply_complete_ = true;
    queue("0\r\n\r\n");
  }

  void on_disconnect(uint64_t id, std::function<void()> fn) {
    if (id != request_id_ || reply_written_) return;  // that reply is over
    if (gone_) {
      fn();
      return;
    }
    on_disconnect_ = std::move(fn);
  }

 private:
  bool current(uint64_t id) const { return id == request_id_ && !gone_ && in_reply_; }

  // --- request side ------------------------------------------------------------------------

  void read_request() {
    parser_.emplace();
    parser_->body_limit(shared_->options.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(shared_->options.idle_timeout_s));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      reply_error(413, "The request body is larger than the limit of " +
                           std::to_string(shared_->options.max_body_bytes) + " bytes",
                  "invalid_request_error");
      return;
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset) {
      close();
      return;
    }
    if (ec) {
      reply_error(400, std::string("Malformed HTTP request: ") + ec.message(),
                  "invalid_request_error");
      return;
    }
    stream_.expires_never();
    http::request<http::string_body> req = parser_->release();
    parser_.reset();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.path = request.target.substr(0, request.target.find('?'));
    for (const auto& f : req) {
      request.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    request.body = std::move(req.body());
    version_ = req.version();
    keep_alive_ = req.keep_alive();

    if (shared_->upgrade && req.method() == http::verb::get &&
        !request.header("Upgrade").empty() && shared_->upgrade(stream_.socket(), request)) {
      return;  // the socket now belongs to the upgrade handler
    }

    ++request_id_;
    in_reply_ = true;
    reply_started_ = reply_complete_ = chunked_ = reply_written_ = false;
    shared_->in_flight->fetch_add(1);
    watch_for_hangup();
    auto responder = std::make_shared<SessionResponder>(shared_from_this(), request_id_);
    shared_->dispatch(std::move(request), responder);
  }

  // An error reply produced by the transport itself; the connection closes after it.
  void reply_error(int status, const std::string& message, const char* type) {
    ++request_id_;
    in_reply_ = true;
    shared_->in_flight->fetch_add(1);
    keep_alive_ = false;
    linger_ = true;
    reply_written_ = false;
    reply_started_ = reply_complete_ = true;
    chunked_ = false;
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "cove");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = error_body(message, type);
    queue(serialize(res));
  }

  // Waits until the socket is readable while a reply is pending: either the client closed (a
  // zero-byte peek) or it pipelined the next request (then stop watching).
  void watch_for_hangup() {
    const uint64_t id = request_id_;
    stream_.socket().async_wait(
        tcp::socket::wait_read, net::bind_executor(stream_.get_executor(),
                                                   [self = shared_from_this(), id](
                                                       beast::error_code ec) {
                                                     self->on_readable(id, ec);
                                                   }));
  }

  void on_readable(uint64_t id, beast::error_code ec) {
    if (id != request_id_ || !in_reply_ || gone_) return;
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      char byte;
      beast::error_code peek_ec;
      stream_.socket().non_blocking(true, peek_ec);
      const size_t n = stream_.socket().receive(net::buffer(&byte, 1),
                                                tcp::socket::message_peek, peek_ec);
      stream_.socket().non_blocking(false, ec);
      if (peek_ec == net::error::would_block || peek_ec == net::error::try_again) {
        watch_for_hangup();
        return;
      }
      if (!peek_ec && n > 0) return;  // a pipelined request; the client is still there
    }
    hang_up();
  }

  void hang_up() {
    if (gone_) return;
    gone_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    finish_reply();
  }

  // --- writing -----------------------------------------------------------------------------

  void queue(std::string data) {
    pending_.push_back(std::move(data));
    write_next();
  }

  void write_next() {
    if (writing_ || pending_.empty() || gone_) return;
    writing_ = true;
    net::async_write(stream_, net::buffer(pending_.front()),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->on_written(ec);
                     });
  }

  void on_written(beast::error_code ec) {
    writing_ = false;
    if (ec) {
      pending_.clear();
      hang_up();
      return;
    }
    pending_.pop_front();
    if (!pending_.empty()) {
      write_next();
      return;
    }
    if (in_reply_ && reply_complete_) {
      reply_written_ = true;
      finish_reply();
      if (keep_alive_ && !gone_) {
        beast::error_code ignored;
        stream_.socket().cancel(ignored);  // the hang-up watch
        read_request();
      } else if (linger_) {
        linger();
      } else {
        close();
      }
    }
  }

  // The reply is over (written or abandoned): release the handler's disconnect callback.
  void finish_reply() {
    if (!in_reply_) return;
    in_reply_ = false;
    shared_->in_flight->fetch_sub(1);
    std::function<void()> fn = std::move(on_disconnect_);
    on_disconnect_ = nullptr;
    if (gone_ && fn) fn();
  }

  // After an error reply to a request whose body was not read (413): the client may still be
  // sending it, and closing now would reset the connection before it reads the reply. Stop
  // sending, read and drop what still arrives for a while, then close.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(5));
    discard_.resize(64 * 1024);
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->lingered_bytes_ += n;
                              if (ec || self->lingered_bytes_ > (256u << 20)) {
                                self->close();
                              } else {
                                self->linger();
                              }
                            });
  }

  void close() {
    if (gone_) return;
    gone_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
    finish_reply();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<const SessionShared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::string> pending_;
  std::function<void()> on_disconnect_;
  uint64_t request_id_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool in_reply_ = false;
  bool reply_started_ = false;
  bool reply_complete_ = false;
  bool chunked_ = false;
  bool reply_written_ = false;  // the current reply went out completely
  bool writing_ = false;
  bool gone_ = false;
  bool linger_ = false;  // drain the unread request after the reply (linger())
  std::string discard_;
  uint64_t lingered_bytes_ = 0;
};

void SessionResponder::send(int status, std::string content_type, std::string body,
                            HeaderList extra_headers) {
  net::post(session_->executor(), [self = shared_from_this(), status,
                                   content_type = std::move(content_type),
                                   body = std::move(body),
                                   extra = std::move(extra_headers)]() mutable {
    self->session_->send(self->request_id_, status, std::move(content_type), std::move(body),
                         std::move(extra), *self);
  });
}

void SessionResponder::begin_stream(std::string content_type) {
  net::post(session_->executor(),
            [self = shared_from_this(), content_type = std::move(content_type)]() mutable {
              self->session_->begin_stream(self->request_id_, std::move(content_type), *self);
            });
}

void SessionResponder::write(std::string data) {
  net::post(session_->executor(), [self = shared_from_this(), data = std::move(data)]() mutable {
    self->session_->write(self->request_id_, std::move(data));
  });
}

void SessionResponder::end_stream() {
  net::post(session_->executor(), [self = shared_from_this()] {
    self->session_->end_stream(self->request_id_);
  });
}

void SessionResponder::on_disconnect(std::function<void()> fn) {
  net::post(session_->executor(), [self = shared_from_this(), fn = std::move(fn)]() mutable {
    self->session_->on_disconnect(self->request_id_, std::move(fn));
  });
}

}  // namespace

HttpServer::HttpServer(net::io_context& io, HttpServerOptions options, Dispatch dispatch)
    : io_(io),
      options_(std::move(options)),
      dispatch_(std::move(dispatch)),
      acceptor_(net::make_strand(io)),
      replies_in_flight_(std::make_shared<std::atomic<int64_t>>(0)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::listen() {
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options_.host, ec);
  if (ec) return Error{"cannot listen on '" + options_.host + "': not an IP address", ""};
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error{"cannot listen on " + where + ": " + ec.message(), ""};
  port_ = acceptor_.local_endpoint().port();
  shared_ = std::make_shared<SessionShared>(
      SessionShared{options_, dispatch_, upgrade_, replies_in_flight_});
  accept();
  return Status::ok();
}

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      std::make_shared<Session>(std::move(socket),
                                std::static_pointer_cast<const SessionShared>(shared_))
          ->start();
    }
    accept();
  });
}

void HttpServer::stop_accepting() {
  net::dispatch(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

}  // namespace cove::server
