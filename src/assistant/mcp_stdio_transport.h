// MCP over stdio: the server is a child process we spawn (posix_spawn, no shell); JSON-RPC
// messages travel one per line on its stdin and stdout, and its stderr is drained to a log.
//
// One reader thread per process polls stdout and stderr and notices the exit. close() first
// closes the server's stdin (the spec's polite shutdown), then sends SIGTERM and finally SIGKILL
// to the process group, so wrappers such as `npx` take their children with them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "assistant/mcp_transport.h"

namespace cove::assistant {

struct McpStdioOptions {
  std::string command;                                    // found in PATH when it has no '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;   // set on top of our environment
  std::string working_directory;                          // empty: ours
  std::string stderr_log_path;  // server stderr is appended here; empty: kept in memory only
  size_t max_message_bytes = 16u << 20;  // a longer line is reported and dropped
  std::chrono::milliseconds shutdown_grace{2000};  // per step: stdin closed, then SIGTERM
};

class McpStdioTransport final : public McpTransport {
 public:
  explicit McpStdioTransport(McpStdioOptions options);
  ~McpStdioTransport() override;

  Status open(McpTransportEvents events) override;
  Status send(const Json& message, McpClock::time_point deadline,
              const McpHeaders& headers) override;
  void close() override;
  std::string describe() const override;
  bool restartable() const override { return true; }

  // The running server's process id, or -1. Tests use it to kill the server.
  int pid() const;
  // The last lines the server wrote to stderr (at most kStderrLines).
  std::vector<std::string> recent_stderr() const;

  static constexpr size_t kStderrLines = 20;

 private:
  void read_loop(int pid, int out_fd, int err_fd);
  void handle_stdout(std::string& buffer, bool& discarding, const char* data, size_t size);
  void handle_stderr(std::string& buffer, const char* data, size_t size, bool flush);
  void kill_group(int signal);
  std::string stderr_tail() const;

  McpStdioOptions options_;
  McpTransportEvents events_;

  mutable std::mutex mutex_;  // guards the fields below
  std::condition_variable exited_cv_;
  int pid_ = -1;
  bool exited_ = true;
  bool stopping_ = false;
  std::deque<std::string> stderr_lines_;
  std::FILE* stderr_log_ = nullptr;

  std::mutex write_mutex_;  // one message at a time on stdin
  int stdin_fd_ = -1;       // guarded by write_mutex_

  std::thread reader_;
};

}  // namespace cove::assistant
