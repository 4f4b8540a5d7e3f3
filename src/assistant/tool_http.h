// The http_fetch tool: GET a URL on an allowlisted host, with a size cap and a timeout.
//
// Off by default. The host must match the allowlist before anything touches the network (no DNS
// look-up for a refused host): an entry is an exact host name or address ("example.com",
// "127.0.0.1") or a wildcard for subdomains ("*.example.com", which does not match
// example.com itself). Host names compare case-insensitively. http:// uses Boost.Beast over
// TCP; https:// uses Beast over OpenSSL with the system's CA store, certificate and host name
// verification, and SNI. Redirects are not followed: a 3xx reply comes back with its Location,
// so a redirect to another host cannot slip past the allowlist. A body longer than max_bytes is
// an error rather than a truncation (an HTTP body cut anywhere may be misleading); the whole
// exchange (resolve, connect, TLS, request, response) must finish within `timeout`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

struct HttpFetchOptions {
  bool enabled = false;
  std::vector<std::string> allowed_hosts;
  size_t max_bytes = 256 * 1024;
  std::chrono::milliseconds timeout{10000};
};

struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-cased; IPv6 literals without brackets
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"
};

// Accepts http:// and https:// URLs without user info; errors say what is wrong.
Result<ParsedUrl> parse_http_url(std::string_view url);

bool host_allowed(std::string_view host, const std::vector<std::string>& allowlist);

struct HttpFetchResponse {
  int status = 0;
  std::string content_type;
  std::string location;  // for redirects
  std::string body;
};

// Checks the options (enabled, allowlist) and fetches.
Result<HttpFetchResponse> http_fetch(std::string_view url, const HttpFetchOptions& options);

// Tool `http_fetch`: {"url": string}.
ToolDefinition make_http_fetch_tool(HttpFetchOptions options);

}  // namespace cove::assistant
