// The HTTP/1.1 transport: a listener and one session per connection, on Boost.Beast/Asio.
//
// Each connection runs on its own strand; requests on a connection are answered in order
// (keep-alive). While a reply is pending the session watches the socket, so a client that hangs
// up mid-request or mid-stream is noticed at once (Responder::on_disconnect) rather than at the
// next failed write. Bodies over the limit get a 413 before they are read, malformed requests a
// 400; neither reaches a handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/result.h"
#include "server/http.h"

namespace cove::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port)
  uint64_t max_body_bytes = 10u << 20;
  int idle_timeout_s = 60;  // a connection with no request in this long is closed
};

// Receives every request that parsed. Runs on the connection's strand; must not block.
using Dispatch = std::function<void(HttpRequest&& request, ResponderPtr responder)>;

// For protocols that take the connection over (WebSocket): called for requests with
// "Connection: Upgrade". To take it, move the socket out and return true; return false (socket
// untouched) to answer it as a normal request.
using UpgradeHandler =
    std::function<bool(boost::asio::ip::tcp::socket& socket, const HttpRequest& request)>;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, Dispatch dispatch);
  ~HttpServer();

  // Binds and starts accepting. Errors name the address ("127.0.0.1:80: permission denied").
  Status listen();
  // The bound port (the real one when options.port was 0).
  uint16_t port() const { return port_; }
  // Stops accepting new connections; open ones finish their replies. Thread-safe.
  void stop_accepting();

  // Before listen().
  void set_upgrade_handler(UpgradeHandler handler) { upgrade_ = std::move(handler); }

  // Replies begun and not yet complete, over all connections.
  int64_t replies_in_flight() const { return replies_in_flight_->load(); }

 private:
  void accept();

  boost::asio::io_context& io_;
  HttpServerOptions options_;
  Dispatch dispatch_;
  UpgradeHandler upgrade_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::shared_ptr<std::atomic<int64_t>> replies_in_flight_;
  std::shared_ptr<void> shared_;  // the sessions' copy of the above, made by listen()
};

}  // namespace cove::server
