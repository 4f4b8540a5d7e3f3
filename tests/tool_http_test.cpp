// http_fetch against a local server on 127.0.0.1: a fetch that works, the size cap, a server that
// never answers (timeout), redirects not followed, the off switch, URL parsing and the allowlist.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <thread>

#include "assistant/tool_http.h"

namespace cove::assistant {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers each connection with a fixed raw response (or nothing at all), one at a time.
class LocalServer {
 public:
  explicit LocalServer(std::string response, bool answer = true)
      : acceptor_(context_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        response_(std::move(response)),
        answer_(answer) {
    thread_ = std::thread([this] { serve(); });
  }
  ~LocalServer() {
    stopping_ = true;
    boost::system::error_code ignored;
    // Wake the blocking accept with a connection of our own.
    tcp::socket poke(context_);
    poke.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void serve() {
    std::vector<tcp::socket> held;
    while (!stopping_) {
      tcp::socket socket(context_);
      boost::system::error_code error;
      acceptor_.accept(socket, error);
      if (error || stopping_) break;
      char buffer[4096];
      socket.read_some(asio::buffer(buffer), error);  // the request (small, one read)
      if (answer_) {
        asio::write(socket, asio::buffer(response_), error);
        socket.shutdown(tcp::socket::shutdown_both, error);
      } else {
        held.push_back(std::move(socket));  // keep it open, say nothing
      }
    }
  }

  asio::io_context context_;
  tcp::acceptor acceptor_;
  std::string response_;
  bool answer_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

HttpFetchOptions local_options() {
  HttpFetchOptions options;
  options.enabled = true;
  options.allowed_hosts = {"127.0.0.1"};
  options.timeout = std::chrono::milliseconds(3000);
  return options;
}

std::string url_for(const LocalServer& server, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

TEST(HttpFetch, FetchesFromAnAllowedHost) {
  LocalServer server("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
  ToolResult result = make_http_fetch_tool(local_options()).handler({{"url", url_for(server, "/a?b=1")}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "HTTP 200\n\nhello");
  EXPECT_EQ(result.structured["content_type"], "text/plain");
  EXPECT_EQ(result.structured["status"], 200);
}

TEST(HttpFetch, BodyOverTheCapIsAnError) {
  LocalServer server("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x'));
  HttpFetchOptions options = local_options();
  options.max_bytes = 100;
  Result<HttpFetchResponse> response = http_fetch(url_for(server), options);
  ASSERT_FALSE(response.is_ok()) << "read " << response->body.size() << " bytes";
  EXPECT_NE(response.message().find("larger than the limit of 100 bytes"), std::string::npos)
      << response.message();
}

TEST(HttpFetch, ChunkedBodyOverTheCapIsAnError) {
  LocalServer server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" +
                     std::string(1000, 'y') + "\r\n0\r\n\r\n");
  HttpFetchOptions options = local_options();
  options.max_bytes = 100;
  Result<HttpFetchResponse> response = http_fetch(url_for(server), options);
  ASSERT_FALSE(response.is_ok()) << "read " << response->body.size() << " bytes";
  EXPECT_NE(response.message().find("larger than the limit"), std::string::npos);
  options.max_bytes = 1000;
  LocalServer exact("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" +
                    std::string(1000, 'y') + "\r\n0\r\n\r\n");
  Result<HttpFetchResponse> fits = http_fetch(url_for(exact), options);
  ASSERT_TRUE(fits.is_ok()) << fits.message();
  EXPECT_EQ(fits->body, std::string(1000, 'y'));
}

TEST(HttpFetch, ServerThatNeverAnswersTimesOut) {
  LocalServer server("", /*answer=*/false);
  HttpFetchOptions options = local_options();
  options.timeout = std::chrono::milliseconds(300);
  Result<HttpFetchResponse> response = http_fetch(url_for(server), options);
  ASSERT_FALSE(response.is_ok());
  EXPECT_NE(response.message().find("timed out"), std::string::npos) << response.message();
}

TEST(HttpFetch, RedirectsAreReportedNotFollowed) {
  LocalServer server(
      "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.test/\r\nContent-Length: 0\r\n\r\n");
  ToolResult result = make_http_fetch_tool(local_options()).handler({{"url", url_for(server)}});
  EXPECT_FALSE(result.is_error);
  EXPECT_NE(result.text.find("redirect to http://elsewhere.test/, not followed"), std::string::npos);
}

TEST(HttpFetch, DisabledByDefault) {
  HttpFetchOptions options;
  options.allowed_hosts = {"127.0.0.1"};
  ToolResult result = make_http_fetch_tool(options).handler({{"url", "http://127.0.0.1/"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "http_fetch: the http_fetch tool is disabled");
}

TEST(HttpFetch, ParsesUrls) {
  Result<ParsedUrl> url = parse_http_url("HTTPS://Example.COM:8443/path?q=1#frag");
  ASSERT_TRUE(url.is_ok());
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "example.com");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->target, "/path?q=1");
  url = parse_http_url("http://[::1]/x");
  ASSERT_TRUE(url.is_ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 80);
  EXPECT_FALSE(parse_http_url("http://host:99999/").is_ok());
  EXPECT_FALSE(parse_http_url("http:///nohost").is_ok());
  EXPECT_FALSE(parse_http_url("http://a b/").is_ok());
  EXPECT_FALSE(parse_http_url("javascript:alert(1)").is_ok());
}

TEST(HttpFetch, AllowlistMatchesExactHostsAndSubdomainWildcards) {
  const std::vector<std::string> allowlist = {"api.example.com", "*.docs.org"};
  EXPECT_TRUE(host_allowed("API.example.com", allowlist));
  EXPECT_FALSE(host_allowed("example.com", allowlist));
  EXPECT_FALSE(host_allowed("evil-api.example.com", allowlist));
  EXPECT_TRUE(host_allowed("en.docs.org", allowlist));
  EXPECT_FALSE(host_allowed("docs.org", allowlist));
  EXPECT_FALSE(host_allowed("docs.org.evil.net", allowlist));
  EXPECT_FALSE(host_allowed("xdocs.org", allowlist));
}

}  // namespace
}  // namespace cove::assistant
