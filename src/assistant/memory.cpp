// Long-term memory over SQLite FTS5 (memory.h).
#include "assistant/memory.h"

#include <optional>

namespace cove::assistant {

namespace {

MemoryEntry read_entry(const Statement& s) {
  return MemoryEntry{s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4)};
}

bool is_blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

}  // namespace

Result<MemoryEntry> Memory::save(const std::string& content, const std::string& tags,
                                 const std::string& source) {
  if (is_blank(content)) return Error{"memory: cannot save an empty note"};
  MemoryEntry entry{0, content, tags, source, now_ms()};
  Status s = db_->write([&](Connection& c) -> Status {
    Result<Statement> existing = c.prepare(
        "SELECT id, content, tags, source, created_at FROM memories WHERE content = ?1 LIMIT 1");
    if (!existing) return existing.status();
    existing->bind(1, content);
    Result<bool> row = existing->step();
    if (!row) return row.status();
    if (*row) {
      entry = read_entry(*existing);
      return Status::ok();
    }
    Result<Statement> ins = c.prepare(
        "INSERT INTO memories(content, tags, source, created_at) VALUES (?1, ?2, ?3, ?4)");
    if (!ins) return ins.status();
    ins->bind(1, content).bind(2, tags).bind(3, source).bind(4, entry.created_at_ms);
    if (Status r = ins->run(); !r) return r;
    entry.id = c.last_insert_rowid();
    return Status::ok();
  });
  if (!s) return Error{s.message()};
  return entry;
}

Result<std::vector<MemoryHit>> Memory::search(const std::string& query, int limit) {
  std::vector<MemoryHit> out;
  const std::string match = fts_query(query, /*all_words=*/false);
  if (match.empty() || limit <= 0) return out;
  Status s = db_->read([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare(
        "SELECT m.id, m.content, m.tags, m.source, m.created_at, bm25(memories_fts) "
        "FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid "
        "WHERE memories_fts MATCH ?1 ORDER BY bm25(memories_fts), m.id DESC LIMIT ?2");
    if (!st) return st.status();
    st->bind(1, match).bind(2, static_cast<int64_t>(limit));
    return st->each_row(
        [&](const Statement& r) { out.push_back({read_entry(r), -r.real(5)}); });
  });
  if (!s) return Error{s.message()};
  return out;
}

Result<std::vector<MemoryEntry>> Memory::list(int limit, int offset) {
  std::vector<MemoryEntry> out;
  Status s = db_->read([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare(
        "SELECT id, content, tags, source, created_at FROM memories ORDER BY id DESC "
        "LIMIT ?1 OFFSET ?2");
    if (!st) return st.status();
    st->bind(1, static_cast<int64_t>(limit)).bind(2, static_cast<int64_t>(offset));
    return st->each_row([&](const Statement& r) { out.push_back(read_entry(r)); });
  });
  if (!s) return Error{s.message()};
  return out;
}

Status Memory::forget(int64_t id) {
  bool found = false;
  Status s = db_->write([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare("DELETE FROM memories WHERE id = ?1");
    if (!st) return st.status();
    st->bind(1, id);
    if (Status r = st->run(); !r) return r;
    found = c.changes() > 0;
    return Status::ok();
  });
  if (!s) return s;
  if (!found) return Error{"memory: no entry with id " + std::to_string(id), "not_found"};
  return Status::ok();
}

}  // namespace cove::assistant
