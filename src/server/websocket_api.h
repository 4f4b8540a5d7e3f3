// WebSocket API at /v1/ws: several chat requests multiplexed on one socket, as JSON text
// messages.
//
// Client -> server:
//   {"type": "chat", "id": "<client-chosen>", ...the body of POST /v1/chat/completions...}
//   {"type": "cancel", "id": "<id of a running chat>"}
// Server -> client:
//   {"type": "token", "id": ..., "text": "..."}                         (as text is generated)
//   {"type": "done", "id": ..., "finish_reason": "stop" | "length" | "tool_calls" |
//    "cancelled", "usage": {prompt_tokens, completion_tokens, total_tokens}[, "tool_calls": [...]]}
//   {"type": "error", "id": ... | null, "error": {"message", "type", "code"}}
//
// A chat body is parsed exactly as the OpenAI endpoint parses it ("stream" is ignored: a socket
// always streams). Forced tool calls (tool_choice "required" or a named function) send no token
// events; the calls arrive in "done". Malformed messages get an error event and the socket stays
// open. The API key, when set, is checked on the upgrade request. Closing the socket cancels
// every request still running on it.
#pragma once

#include "server/http_server.h"
#include "server/router.h"
#include "server/server.h"

namespace cove::server {

// GET /v1/ws without an upgrade: 426 saying how to connect.
void register_websocket_routes(Router& router, ServerState& state);

// For Server::set_upgrade_handler: takes WebSocket upgrades of /v1/ws, leaves the rest.
UpgradeHandler make_websocket_upgrade_handler(ServerState& state);

}  // namespace cove::server
