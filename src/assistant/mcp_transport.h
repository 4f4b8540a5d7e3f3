// The boundary between the MCP client (protocol: handshake, ids, timeouts, restarts) and the
// ways of reaching a server (a child process over stdio, or Streamable HTTP).
//
// A transport moves whole JSON-RPC messages. What arrives from the server goes to the events;
// `send` is safe to call from several threads at once. Tests put a fake in-process transport
// here (tests/mcp_client_test.cpp).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "assistant/mcp_json_rpc.h"
#include "core/result.h"

namespace cove::assistant {

using McpClock = std::chrono::steady_clock;

// Extra HTTP headers for one message (MCP-Protocol-Version, Mcp-Method, Mcp-Param-*); stdio
// ignores them.
using McpHeaders = std::vector<std::pair<std::string, std::string>>;

struct McpTransportEvents {
  // One decoded JSON value from the server (classify it with classify_message).
  std::function<void(Json message)> on_message;
  // Something the server sent could not be used (not JSON, too long); the connection goes on.
  std::function<void(std::string problem)> on_protocol_error;
  // The connection ended without close() being called (the process exited, the pipe broke).
  // `reason` names what happened ("exited with status 1; last stderr: ...").
  std::function<void(std::string reason)> on_closed;
};

class McpTransport {
 public:
  virtual ~McpTransport() = default;

  // Connects (stdio: spawns the process). May be called again after on_closed to reconnect.
  virtual Status open(McpTransportEvents events) = 0;

  // Sends one message; the I/O gives up at `deadline`. Over HTTP the reply (a JSON body or an
  // SSE stream) is read here too and delivered to on_message before send returns.
  virtual Status send(const Json& message, McpClock::time_point deadline,
                      const McpHeaders& headers) = 0;

  // Ends the connection cleanly. No on_closed follows. Safe to call twice.
  virtual void close() = 0;

  // Where the server is, for messages: "stdio 'node server.js'" or "http://host:port/mcp".
  virtual std::string describe() const = 0;

  // A stdio server can die and be restarted; an HTTP endpoint has no process of ours.
  virtual bool restartable() const { return false; }

  // HTTP only: the session the server assigned at initialize, and its end.
  virtual void reset_session() {}
};

}  // namespace cove::assistant
