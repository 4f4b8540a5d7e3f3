// OpenAI request bodies -> GenerationInput: POST /v1/chat/completions and /v1/completions.
// Every field is type- and range-checked; a bad one is a 400 naming it in `param`. Bodies are
// parsed as nlohmann::ordered_json so JSON schemas and tool definitions keep their key order.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/api_error.h"
#include "server/generation.h"

namespace cove::server {

struct OpenAiRequest {
  GenerationInput input;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // cove's extension (chat only): "new" or "" starts a stored conversation, an id continues one;
  // absent (or null) keeps the request stateless (conversation_api.h).
  std::optional<std::string> conversation_id;
};

ApiResult<OpenAiRequest> parse_chat_request(std::string_view body);
ApiResult<OpenAiRequest> parse_completion_request(std::string_view body);

// The body as an object, or a 400 for malformed JSON / a non-object.
ApiResult<nlohmann::ordered_json> parse_json_body(std::string_view body);

}  // namespace cove::server
