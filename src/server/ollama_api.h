// The Ollama-compatible API, so tools built for Ollama work unchanged: POST /api/chat and
// POST /api/generate (NDJSON streams by default, one JSON object with "stream": false),
// GET /api/tags, POST /api/show, GET /api/ps, GET /api/version. Request parsing and the reply
// pieces live in ollama_request.h; the conversion to a scheduler request is generation.h's,
// shared with the OpenAI API.
#pragma once

#include "server/router.h"
#include "server/server.h"

namespace cove::server {

void register_ollama_routes(Router& router, ServerState& state);

}  // namespace cove::server
