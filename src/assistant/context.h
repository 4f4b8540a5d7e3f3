// The context manager: builds each prompt of a conversation within the model's token budget.
//
// A prompt is, in order:
//   1. the system message: the system prompt, then the long-term memory entries relevant to the
//      new message (FTS search on its text), then the stored summary of older turns;
//   2. the most recent turns (a sliding window over the stored messages after the summary);
//   3. the current turn: the last user message and anything after it (tool calls and results).
// The system prompt and the current turn are never dropped: if they alone exceed the budget,
// build() fails with code "context_overflow".
//
// When everything would not fit, the oldest turns of the window are compacted:
//   a. the notes hook sees them first and may return durable notes, saved to long-term memory;
//   b. the summarizer folds them and the previous summary into a new summary, stored in SQLite
//      (the original messages stay there, searchable);
//   c. a log line is written and the compaction counter goes up (for the server's /metrics).
// Compaction cuts only at turn starts (user messages), so a tool call never loses its result,
// and leaves the window at most half full, so the next turns do not compact again at once.
// If the summarizer fails, the window still slides (older turns are left out, not lost) and the
// failure is logged: the conversation keeps working.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "assistant/memory.h"
#include "assistant/store.h"
#include "core/result.h"

namespace cove::assistant {

// Tokens in a text (the model's tokenizer in production).
using TokenCounter = std::function<int64_t(std::string_view text)>;
// Sees the turns about to be summarized; returns notes worth keeping in long-term memory.
using NotesHook =
    std::function<Result<std::vector<std::string>>(const std::vector<Message>& turns)>;
// Folds `turns` into `previous_summary` ("" for the first compaction); returns the new summary.
using Summarizer = std::function<Result<std::string>(const std::string& previous_summary,
                                                     const std::vector<Message>& turns)>;

struct ContextOptions {
  std::string system_prompt;
  int64_t budget_tokens = 2048;    // the whole prompt (context size minus the reply's reserve)
  int64_t per_message_tokens = 4;  // role markers and separators a template adds per message
  int memory_results = 3;          // memory entries to look up per prompt
  double memory_share = 0.25;      // at most this share of the budget for memory entries
  double window_after_compaction = 0.5;  // share of the window's room it fills after compacting
};

struct CompactionEvent {
  std::string conversation_id;
  int64_t through_seq = 0;     // the summary now covers messages up to this seq
  int64_t messages = 0;        // messages folded into the summary by this compaction
  int64_t tokens_folded = 0;   // their tokens
  int64_t summary_tokens = 0;  // the new summary's tokens
  int64_t notes_saved = 0;     // notes the hook saved to memory
  bool summarized = true;      // false when the summarizer failed and the window only slid
};

struct BuiltPrompt {
  // OpenAI-style messages: role, content, and where present tool_calls (parsed JSON),
  // tool_call_id and name.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  int64_t tokens = 0;                        // by the token counter, with per-message overhead
  std::vector<MemoryEntry> memories;         // the entries injected
  std::string summary;                       // the summary injected ("" when none)
  int64_t window_first_seq = 0;              // first stored message in the window (0 = none)
  int64_t current_first_seq = 0;             // first message of the current turn
  std::vector<CompactionEvent> compactions;  // what this build compacted
};

class ContextManager {
 public:
  ContextManager(Store& store, Memory& memory, ContextOptions options, TokenCounter count_tokens,
                 Summarizer summarize, NotesHook save_notes = {});

  // Builds the prompt for answering the conversation's last stored message, compacting first
  // when needed. Errors: unknown conversation ("not_found"), no messages, or the system prompt
  // plus the current turn over the budget ("context_overflow").
  Result<BuiltPrompt> build(const std::string& conversation_id);

  // Compactions so far (all conversations), for metrics.
  int64_t compactions() const { return compactions_.load(); }
  // Where compaction log lines go (default: stderr, "cove: context: ...").
  void set_logger(std::function<void(const std::string&)> log) { log_ = std::move(log); }

 private:
  int64_t message_tokens(const Message& m) const;
  Result<std::optional<CompactionEvent>> compact(const std::string& conversation_id,
                                                 const std::string& previous_summary,
                                                 const std::vector<Message>& turns);

  Store& store_;
  Memory& memory_;
  ContextOptions options_;
  TokenCounter count_tokens_;
  Summarizer summarize_;
  NotesHook save_notes_;
  std::function<void(const std::string&)> log_;
  std::atomic<int64_t> compactions_{0};
};

}  // namespace cove::assistant
