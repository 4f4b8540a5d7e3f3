#include "support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cove::testing {

HttpReply http_request(uint16_t port, boost::beast::http::verb method, const std::string& target,
                       const std::string& body, const std::string& authorization) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return {};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(stream, buffer, parser, ec);
  HttpReply reply;
  if (ec) return reply;
  reply.status = parser.get().result_int();
  reply.body = parser.get().body();
  reply.retry_after = std::string(parser.get()[http::field::retry_after]);
  return reply;
}

}  // namespace cove::testing
