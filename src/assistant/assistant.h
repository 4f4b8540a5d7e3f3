// The assistant loop: one user turn of a stored conversation, from the new message to the final
// answer, shared by `cove chat`, the HTTP API (conversation_id) and, later, the messaging
// channels.
//
// run_turn():
//   1. stores the user message (durably: once on_stored has seen it, it survives a crash);
//   2. picks the model (router.h; an explicit model wins) and records the choice;
//   3. builds the prompt with the context manager (context.h: system prompt, relevant memory,
//      summary of older turns, sliding window, the current turn), passing it through the
//      plugins' before_prompt hook;
//   4. runs a step on the model (model_backend.h) offering the registry's tools;
//   5. if the step called tools: stores the assistant message with its tool_calls, runs each
//      call through the ToolRegistry (policies, plugins' before_tool_call, schema check, the
//      log), stores each result as a "tool" message, and goes back to 3;
//   6. otherwise passes the text through the plugins' after_reply hook, stores it as the final
//      assistant message and returns it.
// The loop stops after max_steps tool-calling steps: the last step is then run without tools,
// so the turn still ends with an answer. A refused or failed tool call is fed back to the model
// as the tool's answer; the conversation goes on.
//
// Tool mode per step: kAuto for models with a native tool-call format; kForced for the first
// step when the request or the model's config forces a call (the tiny test models, or models
// without a reliable format), then kAuto/kNone for the steps after a tool result so the model can
// answer.
//
// Thread safety: run_turn may be called from several threads for different conversations; two
// turns of the same conversation at once are serialized.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/config.h"
#include "assistant/context.h"
#include "assistant/memory.h"
#include "assistant/model_backend.h"
#include "assistant/store.h"
#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

class PluginHost;

// How a turn may use tools.
enum class TurnToolUse {
  kAuto,      // the model decides (the model's configured tool mode applies)
  kNone,      // no tools offered this turn
  kRequired,  // the first step must call a tool (grammar-forced); later steps may answer
};

struct TurnRequest {
  std::string conversation_id;  // "" starts a new conversation
  std::string user_message;
  std::string model;            // "" lets the router choose
  TurnToolUse tool_use = TurnToolUse::kAuto;
  std::string forced_tool;      // with kRequired: this tool only ("" = any)
  int64_t max_tokens = -1;      // per step; < 0: the backend's limit
  float temperature = 0.7f;
  std::optional<uint64_t> seed;
};

struct TurnEvents {
  // Called after each message of the turn is committed to the store (the user message first).
  std::function<void(const Message& stored)> on_stored;
  // Pieces of the final answer as they are generated. Returning false cancels the turn: what was
  // generated so far is stored (marked cut short) and run_turn returns with cancelled = true.
  std::function<bool(std::string_view piece)> on_text;
  // Each tool call, after it ran (or was refused).
  std::function<void(const ToolLogEntry& call)> on_tool;
};

struct TurnResult {
  std::string conversation_id;
  std::string model;        // the model that wrote the final answer
  std::string route;        // why it was chosen (RouteDecision reasons, joined)
  Message reply;            // the final assistant message as stored
  std::vector<Message> messages;  // everything the turn stored, in order (user message first)
  int steps = 0;            // model steps run
  int64_t prompt_tokens = 0;       // summed over the steps
  int64_t completion_tokens = 0;
  bool cancelled = false;
  // Why the final answer's generation ended: "stop" (the model finished), "length" (it hit
  // max_tokens or a full context), "cancelled".
  std::string finish_reason = "stop";
};

// Looks up a model by its config name; errors when it cannot be loaded or reached.
using ModelResolver = std::function<Result<std::shared_ptr<ModelBackend>>(const std::string& name)>;

struct AssistantParts {
  const Config* config = nullptr;  // models, routes, tools.max_steps, context
  Store* store = nullptr;
  Memory* memory = nullptr;
  // The assistant takes over the registry's log sink (ToolRegistry::set_log_sink) to see each
  // call's ToolLogEntry; entries also go to `tool_log` below. The registry must outlive it.
  ToolRegistry* tools = nullptr;
  PluginHost* plugins = nullptr;   // may be null
  ModelResolver models;
  // Optional. Every tool call's log entry, whatever turn (or other caller) made it.
  ToolLogSink tool_log;
  // Optional. Notable events as one line each (a tool list that did not fit a model's context);
  // default: stderr, "cove: assistant: ...".
  std::function<void(const std::string&)> log;
  // Optional overrides of the compaction hooks. Empty: a short model step on the turn's model
  // (the summary: an instruction plus the folded turns, max_tokens bounded; the notes: lines
  // the model starts with "NOTE:").
  Summarizer summarize;
  NotesHook notes;
};

class Assistant {
 public:
  explicit Assistant(AssistantParts parts);
  ~Assistant();
  Assistant(const Assistant&) = delete;
  Assistant& operator=(const Assistant&) = delete;

  // Errors: unknown conversation ("not_found"), an empty message ("bad_request"), no model
  // available ("no_model_available"), a prompt that cannot fit ("context_overflow"), a store
  // failure. A failure after the user message was stored leaves it stored.
  Result<TurnResult> run_turn(const TurnRequest& request, const TurnEvents& events = {});

  // Folds the conversation's older turns into its summary now (`/compact` in cove chat):
  // everything before its latest turn. `model` "" uses the routes' default.
  Status compact(const std::string& conversation_id);
  // The same, saying what was folded; nullopt when there was nothing to fold.
  Result<std::optional<CompactionEvent>> compact_now(const std::string& conversation_id,
                                                     const std::string& model = "");

  // Compactions so far, for metrics.
  int64_t compactions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cove::assistant
