// Tools over the assistant's own data: long-term memory (memory_save, memory_search, over
// Memory's FTS5 index) and the stored conversations (conversation_search, over Store::search),
// which is how the model finds the original words of turns that compaction folded into a
// summary.
//
// conversation_search looks in the conversation whose turn is running (the assistant loop sets
// it with ConversationScope around its tool calls) unless the call asks for all conversations.
#pragma once

#include <string>

#include "assistant/memory.h"
#include "assistant/store.h"
#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

struct MemoryToolOptions {
  Memory* memory = nullptr;  // memory_save / memory_search (not registered when null)
  Store* store = nullptr;    // conversation_search (not registered when null)
  int max_results = 10;      // the most hits one call returns
};

// Registers the tools whose backing object is set. Errors: a name already taken; nothing is
// registered then.
Status register_memory_tools(ToolRegistry& registry, const MemoryToolOptions& options);

// While alive, conversation_search calls on this thread default to `conversation_id`.
class ConversationScope {
 public:
  explicit ConversationScope(std::string conversation_id);
  ~ConversationScope();
  ConversationScope(const ConversationScope&) = delete;
  ConversationScope& operator=(const ConversationScope&) = delete;

  // The innermost scope's conversation on this thread, "" when none.
  static const std::string& current();

 private:
  std::string id_;
  const std::string* previous_;
};

}  // namespace cove::assistant
