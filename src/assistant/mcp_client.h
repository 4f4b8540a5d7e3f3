// A client for one MCP server: the protocol on top of a transport (mcp_transport.h).
//
// What it does:
// - Handshake. Legacy servers (protocol 2025-11-25 / 2025-06-18): `initialize` offering the
//   newest version we support, the server's choice accepted if we support it too, then
//   `notifications/initialized`. Modern servers (2026-07-28, stateless): no handshake; every
//   request carries the protocol version, client info and capabilities in params._meta (and in
//   HTTP headers), and `server/discover` tells us who the server is. With protocol "auto" the
//   client probes with `server/discover` and falls back to `initialize` when the server is not
//   a modern one, as the 2026-07-28 versioning page describes for dual-era clients.
// - Requests with ids and per-request timeouts; a late or unknown response is dropped; the
//   server's own requests get answers (ping) or a clean "method not found".
// - tools/list with pagination, cached; notifications/tools/list_changed refreshes the cache.
// - tools/call, its content turned into text for the model (mcp_tools.h).
// - Restarts: when a stdio server dies, in-flight requests fail with an error that names the
//   server and how it ended, and a worker thread restarts it with exponential backoff and
//   re-initializes. Over HTTP an expired session is re-initialized once, transparently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "assistant/mcp_http_transport.h"
#include "assistant/mcp_stdio_transport.h"
#include "assistant/mcp_tools.h"
#include "assistant/mcp_transport.h"

namespace cove::assistant {

// Protocol versions this client speaks.
inline constexpr const char* kMcpModernVersion = "2026-07-28";
inline constexpr const char* kMcpLegacyVersions[] = {"2025-11-25", "2025-06-18"};

enum class McpTransportKind { kStdio, kHttp };

struct McpClientConfig {
  std::string name;  // used in messages and as the tool prefix ("everything" -> everything__echo)
  McpTransportKind transport = McpTransportKind::kStdio;
  McpStdioOptions stdio;
  McpHttpOptions http;
  // "auto" (probe for a modern server, else initialize), "2026-07-28" (stateless only), or a
  // legacy version to offer at initialize ("2025-11-25", "2025-06-18").
  std::string protocol = "auto";
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds startup_timeout{20000};  // start + handshake + first tools/list
  std::chrono::milliseconds probe_timeout{3000};     // the server/discover probe in "auto"
  std::chrono::milliseconds restart_backoff{250};    // first delay; doubles per failure
  std::chrono::milliseconds restart_backoff_max{30000};
  // Receives one line per notable event (server died, garbage received, restarted). Optional.
  std::function<void(const std::string&)> log;
};

// Checks what a config must have (a name usable as a tool prefix, a command or a URL, a known
// protocol) and says which server and field is wrong.
Status validate_mcp_client_config(const McpClientConfig& config);

class McpClient {
 public:
  // Builds the transport the config names.
  static Result<std::unique_ptr<McpClient>> create(McpClientConfig config);
  // With a given transport (tests use a fake one).
  McpClient(McpClientConfig config, std::unique_ptr<McpTransport> transport);
  ~McpClient();
  McpClient(const McpClient&) = delete;
  McpClient& operator=(const McpClient&) = delete;

  // Connects, performs the handshake and lists the tools. On failure the error names the
  // server; a stdio server is then retried in the background (calls fail fast meanwhile).
  Status start();
  // Stops the server (stdio: close stdin, then SIGTERM, then SIGKILL). Idempotent.
  void shutdown();

  const std::string& name() const { return config_.name; }
  bool ready() const;
  std::string protocol_version() const;  // negotiated; "" before the handshake
  bool stateless() const;                // speaking the 2026-07-28 form
  Json server_info() const;              // {"name":..., "version":...} as the server said
  std::string instructions() const;      // the server's instructions, if any

  // The cached tool list, and fetching it again (all pages).
  std::vector<McpTool> tools() const;
  Result<std::vector<McpTool>> refresh_tools();
  // Called (on the client's worker thread) after the tool list changed or the server restarted.
  void set_tools_changed_callback(std::function<void()> callback);

  Result<McpToolResult> call_tool(const std::string& name, const Json& arguments,
                                  std::optional<std::chrono::milliseconds> timeout = {});
  Status ping();
  // Any request; the result object on success.
  Result<Json> request(const std::string& method, Json params,
                       std::optional<std::chrono::milliseconds> timeout = {});

  McpTransport& transport() { return *transport_; }
  int restart_count() const { return restarts_.load(); }
  // The last problems seen (garbage from the server, deaths, late responses), newest last.
  std::vector<std::string> recent_problems() const;

 private:
  enum class State { kStopped, kConnecting, kReady, kRestarting, kShutdown };
  struct Reply;
  struct Pending;

  Result<Reply> exchange(const std::string& method, Json params, McpClock::time_point deadline);
  Status send_notification(const std::string& method, Json params);
  Status connect_once(McpClock::time_point deadline);
  Status handshake(McpClock::time_point deadline);
  Status initialize_legacy(const std::string& offered, McpClock::time_point deadline);
  Result<std::vector<McpTool>> fetch_tools(McpClock::time_point deadline);
  Status wait_until_ready(McpClock::time_point deadline);
  McpTransportEvents make_events();
  void on_message(Json message);
  void on_closed(const std::string& reason);
  void fail_pending(const std::string& why, const std::string& code);
  void note_problem(const std::string& problem);
  void worker_loop();
  void restart_loop();
  void enqueue(std::function<void()> task);
  McpHeaders headers_for(const Json& message) const;

  McpClientConfig config_;
  std::unique_ptr<McpTransport> transport_;

  mutable std::mutex mutex_;  // guards everything below except what is atomic
  std::condition_variable state_cv_;
  State state_ = State::kStopped;
  std::string last_failure_;
  std::string last_exit_;  // how the server process last ended (stdio)
  int consecutive_failures_ = 0;
  enum class Era { kUnknown, kLegacy, kModern } era_ = Era::kUnknown;
  std::string protocol_version_;
  Json server_info_;
  Json server_capabilities_;
  std::string instructions_;
  std::vector<McpTool> tools_;
  std::function<void()> tools_changed_;
  std::map<int64_t, std::shared_ptr<Pending>> pending_;
  int64_t next_id_ = 1;
  std::deque<std::string> problems_;
  McpClock::time_point ready_since_;

  std::mutex connect_mutex_;  // one connect/handshake at a time

  std::mutex worker_mutex_;
  std::condition_variable worker_cv_;
  std::deque<std::function<void()>> tasks_;
  bool worker_stop_ = false;
  bool restart_queued_ = false;  // guarded by mutex_
  std::thread worker_;

  std::atomic<int> restarts_{0};
};

}  // namespace cove::assistant
