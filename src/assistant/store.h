// Conversations on disk: COVE_HOME/cove.db (SQLite, WAL). Every message is kept with its role,
// content, tool calls (assistant) or tool result (role "tool"), time, the model that wrote it
// and its token counts; an FTS5 index over message text serves search. Compaction summaries are
// kept per conversation (the originals are never deleted by compaction).
//
// append_message() returns only after its transaction is committed with synchronous=FULL, so a
// caller may acknowledge a message to the user as soon as it returns.
//
// Schema (version 1; table schema_version holds the number):
//   conversations(id TEXT PK, title, created_at, updated_at)
//   messages(id INTEGER PK, conversation_id -> conversations ON DELETE CASCADE, seq, role,
//            content, tool_calls, tool_call_id, name, model, prompt_tokens, completion_tokens,
//            created_at)                       + messages_fts (FTS5 over content, tool_calls)
//   summaries(id INTEGER PK, conversation_id, through_seq, summary, created_at)
//   memories(id INTEGER PK, content, tags, source, created_at)   + memories_fts (memory.h)
// Times are milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "assistant/sqlite_db.h"
#include "core/result.h"

namespace cove::assistant {

struct Message {
  int64_t id = 0;               // assigned by append_message
  std::string conversation_id;  // assigned by append_message
  int64_t seq = 0;              // 1, 2, ... within the conversation; assigned
  std::string role;             // system | user | assistant | tool
  std::string content;
  std::string tool_calls;    // assistant: the OpenAI tool_calls array as JSON text, "" if none
  std::string tool_call_id;  // tool: the call this result answers
  std::string name;          // tool: the tool's name
  std::string model;         // assistant: the model that wrote it
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t created_at_ms = 0;  // assigned when 0
};

struct Conversation {
  std::string id;
  std::string title;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t message_count = 0;
};

// The latest compaction of a conversation: a summary of messages with seq <= through_seq.
struct Summary {
  int64_t through_seq = 0;
  std::string text;
  int64_t created_at_ms = 0;
};

struct MessageHit {
  Message message;
  std::string snippet;  // the matching text with [brackets] around the hits
  double score = 0;     // higher is better (negated bm25)
};

class Store {
 public:
  // Opens or creates the database and brings its schema to the current version. Errors name
  // the file: not a database, a newer schema than this build knows, unwritable folder.
  static Result<std::unique_ptr<Store>> open(const std::string& path);

  Result<Conversation> create_conversation(const std::string& title = "");
  // Most recently updated first.
  Result<std::vector<Conversation>> list_conversations(int limit = 50, int offset = 0);
  // Error code "not_found" for an unknown id.
  Result<Conversation> get_conversation(const std::string& id);
  Status delete_conversation(const std::string& id);

  // Appends and commits durably; fills id, seq, conversation_id and created_at_ms. The first
  // user message becomes the title of an untitled conversation.
  Result<Message> append_message(const std::string& conversation_id, Message message);
  // Messages with seq > after_seq, in order.
  Result<std::vector<Message>> messages(const std::string& conversation_id, int64_t after_seq = 0);

  // Full-text search over message text (every word must occur), best first; "" conversation_id
  // searches all conversations.
  Result<std::vector<MessageHit>> search(const std::string& query, int limit = 10,
                                         const std::string& conversation_id = "");

  Status save_summary(const std::string& conversation_id, int64_t through_seq,
                      const std::string& text);
  // The latest summary, or nullopt when the conversation was never compacted.
  Result<std::optional<Summary>> latest_summary(const std::string& conversation_id);

  const std::shared_ptr<Database>& database() const { return db_; }

 private:
  explicit Store(std::shared_ptr<Database> db) : db_(std::move(db)) {}
  std::shared_ptr<Database> db_;
};

}  // namespace cove::assistant
