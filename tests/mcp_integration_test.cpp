// The MCP client against a real server from npm, @modelcontextprotocol/server-everything
// (pinned in tests/mcp/package-lock.json, installed by tests/mcp/setup.sh): over stdio and over
// Streamable HTTP, tools are listed and called; a stdio server killed with SIGKILL is restarted
// and works again; the tools reach a ToolRegistry with their server prefix.
//
// Skipped (with a message) only when node is not installed.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "assistant/mcp_client.h"
#include "assistant/mcp_hub.h"

extern char** environ;

namespace cove::assistant {
namespace {

using namespace std::chrono_literals;

std::string find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

const std::string kMcpDir = std::string(COVE_SOURCE_DIR) + "/tests/mcp";
const std::string kEverything =
    kMcpDir + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";

class McpEverything : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = find_in_path("node");
    if (node_.empty()) GTEST_SKIP() << "node is not installed; the MCP integration tests need it";
    std::string setup = "'" + kMcpDir + "/setup.sh'";
    ASSERT_EQ(std::system(setup.c_str()), 0) << "tests/mcp/setup.sh (npm ci) failed";
    ASSERT_EQ(::access(kEverything.c_str(), R_OK), 0) << kEverything << " is missing after setup";
  }

  McpClientConfig stdio_config() const {
    McpClientConfig config;
    config.name = "everything";
    config.stdio.command = node_;
    config.stdio.args = {kEverything, "stdio"};
    config.stdio.shutdown_grace = 1000ms;
    config.restart_backoff = 50ms;
    return config;
  }

  std::string node_;
};

bool has_tool(const std::vector<McpTool>& tools, const std::string& name) {
  for (const McpTool& tool : tools) {
    if (tool.name == name) return true;
  }
  return false;
}

void expect_echo_and_sum_work(McpClient& client) {
  Result<McpToolResult> echo = client.call_tool("echo", {{"message", "hello from cove"}});
  ASSERT_TRUE(echo.is_ok()) << echo.message();
  EXPECT_FALSE(echo->is_error);
  EXPECT_EQ(echo->text, "Echo: hello from cove");
  Result<McpToolResult> sum = client.call_tool("get-sum", {{"a", 2}, {"b", 40}});
  ASSERT_TRUE(sum.is_ok()) << sum.message();
  EXPECT_NE(sum->text.find("42"), std::string::npos) << sum->text;
}

TEST_F(McpEverything, StdioListsAndCallsTools) {
  Result<std::unique_ptr<McpClient>> client = McpClient::create(stdio_config());
  ASSERT_TRUE(client.is_ok()) << client.message();
  Status started = (*client)->start();
  ASSERT_TRUE(started.is_ok()) << started.message();
  // server-everything speaks the legacy handshake: the auto probe falls back to initialize.
  EXPECT_EQ((*client)->protocol_version(), "2025-11-25");
  EXPECT_FALSE((*client)->stateless());
  std::vector<McpTool> tools = (*client)->tools();
  EXPECT_TRUE(has_tool(tools, "echo"));
  EXPECT_TRUE(has_tool(tools, "get-sum"));
  expect_echo_and_sum_work(**client);

  Result<McpToolResult> weather =
      (*client)->call_tool("get-structured-content", {{"location", "Chicago"}});
  ASSERT_TRUE(weather.is_ok()) << weather.message();
  EXPECT_TRUE(weather->structured_content.contains("temperature")) << weather->text;

  // The server validates arguments and reports the failure as a tool error or an RPC error;
  // either way it is a clean error naming the problem, not a crash.
  Result<McpToolResult> bad = (*client)->call_tool("get-sum", {{"a", "two"}});
  EXPECT_TRUE(!bad.is_ok() || bad->is_error);
  EXPECT_TRUE((*client)->ping().is_ok());
}

TEST_F(McpEverything, StdioServerKilledIsRestartedAndWorksAgain) {
  McpClientConfig config = stdio_config();
  config.protocol = "2025-11-25";
  Result<std::unique_ptr<McpClient>> client = McpClient::create(std::move(config));
  ASSERT_TRUE(client.is_ok());
  ASSERT_TRUE((*client)->start().is_ok());
  auto* stdio = dynamic_cast<McpStdioTransport*>(&(*client)->transport());
  ASSERT_NE(stdio, nullptr);
  int first_pid = stdio->pid();
  ASSERT_GT(first_pid, 0);

  ASSERT_EQ(::kill(first_pid, SIGKILL), 0);
  // A call right after the kill either fails with the server's name and the signal, or (if the
  // restart already happened) succeeds; it never hangs or crashes.
  Result<McpToolResult> during = (*client)->call_tool("echo", {{"message", "x"}}, 10000ms);
  if (!during.is_ok()) {
    EXPECT_NE(during.message().find("'everything'"), std::string::npos) << during.message();
  }
  for (int i = 0; i < 1000 && !((*client)->restart_count() >= 1 && (*client)->ready()); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GE((*client)->restart_count(), 1);
  ASSERT_TRUE((*client)->ready());
  EXPECT_NE(stdio->pid(), first_pid);
  expect_echo_and_sum_work(**client);
  bool noted = false;
  for (const std::string& p : (*client)->recent_problems()) {
    noted |= p.find("killed by signal 9") != std::string::npos;
  }
  EXPECT_TRUE(noted);
}

// Runs `node <script args...>` with PORT set until destroyed.
class HttpServerProcess {
 public:
  HttpServerProcess(const std::string& node, std::vector<std::string> script, int port) {
    std::string port_env = "PORT=" + std::to_string(port);
    std::vector<std::string> env_strings = {port_env};
    for (char** e = environ; *e; ++e) {
      if (std::string_view(*e).substr(0, 5) != "PORT=") env_strings.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = {node};
    args.insert(args.end(), script.begin(), script.end());
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, node.c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~HttpServerProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool wait_for_port(int port) {
  for (int i = 0; i < 1500; ++i) {
    if (port_accepts(port)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST_F(McpEverything, StreamableHttpListsAndCallsTools) {
  int port = free_port();
  HttpServerProcess server(node_, {kEverything, "streamableHttp"}, port);
  ASSERT_TRUE(wait_for_port(port)) << "server-everything did not listen on port " << port;

  McpClientConfig config;
  config.name = "everything";
  config.transport = McpTransportKind::kHttp;
  config.http.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
  Result<std::unique_ptr<McpClient>> client = McpClient::create(std::move(config));
  ASSERT_TRUE(client.is_ok()) << client.message();
  Status started = (*client)->start();
  ASSERT_TRUE(started.is_ok()) << started.message();
  EXPECT_EQ((*client)->protocol_version(), "2025-11-25");
  auto* http = dynamic_cast<McpHttpTransport*>(&(*client)->transport());
  ASSERT_NE(http, nullptr);
  EXPECT_FALSE(http->session_id().empty());  // kept from initialize
  EXPECT_TRUE(has_tool((*client)->tools(), "echo"));
  expect_echo_and_sum_work(**client);
  EXPECT_TRUE((*client)->ping().is_ok());
  (*client)->shutdown();  // ends the session with DELETE
}

// The stateless 2026-07-28 form over HTTP against tests/mcp/stateless_server.mjs, which
// rejects requests whose _meta or mirrored headers are missing or do not match the body.
TEST_F(McpEverything, StatelessHttpSendsMetaAndMatchingHeaders) {
  int port = free_port();
  HttpServerProcess server(node_, {kMcpDir + "/stateless_server.mjs"}, port);
  ASSERT_TRUE(wait_for_port(port)) << "stateless_server.mjs did not listen on port " << port;
  for (const char* protocol : {"auto", "2026-07-28"}) {
    McpClientConfig config;
    config.name = "stateless";
    config.transport = McpTransportKind::kHttp;
    config.http.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
    config.protocol = protocol;
    Result<std::unique_ptr<McpClient>> client = McpClient::create(std::move(config));
    ASSERT_TRUE(client.is_ok());
    Status started = (*client)->start();
    ASSERT_TRUE(started.is_ok()) << protocol << ": " << started.message();
    EXPECT_TRUE((*client)->stateless());
    EXPECT_EQ((*client)->server_info()["name"], "stateless-test");
    std::vector<McpTool> tools = (*client)->tools();
    ASSERT_EQ(tools.size(), 1u);
    ASSERT_EQ(tools[0].header_params.size(), 1u);
    // A non-ASCII value travels base64-encoded in Mcp-Param-Region and must still match.
    Result<McpToolResult> greeting =
        (*client)->call_tool("greet", {{"name", "Ada"}, {"region", "Zürich"}});
    ASSERT_TRUE(greeting.is_ok()) << greeting.message();
    EXPECT_EQ(greeting->text, "Hello, Ada in Zürich");
    Result<McpToolResult> unknown = (*client)->call_tool("nope", Json::object());
    ASSERT_FALSE(unknown.is_ok());
    EXPECT_NE(unknown.message().find("Unknown tool: nope"), std::string::npos);
  }
  // A legacy-only client is refused by this server: a clear error, not a hang.
  McpClientConfig legacy;
  legacy.name = "stateless";
  legacy.transport = McpTransportKind::kHttp;
  legacy.http.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
  legacy.protocol = "2025-11-25";
  Result<std::unique_ptr<McpClient>> client = McpClient::create(std::move(legacy));
  ASSERT_TRUE(client.is_ok());
  Status refused = (*client)->start();
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("initialize"), std::string::npos) << refused.message();
}

TEST_F(McpEverything, ToolsReachTheRegistryWithTheServerPrefix) {
  ToolRegistry registry;
  McpHub hub;
  Status added = hub.add_server(stdio_config());
  ASSERT_TRUE(added.is_ok()) << added.message();
  hub.attach(registry);
  EXPECT_TRUE(registry.contains("everything__echo"));
  EXPECT_TRUE(registry.contains("everything__get-sum"));
  ToolResult echo = registry.call("everything__echo", {{"message", "via registry"}});
  EXPECT_FALSE(echo.is_error) << echo.text;
  EXPECT_EQ(echo.text, "Echo: via registry");
  ToolResult missing_argument = registry.call("everything__echo", Json::object());
  EXPECT_TRUE(missing_argument.is_error);  // the schema's required 'message' is enforced
  hub.shutdown();
  EXPECT_FALSE(registry.contains("everything__echo"));
}

}  // namespace
}  // namespace cove::assistant
