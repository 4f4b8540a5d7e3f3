// The stdio transport with real processes that misbehave: one that exits at once, one that is
// not installed, one that writes garbage (tests/mcp/misbehaving_server.mjs), one that never
// answers, and one that ignores SIGTERM. None may crash or hang the client.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "assistant/mcp_client.h"

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

McpClientConfig stdio_config(std::string command, std::vector<std::string> args) {
  McpClientConfig config;
  config.name = "bad";
  config.stdio.command = std::move(command);
  config.stdio.args = std::move(args);
  config.stdio.shutdown_grace = 300ms;
  config.protocol = "2025-11-25";
  config.request_timeout = 5000ms;
  config.startup_timeout = 5000ms;
  config.restart_backoff = 50ms;
  return config;
}

std::string misbehaving_script() {
  return std::string(COVE_SOURCE_DIR) + "/tests/mcp/misbehaving_server.mjs";
}

TEST(McpStdio, AServerThatExitsAtOnceIsReportedWithStatusAndStderr) {
  Result<std::unique_ptr<McpClient>> client =
      McpClient::create(stdio_config("/bin/sh", {"-c", "echo 'fatal: no config' >&2; exit 3"}));
  ASSERT_TRUE(client.is_ok()) << client.message();
  Status started = (*client)->start();
  ASSERT_FALSE(started.is_ok());
  EXPECT_NE(started.message().find("'bad'"), std::string::npos) << started.message();
  EXPECT_NE(started.message().find("exited with status 3"), std::string::npos)
      << started.message();
  EXPECT_NE(started.message().find("fatal: no config"), std::string::npos) << started.message();
  // While it keeps failing, calls fail fast with the reason instead of waiting.
  Result<McpToolResult> call = (*client)->call_tool("x", Json::object());
  ASSERT_FALSE(call.is_ok());
  EXPECT_NE(call.message().find("exited with status 3"), std::string::npos) << call.message();
  (*client)->shutdown();
}

TEST(McpStdio, AMissingProgramIsAClearError) {
  Result<std::unique_ptr<McpClient>> client =
      McpClient::create(stdio_config("/nonexistent/mcp-server", {}));
  ASSERT_TRUE(client.is_ok());
  Status started = (*client)->start();
  ASSERT_FALSE(started.is_ok());
  EXPECT_NE(started.message().find("/nonexistent/mcp-server"), std::string::npos)
      << started.message();
  EXPECT_NE(started.message().find("No such file"), std::string::npos) << started.message();
}

TEST(McpStdio, GarbageOnStdoutIsSkippedAndTheServerStillWorks) {
  std::string node = find_in_path("node");
  if (node.empty()) GTEST_SKIP() << "node is not installed; this test runs a node script";
  McpClientConfig config = stdio_config(node, {misbehaving_script(), "garbage"});
  config.stdio.max_message_bytes = 100000;  // the script writes a 200 kB line
  Result<std::unique_ptr<McpClient>> client = McpClient::create(std::move(config));
  ASSERT_TRUE(client.is_ok());
  Status started = (*client)->start();
  ASSERT_TRUE(started.is_ok()) << started.message();
  Result<McpToolResult> echo = (*client)->call_tool("echo", {{"message", "still here"}});
  ASSERT_TRUE(echo.is_ok()) << echo.message();
  EXPECT_EQ(echo->text, "Echo: still here");
  std::string problems;
  for (const std::string& p : (*client)->recent_problems()) problems += p + "\n";
  EXPECT_NE(problems.find("not valid JSON: 'this is not json'"), std::string::npos) << problems;
  EXPECT_NE(problems.find("longer than 100000 bytes"), std::string::npos) << problems;
  EXPECT_NE(problems.find("invalid JSON-RPC message"), std::string::npos) << problems;
  auto* stdio = dynamic_cast<McpStdioTransport*>(&(*client)->transport());
  ASSERT_NE(stdio, nullptr);
  std::vector<std::string> stderr_lines = stdio->recent_stderr();
  ASSERT_FALSE(stderr_lines.empty());
  EXPECT_EQ(stderr_lines.back(), "got tools/call");
}

TEST(McpStdio, ACallThatIsNeverAnsweredTimesOut) {
  std::string node = find_in_path("node");
  if (node.empty()) GTEST_SKIP() << "node is not installed; this test runs a node script";
  Result<std::unique_ptr<McpClient>> client =
      McpClient::create(stdio_config(node, {misbehaving_script(), "mute-call"}));
  ASSERT_TRUE(client.is_ok());
  ASSERT_TRUE((*client)->start().is_ok());
  Result<McpToolResult> call = (*client)->call_tool("echo", {{"message", "x"}}, 300ms);
  ASSERT_FALSE(call.is_ok());
  EXPECT_EQ(call.code(), "timeout");
  EXPECT_TRUE((*client)->ping().is_ok());  // the connection itself is fine
}

TEST(McpStdio, AServerThatNeverAnswersFailsTheStartInTime) {
  std::string node = find_in_path("node");
  if (node.empty()) GTEST_SKIP() << "node is not installed; this test runs a node script";
  McpClientConfig config = stdio_config(node, {misbehaving_script(), "silent"});
  config.startup_timeout = 1000ms;
  Result<std::unique_ptr<McpClient>> client = McpClient::create(std::move(config));
  ASSERT_TRUE(client.is_ok());
  Status started = (*client)->start();
  ASSERT_FALSE(started.is_ok());
  EXPECT_EQ(started.code(), "timeout");
  EXPECT_NE(started.message().find("initialize"), std::string::npos) << started.message();
}

TEST(McpStdio, ShutdownKillsAServerThatIgnoresStdinAndSigterm) {
  McpStdioOptions options;
  options.command = "/bin/sh";
  options.args = {"-c", "trap '' TERM; while :; do sleep 1; done"};
  options.shutdown_grace = 200ms;
  McpStdioTransport transport(options);
  ASSERT_TRUE(transport.open({}).is_ok());
  int pid = transport.pid();
  ASSERT_GT(pid, 0);
  transport.close();
  EXPECT_EQ(transport.pid(), -1);
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: no such process any more
}

TEST(McpStdio, SendingToAnExitedServerIsAnError) {
  McpStdioOptions options;
  options.command = "/bin/sh";
  options.args = {"-c", "exit 0"};
  McpStdioTransport transport(options);
  std::atomic<bool> closed{false};
  McpTransportEvents events;
  events.on_closed = [&](std::string) { closed = true; };
  ASSERT_TRUE(transport.open(events).is_ok());
  for (int i = 0; i < 500 && !closed; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(closed);
  Status sent = transport.send(make_notification("x", Json()), McpClock::now() + 1s, {});
  EXPECT_FALSE(sent.is_ok());
}

}  // namespace
}  // namespace cove::assistant
