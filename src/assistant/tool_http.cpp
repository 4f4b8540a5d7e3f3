// http_fetch tool: URL checks, the host allowlist, and a Beast client over TCP or TLS
// (tool_http.h).
#include "assistant/tool_http.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>

namespace cove::assistant {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

Result<ParsedUrl> parse_http_url(std::string_view url) {
  ParsedUrl out;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return Error{"'" + std::string(url) + "' is not an http(s) URL"};
  out.scheme = lower(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") {
    return Error{"only http:// and https:// URLs can be fetched, not " + out.scheme + "://"};
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return Error{"the URL contains a space or control character"};
    }
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  out.target = authority_end == std::string_view::npos ? "/" : std::string(rest.substr(authority_end));
  if (const size_t hash = out.target.find('#'); hash != std::string::npos) out.target.resize(hash);
  if (out.target.empty() || out.target.front() != '/') out.target = "/" + out.target;
  if (authority.find('@') != std::string_view::npos) {
    return Error{"URLs with user info (user@host) are refused"};
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{"unclosed '[' in the URL's host"};
    out.host = lower(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error{"unexpected text after the IPv6 address"};
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Error{"the URL has no host"};
  for (char c : out.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_')) {
      return Error{"the URL's host contains '" + std::string(1, c) + "'"};
    }
  }
  out.port = out.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || value > 65535) return Error{"the URL's port is not a number"};
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return Error{"the URL's port is out of range"};
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

bool host_allowed(std::string_view host, const std::vector<std::string>& allowlist) {
  const std::string name = lower(host);
  for (const std::string& raw : allowlist) {
    const std::string entry = lower(raw);
    if (entry == name) return true;
    if (entry.size() > 2 && entry.compare(0, 2, "*.") == 0) {
      const std::string_view suffix = std::string_view(entry).substr(1);  // ".example.com"
      if (name.size() > suffix.size() &&
          std::string_view(name).substr(name.size() - suffix.size()) == suffix) {
        return true;
      }
    }
  }
  return false;
}

namespace {

// One fetch's state, shared by the completion handlers below. Plain callbacks rather than
// coroutines: the fuzz build's clang 14 cannot compile Boost 1.74's awaitables.
struct FetchState {
  const ParsedUrl& url;
  const HttpFetchOptions& options;
  http::request<http::empty_body> request;
  beast::flat_buffer buffer;
  // The cap is the body buffer's max_size: the parser's own body_limit is not honoured for
  // responses with a Content-Length in Boost 1.74's Beast, but a full buffer stops any body
  // (sized, chunked or read to the end) with error::buffer_overflow.
  http::response_parser<http::basic_dynamic_body<beast::flat_buffer>> parser;
  HttpFetchResponse out;
  std::optional<std::string> failure;
  bool done = false;

  FetchState(const ParsedUrl& u, const HttpFetchOptions& o) : url(u), options(o) {
    request = {http::verb::get, url.target, 11};
    const bool default_port = (url.scheme == "http" && url.port == 80) ||
                              (url.scheme == "https" && url.port == 443);
    request.set(http::field::host, url.host + (default_port ? "" : ":" + std::to_string(url.port)));
    request.set(http::field::user_agent, "cove-http-fetch/0.1");
    request.set(http::field::accept, "*/*");
    request.set(http::field::connection, "close");
    parser.body_limit(boost::none);
    parser.get().body().max_size(options.max_bytes);
  }

  void finish(const beast::error_code& error) {
    done = true;
    if (!error) return;
    if (error == http::error::body_limit || error == http::error::buffer_overflow) {
      failure = "the response is larger than the limit of " + std::to_string(options.max_bytes) +
                " bytes";
    } else if (error == beast::error::timeout) {
      failure = "timed out after " + std::to_string(options.timeout.count()) + " ms";
    } else {
      failure = error.message();
    }
  }
};

template <class Stream>
void exchange(Stream& stream, FetchState& state) {
  http::async_write(stream, state.request, [&stream, &state](beast::error_code error, size_t) {
    if (error) return state.finish(error);
    http::async_read(stream, state.buffer, state.parser,
                     [&state](beast::error_code error, size_t) {
                       if (error) return state.finish(error);
                       const auto& response = state.parser.get();
                       state.out.status = static_cast<int>(response.result_int());
                       state.out.content_type = std::string(response[http::field::content_type]);
                       state.out.location = std::string(response[http::field::location]);
                       state.out.body = beast::buffers_to_string(response.body().data());
                       state.finish({});
                     });
  });
}

}  // namespace

Result<HttpFetchResponse> http_fetch(std::string_view url_text, const HttpFetchOptions& options) {
  if (!options.enabled) return Error{"the http_fetch tool is disabled"};
  Result<ParsedUrl> url = parse_http_url(url_text);
  if (!url) return url.error();
  if (!host_allowed(url->host, options.allowed_hosts)) {
    return Error{"refused: host '" + url->host + "' is not on the allowlist"};
  }
  FetchState state(*url, options);
  // The I/O objects are declared after the context so they go first; handlers still pending when
  // run_for returns are destroyed with the context without running.
  asio::io_context context;
  tcp::resolver resolver(context);
  beast::tcp_stream plain(context);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  if (url->scheme == "https") {
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
    secure.emplace(context, tls);
    if (!SSL_set_tlsext_host_name(secure->native_handle(), url->host.c_str())) {
      return Error{url->host + ": cannot set the TLS server name"};
    }
    secure->set_verify_callback(asio::ssl::host_name_verification(url->host));
  }
  resolver.async_resolve(
      url->host, std::to_string(url->port),
      [&](beast::error_code error, const tcp::resolver::results_type& endpoints) {
        if (error) return state.finish(error);
        if (!secure) {
          plain.expires_after(options.timeout);
          plain.async_connect(endpoints, [&](beast::error_code error, const tcp::endpoint&) {
            if (error) return state.finish(error);
            exchange(plain, state);
          });
          return;
        }
        beast::get_lowest_layer(*secure).expires_after(options.timeout);
        beast::get_lowest_layer(*secure).async_connect(
            endpoints, [&](beast::error_code error, const tcp::endpoint&) {
              if (error) return state.finish(error);
              secure->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code error) {
                if (error) return state.finish(error);
                exchange(*secure, state);
              });
            });
      });
  // The resolver has no deadline of its own: bound the whole exchange here as well.
  context.run_for(options.timeout + std::chrono::milliseconds(100));
  const bool done = state.done;
  const std::optional<std::string>& failure = state.failure;
  HttpFetchResponse& out = state.out;
  if (!done) return Error{url->host + ": timed out after " + std::to_string(options.timeout.count()) + " ms"};
  if (failure) return Error{url->host + ": " + *failure};
  return out;
}

ToolDefinition make_http_fetch_tool(HttpFetchOptions options) {
  ToolDefinition tool;
  tool.spec.name = "http_fetch";
  std::string hosts;
  for (const std::string& host : options.allowed_hosts) hosts += (hosts.empty() ? "" : ", ") + host;
  tool.spec.description = "Fetch a web page or API response with HTTP GET. Allowed hosts: " +
                          (hosts.empty() ? std::string("none") : hosts) + ".";
  tool.spec.parameters = {{"type", "object"},
                          {"properties", {{"url", {{"type", "string"}, {"description", "http:// or https:// URL"}}}}},
                          {"required", {"url"}}};
  tool.handler = [options = std::move(options)](const nlohmann::json& arguments) {
    const std::string url = arguments.at("url").get<std::string>();
    Result<HttpFetchResponse> response = http_fetch(url, options);
    if (!response) return ToolResult::error("http_fetch: " + response.message());
    std::string text = "HTTP " + std::to_string(response->status);
    if (!response->location.empty()) text += " (redirect to " + response->location + ", not followed)";
    text += "\n\n" + to_valid_utf8(response->body);
    ToolResult result = ToolResult::ok(
        std::move(text), {{"url", url},
                          {"status", response->status},
                          {"content_type", to_valid_utf8(response->content_type)},
                          {"bytes", response->body.size()}});
    result.is_error = response->status >= 400;
    return result;
  };
  return tool;
}

}  // namespace cove::assistant
