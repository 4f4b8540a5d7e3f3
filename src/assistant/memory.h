// Long-term memory: short notes that outlive a conversation ("the user's dog is called Rex"),
// kept in cove.db's memories table with an FTS5 index. The memory_save / memory_search tools,
// the context manager (relevant notes go into every prompt) and `cove memory` all use this.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "assistant/sqlite_db.h"
#include "core/result.h"

namespace cove::assistant {

struct MemoryEntry {
  int64_t id = 0;
  std::string content;
  std::string tags;    // free words that also match searches ("family pets")
  std::string source;  // where it came from: a conversation id, "cli", ...
  int64_t created_at_ms = 0;
};

struct MemoryHit {
  MemoryEntry entry;
  double score = 0;  // higher is more relevant (negated bm25)
};

class Memory {
 public:
  // Uses the database of a Store (Store::database()), whose schema holds the memories table.
  explicit Memory(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  // Saves a note and commits it. Saving the same text again returns the existing entry.
  // Empty or whitespace-only content is an error.
  Result<MemoryEntry> save(const std::string& content, const std::string& tags = "",
                           const std::string& source = "");
  // Entries sharing any meaningful word with `query`, most relevant first (BM25 over content
  // and tags). A query of only common words finds nothing.
  Result<std::vector<MemoryHit>> search(const std::string& query, int limit = 5);
  // Newest first.
  Result<std::vector<MemoryEntry>> list(int limit = 50, int offset = 0);
  // Error code "not_found" when there is no such entry.
  Status forget(int64_t id);

 private:
  std::shared_ptr<Database> db_;
};

}  // namespace cove::assistant
