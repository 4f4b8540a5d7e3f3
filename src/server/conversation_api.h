// Stored conversations over HTTP (cove's extension of the OpenAI API; docs/ASSISTANT.md, "HTTP
// API"). Only a server started with a store (`cove serve --config`) has them; otherwise these
// answer 404 saying so.
//
//   POST /v1/chat/completions with "conversation_id": "new" (or "") starts a conversation, an id
//        continues one. The last entry of `messages` must be a user message: it is the new turn.
//        Earlier entries are ignored; the history comes from the store. The turn runs through
//        the assistant loop (tools, memory, routing) on a ConversationService worker. Streamed:
//        the first chunk goes out only after the user message is committed (that chunk is the
//        acknowledgement), then the final answer's text. Every response and chunk carries
//        "conversation_id"; the tool calls that ran come in "cove_tool_calls". A client that
//        hangs up cancels the turn.
//   GET    /v1/conversations?limit=N&offset=M   most recently updated first
//   GET    /v1/conversations/{id}               with its messages
//   DELETE /v1/conversations/{id}
#pragma once

#include "server/http.h"
#include "server/openai_request.h"
#include "server/router.h"
#include "server/server.h"

namespace cove::server {

void register_conversation_routes(Router& router, ServerState& state);

// The chat-completions handler's branch for a request with a conversation_id.
void run_conversation_turn(ServerState& state, OpenAiRequest request, ResponderPtr responder);

}  // namespace cove::server
