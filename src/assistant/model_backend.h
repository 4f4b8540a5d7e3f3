// What the assistant needs from a model: one generation step over a list of OpenAI-style
// messages, optionally offering tools. The assistant loop (assistant.h) calls it once per step;
// the in-process engine (server/assistant_backend.h, over the continuous-batching scheduler)
// and test doubles implement it. A remote OpenAI-compatible endpoint can implement it later.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cove::assistant {

enum class StepToolMode {
  kNone,    // tools are not offered; the reply is text
  kAuto,    // the model may answer or call tools in its own format (parsed from the text)
  kForced,  // the reply is generated under a grammar that only admits a call of one of the
            // tools (or of `forced_tool`): what makes tool use work on models without a
            // reliable native format
};

struct StepRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // role, content, ...
  nlohmann::ordered_json tools;  // the OpenAI `tools` array, or null
  StepToolMode tool_mode = StepToolMode::kNone;
  std::string forced_tool;  // kForced: this tool only ("" = any of `tools`)
  int64_t max_tokens = -1;  // < 0: until end-of-generation or a full context
  float temperature = 0.7f;
  std::optional<uint64_t> seed;
};

struct StepToolCall {
  std::string id;         // "call_..."; made up by the backend when the model gives none
  std::string name;
  std::string arguments;  // JSON text
};

struct StepResult {
  std::string text;                     // the answer (empty when the step made tool calls)
  std::vector<StepToolCall> tool_calls;  // empty when the step answered in text
  std::string finish_reason;            // "stop", "length", "tool_calls", "cancelled"
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// Streamed pieces of a text answer (never of tool-call text). Returning false cancels the step,
// which then ends with finish_reason "cancelled" and the text so far.
using StepTextSink = std::function<bool(std::string_view piece)>;

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;
  virtual const std::string& name() const = 0;
  // The context window in tokens (prompt and reply together).
  virtual int64_t context_tokens() const = 0;
  // Tokens `text` takes with this model's tokenizer.
  virtual int64_t count_tokens(std::string_view text) const = 0;
  // Runs one step. Errors: the prompt does not fit, the template cannot render the messages,
  // the engine failed or is shutting down (code "overloaded" when its queue is full).
  virtual Result<StepResult> generate(const StepRequest& request, const StepTextSink& on_text) = 0;
};

}  // namespace cove::assistant
