// A blocking HTTP/1.1 client for the server tests: one request on a fresh connection to
// 127.0.0.1, the whole response read back (up to 64 MiB).
#pragma once

#include <cstdint>
#include <string>

#include <boost/beast/http/verb.hpp>

namespace cove::testing {

struct HttpReply {
  int status = 0;  // 0 when the connection failed or the response could not be read
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

// `authorization` is the Authorization header's value ("Bearer ..."), sent when not empty.
HttpReply http_request(uint16_t port, boost::beast::http::verb method, const std::string& target,
                       const std::string& body = "", const std::string& authorization = "");

}  // namespace cove::testing
