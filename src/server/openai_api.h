// The OpenAI-compatible API: POST /v1/chat/completions, POST /v1/completions, GET /v1/models.
// Parsing lives in openai_request.h, the conversion to a scheduler request in generation.h;
// this file runs requests on the engine and writes OpenAI's response objects and SSE chunks.
#pragma once

#include "server/router.h"
#include "server/server.h"

namespace cove::server {

void register_openai_routes(Router& router, ServerState& state);

}  // namespace cove::server
