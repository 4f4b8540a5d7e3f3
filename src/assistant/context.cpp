// The context manager (context.h): prompt assembly within a token budget, and compaction of
// older turns into a stored summary.
#include "assistant/context.h"

#include <algorithm>
#include <cstdio>

namespace cove::assistant {

namespace {

constexpr const char* kMemoryHeader = "\n\nNotes from long-term memory:";
constexpr const char* kSummaryHeader = "\n\nSummary of the earlier conversation:\n";
constexpr double kSummaryShare = 0.3;  // the injected summary's cap, as a share of the budget
constexpr int kMaxCompactionsPerBuild = 2;

std::string memory_block(const std::vector<MemoryEntry>& entries) {
  if (entries.empty()) return "";
  std::string block = kMemoryHeader;
  for (const MemoryEntry& e : entries) block += "\n- " + e.content;
  return block;
}

std::string summary_block(const std::string& summary) {
  return summary.empty() ? "" : kSummaryHeader + summary;
}

// The longest tail of `text` (cut at a UTF-8 boundary, marked with "...") that counts at most
// `max_tokens`; "" when not even the marker fits.
std::string keep_tail(const std::string& text, int64_t max_tokens, const TokenCounter& count) {
  if (count(text) <= max_tokens) return text;
  size_t lo = 1, hi = text.size();  // candidate start positions; smaller start = longer text
  std::string best;
  while (lo <= hi) {
    size_t mid = lo + (hi - lo) / 2;
    size_t start = mid;
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
    std::string candidate = "..." + text.substr(start);
    if (count(candidate) <= max_tokens) {
      best = candidate;
      if (mid == 0) break;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return best;
}

nlohmann::ordered_json message_json(const Message& m) {
  nlohmann::ordered_json j;
  j["role"] = m.role;
  j["content"] = m.content;
  if (!m.tool_calls.empty()) {
    nlohmann::ordered_json calls = nlohmann::ordered_json::parse(m.tool_calls, nullptr, false);
    if (!calls.is_discarded() && calls.is_array() && !calls.empty()) j["tool_calls"] = calls;
  }
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  return j;
}

}  // namespace

ContextManager::ContextManager(Store& store, Memory& memory, ContextOptions options,
                               TokenCounter count_tokens, Summarizer summarize,
                               NotesHook save_notes)
    : store_(store),
      memory_(memory),
      options_(std::move(options)),
      count_tokens_(std::move(count_tokens)),
      summarize_(std::move(summarize)),
      save_notes_(std::move(save_notes)),
      log_([](const std::string& line) {
        std::fprintf(stderr, "cove: context: %s\n", line.c_str());
      }) {}

int64_t ContextManager::message_tokens(const Message& m) const {
  int64_t n = options_.per_message_tokens + count_tokens_(m.content);
  if (!m.tool_calls.empty()) n += count_tokens_(m.tool_calls);
  return n;
}

Result<std::optional<CompactionEvent>> ContextManager::compact(const std::string& conversation_id,
                                                               const std::string& previous_summary,
                                                               const std::vector<Message>& turns) {
  CompactionEvent event;
  event.conversation_id = conversation_id;
  event.through_seq = turns.back().seq;
  event.messages = static_cast<int64_t>(turns.size());
  for (const Message& m : turns) event.tokens_folded += message_tokens(m);

  // a. Durable notes first, so nothing the model wanted to keep depends on the summary.
  if (save_notes_) {
    Result<std::vector<std::string>> notes = save_notes_(turns);
    if (!notes) {
      log_("conversation " + conversation_id + ": the notes hook failed (" + notes.message() +
           "); compacting without notes");
    } else {
      for (const std::string& note : *notes) {
        Result<MemoryEntry> saved = memory_.save(note, "", conversation_id);
        if (!saved) return saved.error();
        ++event.notes_saved;
      }
    }
  }
  // b. The summary, stored; the original messages stay in SQLite.
  Result<std::string> summary = summarize_ ? summarize_(previous_summary, turns)
                                           : Result<std::string>(Error{"no summarizer configured"});
  if (!summary) {
    event.summarized = false;
    log_("conversation " + conversation_id + ": summarizing " + std::to_string(turns.size()) +
         " messages failed (" + summary.message() + "); leaving them out of the window instead");
    return std::optional<CompactionEvent>(event);
  }
  if (Status s = store_.save_summary(conversation_id, event.through_seq, *summary); !s) {
    return Error{s.message()};
  }
  event.summary_tokens = count_tokens_(*summary);
  // c. Report.
  const int64_t n = ++compactions_;
  log_("compacted conversation " + conversation_id + ": " + std::to_string(event.messages) +
       " messages (" + std::to_string(event.tokens_folded) + " tokens) through #" +
       std::to_string(event.through_seq) + " into a " + std::to_string(event.summary_tokens) +
       "-token summary; " + std::to_string(event.notes_saved) + " notes saved (compaction " +
       std::to_string(n) + ")");
  return std::optional<CompactionEvent>(event);
}

Result<BuiltPrompt> ContextManager::build(const std::string& conversation_id) {
  if (!count_tokens_) return Error{"context manager: no token counter configured"};
  BuiltPrompt prompt;
  const int64_t budget = options_.budget_tokens;
  int64_t slid_through = 0;  // messages left out after a failed summarization, this build only
  for (int round = 0;; ++round) {
    Result<std::optional<Summary>> stored = store_.latest_summary(conversation_id);
    if (!stored) return stored.error();
    std::string summary = *stored ? (*stored)->text : "";
    const int64_t through = std::max(*stored ? (*stored)->through_seq : 0, slid_through);
    Result<std::vector<Message>> loaded = store_.messages(conversation_id, through);
    if (!loaded) return loaded.error();
    const std::vector<Message>& msgs = *loaded;
    if (msgs.empty()) {
      return Error{"conversation " + conversation_id + " has no message to answer"};
    }

    // The current turn: from the last user message to the end.
    size_t current_start = msgs.size() - 1;
    for (size_t i = msgs.size(); i-- > 0;) {
      if (msgs[i].role == "user") {
        current_start = i;
        break;
      }
    }
    std::vector<int64_t> tokens(msgs.size());
    for (size_t i = 0; i < msgs.size(); ++i) tokens[i] = message_tokens(msgs[i]);
    int64_t current_tokens = 0;
    for (size_t i = current_start; i < msgs.size(); ++i) current_tokens += tokens[i];
    const int64_t system_tokens =
        options_.per_message_tokens + count_tokens_(options_.system_prompt);
    if (system_tokens + current_tokens > budget) {
      return Error{"the system prompt (" + std::to_string(system_tokens) +
                       " tokens) and the current message (" + std::to_string(current_tokens) +
                       " tokens) exceed the context budget of " + std::to_string(budget) +
                       " tokens",
                   "context_overflow"};
    }
    const int64_t fixed = system_tokens + current_tokens;

    // Relevant memory for the new message, as many entries as fit its share.
    std::vector<MemoryEntry> memories;
    if (options_.memory_results > 0) {
      Result<std::vector<MemoryHit>> hits =
          memory_.search(msgs[current_start].content, options_.memory_results);
      if (!hits) return hits.error();
      const int64_t memory_room =
          std::min(static_cast<int64_t>(options_.memory_share * budget), budget - fixed);
      for (const MemoryHit& h : *hits) {
        memories.push_back(h.entry);
        if (count_tokens_(memory_block(memories)) > memory_room) {
          memories.pop_back();
          break;
        }
      }
    }
    // The summary, capped so it never crowds out the recent turns entirely.
    const int64_t summary_cap = static_cast<int64_t>(kSummaryShare * budget);
    if (!summary.empty() && count_tokens_(summary_block(summary)) > summary_cap) {
      summary = keep_tail(summary, summary_cap - count_tokens_(kSummaryHeader), count_tokens_);
    }
    auto system_content = [&] {
      return options_.system_prompt + memory_block(memories) + summary_block(summary);
    };
    auto system_total = [&] {
      return options_.per_message_tokens + count_tokens_(system_content());
    };

    int64_t history_tokens = 0;
    for (size_t i = 0; i < current_start; ++i) history_tokens += tokens[i];
    int64_t room = budget - current_tokens - system_total();

    size_t window_start = 0;  // first history message kept in the prompt
    if (history_tokens > room && current_start > 0 && round < kMaxCompactionsPerBuild) {
      // Keep the newest turns within a share of the room, cut at a turn start, compact the rest.
      const int64_t target = static_cast<int64_t>(options_.window_after_compaction *
                                                  static_cast<double>(std::max<int64_t>(room, 0)));
      size_t keep_from = current_start;
      for (int64_t kept = 0; keep_from > 0 && kept + tokens[keep_from - 1] <= target; --keep_from) {
        kept += tokens[keep_from - 1];
      }
      while (keep_from < current_start && msgs[keep_from].role != "user") ++keep_from;
      if (keep_from == 0) keep_from = current_start;  // (cannot happen: history exceeds target)
      std::vector<Message> turns(msgs.begin(),
                                 msgs.begin() + static_cast<std::ptrdiff_t>(keep_from));
      Result<std::optional<CompactionEvent>> event =
          compact(conversation_id, *stored ? (*stored)->text : "", turns);
      if (!event) return event.error();
      if (*event) {
        if (!(*event)->summarized) slid_through = (*event)->through_seq;
        prompt.compactions.push_back(**event);
      }
      continue;  // rebuild: new summary, and memory may now hold the saved notes
    }

    // Still over (a large summary, or compaction is exhausted): drop memory entries from the
    // least relevant, then the oldest turns, then shorten the summary.
    while (history_tokens > room && !memories.empty()) {
      memories.pop_back();
      room = budget - current_tokens - system_total();
    }
    while (history_tokens > room && window_start < current_start) {
      size_t next = window_start + 1;
      while (next < current_start && msgs[next].role != "user") ++next;
      for (size_t i = window_start; i < next; ++i) history_tokens -= tokens[i];
      window_start = next;
    }
    if (fixed + count_tokens_(memory_block(memories) + summary_block(summary)) > budget) {
      const int64_t left =
          budget - fixed - count_tokens_(memory_block(memories)) - count_tokens_(kSummaryHeader);
      summary = left > 0 ? keep_tail(summary, left, count_tokens_) : "";
    }

    // Assemble.
    prompt.messages = nlohmann::ordered_json::array();
    prompt.messages.push_back({{"role", "system"}, {"content", system_content()}});
    for (size_t i = window_start; i < msgs.size(); ++i)
      prompt.messages.push_back(message_json(msgs[i]));
    prompt.tokens = system_total() + history_tokens + current_tokens;
    prompt.memories = std::move(memories);
    prompt.summary = summary;
    prompt.window_first_seq = window_start < current_start ? msgs[window_start].seq : 0;
    prompt.current_first_seq = msgs[current_start].seq;
    return prompt;
  }
}

}  // namespace cove::assistant
