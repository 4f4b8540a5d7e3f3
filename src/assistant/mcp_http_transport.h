// MCP over Streamable HTTP: every message is an HTTP POST to the server's one endpoint; the
// reply is either a single JSON body or an SSE stream that carries notifications and ends with
// the response. Built on Boost.Beast, one connection per message (no pooling: MCP traffic is a
// few calls per model turn).
//
// The Mcp-Session-Id the server assigns (at initialize) is kept and sent back on every later
// request; close() ends the session with DELETE. Plain http:// only for now.
// Not done: the optional GET stream for server-initiated messages outside a request.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "assistant/mcp_transport.h"

namespace cove::assistant {

struct McpHttpOptions {
  std::string url;        // http://host[:port]/path
  McpHeaders headers;     // sent on every request (e.g. Authorization)
  size_t max_response_bytes = 16u << 20;
};

struct HttpUrl {
  std::string host;
  std::string port;
  std::string target;  // path and query, at least "/"
};

// Parses an http:// URL; https and anything else is refused with a message naming the URL.
Result<HttpUrl> parse_http_url(const std::string& url);

class McpHttpTransport final : public McpTransport {
 public:
  explicit McpHttpTransport(McpHttpOptions options);
  ~McpHttpTransport() override;

  Status open(McpTransportEvents events) override;
  Status send(const Json& message, McpClock::time_point deadline,
              const McpHeaders& headers) override;
  void close() override;
  std::string describe() const override { return options_.url; }
  void reset_session() override;

  std::string session_id() const;

 private:
  McpHttpOptions options_;
  HttpUrl url_;
  Status url_status_;
  McpTransportEvents events_;
  mutable std::mutex mutex_;
  std::string session_id_;
};

}  // namespace cove::assistant
