// Conversation storage over SQLite (store.h): the schema and its version, conversations,
// messages, summaries and message search.
#include "assistant/store.h"

#include <filesystem>
#include <random>

namespace cove::assistant {

namespace {

constexpr int64_t kSchemaVersion = 1;

// Version 1. FTS5 tables use external content (the text lives once, in the base table) kept in
// step by triggers; porter stemming lets "dogs" find "dog".
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE conversations(
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE messages(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL DEFAULT '',
  tool_calls TEXT NOT NULL DEFAULT '',
  tool_call_id TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE(conversation_id, seq));
CREATE VIRTUAL TABLE messages_fts USING fts5(content, tool_calls, content='messages',
  content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts(rowid, content, tool_calls) VALUES (new.id, new.content, new.tool_calls);
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content, tool_calls)
    VALUES ('delete', old.id, old.content, old.tool_calls);
END;
CREATE TABLE summaries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  through_seq INTEGER NOT NULL,
  summary TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX summaries_by_conversation ON summaries(conversation_id, id);
CREATE TABLE memories(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  content TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL);
CREATE VIRTUAL TABLE memories_fts USING fts5(content, tags, content='memories',
  content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts(rowid, content, tags) VALUES (new.id, new.content, new.tags);
END;
CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, content, tags)
    VALUES ('delete', old.id, old.content, old.tags);
END;
)sql";

std::string new_conversation_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string id = "c";
  uint64_t bits = rng();
  for (int i = 0; i < 16; ++i, bits >>= 4) id += kHex[bits & 15];
  return id;
}

constexpr const char* kMessageColumns =
    "id, conversation_id, seq, role, content, tool_calls, tool_call_id, name, model, "
    "prompt_tokens, completion_tokens, created_at";

// id, title, created_at, updated_at, message count.
Conversation read_conversation(const Statement& s) {
  return {s.text(0), s.text(1), s.integer(2), s.integer(3), s.integer(4)};
}

Message read_message(const Statement& s, int first = 0) {
  Message m;
  m.id = s.integer(first + 0);
  m.conversation_id = s.text(first + 1);
  m.seq = s.integer(first + 2);
  m.role = s.text(first + 3);
  m.content = s.text(first + 4);
  m.tool_calls = s.text(first + 5);
  m.tool_call_id = s.text(first + 6);
  m.name = s.text(first + 7);
  m.model = s.text(first + 8);
  m.prompt_tokens = s.integer(first + 9);
  m.completion_tokens = s.integer(first + 10);
  m.created_at_ms = s.integer(first + 11);
  return m;
}

Error not_found(const std::string& id) {
  return Error{"no conversation with id '" + id + "'", "not_found"};
}

// Whether a conversation exists, on the given connection.
Result<bool> conversation_exists(Connection& c, const std::string& id) {
  Result<Statement> s = c.prepare("SELECT 1 FROM conversations WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id);
  return s->step();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return Error{path + ": cannot create the folder " + parent.string() + " (" + ec.message() +
                   ")"};
  }
  Result<std::shared_ptr<Database>> db = Database::open(path);
  if (!db) return db.error();
  // Read the version and create or check the schema in one write transaction, so two processes
  // opening a fresh file do not both create it.
  Status migrated = (*db)->write([&](Connection& c) -> Status {
    Result<Statement> has_table = c.prepare(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
    if (!has_table) return has_table.status();
    if (Result<bool> row = has_table->step(); !row) return row.status();
    if (has_table->integer(0) == 0) {
      Result<Statement> any = c.prepare("SELECT count(*) FROM sqlite_master");
      if (!any) return any.status();
      if (Result<bool> row = any->step(); !row) return row.status();
      if (any->integer(0) != 0) {
        return Error{path + ": a SQLite database, but not cove's (no schema_version table)"};
      }
      if (Status s = c.exec(kSchemaV1); !s) return s;
      return c.exec(
          "CREATE TABLE schema_version(version INTEGER NOT NULL);"
          "INSERT INTO schema_version VALUES (" +
          std::to_string(kSchemaVersion) + ");");
    }
    Result<Statement> version = c.prepare("SELECT version FROM schema_version");
    if (!version) return version.status();
    Result<bool> row = version->step();
    if (!row) return row.status();
    if (!*row) return Error{path + ": the schema_version table is empty"};
    const int64_t v = version->integer(0);
    if (v > kSchemaVersion) {
      return Error{path + ": schema version " + std::to_string(v) + " is newer than this cove (" +
                   std::to_string(kSchemaVersion) + "); upgrade cove"};
    }
    if (v < 1) return Error{path + ": invalid schema version " + std::to_string(v)};
    return Status::ok();  // version 1 is current; later versions add their migrations here
  });
  if (!migrated)
    return migrated.message().rfind(path, 0) == 0 ? Error{migrated.message()}
                                                  : Error{path + ": " + migrated.message()};
  return std::unique_ptr<Store>(new Store(std::move(*db)));
}

Result<Conversation> Store::create_conversation(const std::string& title) {
  Conversation conv;
  conv.id = new_conversation_id();
  conv.title = title;
  conv.created_at_ms = conv.updated_at_ms = now_ms();
  Status s = db_->write([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare(
        "INSERT INTO conversations(id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)");
    if (!st) return st.status();
    st->bind(1, conv.id).bind(2, conv.title).bind(3, conv.created_at_ms);
    return st->run();
  });
  if (!s) return Error{s.message()};
  return conv;
}

Result<std::vector<Conversation>> Store::list_conversations(int limit, int offset) {
  std::vector<Conversation> out;
  Status s = db_->read([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare(
        "SELECT c.id, c.title, c.created_at, c.updated_at, "
        "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
        "FROM conversations c ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?1 OFFSET ?2");
    if (!st) return st.status();
    st->bind(1, static_cast<int64_t>(limit)).bind(2, static_cast<int64_t>(offset));
    return st->each_row([&](const Statement& r) { out.push_back(read_conversation(r)); });
  });
  if (!s) return Error{s.message()};
  return out;
}

Result<Conversation> Store::get_conversation(const std::string& id) {
  std::optional<Conversation> conv;
  Status s = db_->read([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare(
        "SELECT c.id, c.title, c.created_at, c.updated_at, "
        "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
        "FROM conversations c WHERE c.id = ?1");
    if (!st) return st.status();
    st->bind(1, id);
    Result<bool> row = st->step();
    if (!row) return row.status();
    if (*row) conv = read_conversation(*st);
    return Status::ok();
  });
  if (!s) return Error{s.message()};
  if (!conv) return not_found(id);
  return *conv;
}

Status Store::delete_conversation(const std::string& id) {
  bool found = false;
  Status s = db_->write([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare("DELETE FROM conversations WHERE id = ?1");
    if (!st) return st.status();
    st->bind(1, id);
    if (Status r = st->run(); !r) return r;
    found = c.changes() > 0;
    return Status::ok();
  });
  if (!s) return s;
  if (!found) return not_found(id);
  return Status::ok();
}

Result<Message> Store::append_message(const std::string& conversation_id, Message m) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
    return Error{"invalid message role '" + m.role + "' (system, user, assistant or tool)"};
  }
  m.conversation_id = conversation_id;
  if (m.created_at_ms == 0) m.created_at_ms = now_ms();
  bool found = true;
  Status s = db_->write([&](Connection& c) -> Status {
    Result<bool> exists = conversation_exists(c, conversation_id);
    if (!exists) return exists.status();
    if (!*exists) {
      found = false;
      return not_found(conversation_id);
    }
    Result<Statement> next =
        c.prepare("SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE conversation_id = ?1");
    if (!next) return next.status();
    next->bind(1, conversation_id);
    if (Result<bool> row = next->step(); !row) return row.status();
    m.seq = next->integer(0);
    Result<Statement> ins = c.prepare(
        "INSERT INTO messages(conversation_id, seq, role, content, tool_calls, tool_call_id, name, "
        "model, prompt_tokens, completion_tokens, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!ins) return ins.status();
    ins->bind(1, conversation_id).bind(2, m.seq).bind(3, m.role).bind(4, m.content);
    ins->bind(5, m.tool_calls).bind(6, m.tool_call_id).bind(7, m.name).bind(8, m.model);
    ins->bind(9, m.prompt_tokens).bind(10, m.completion_tokens).bind(11, m.created_at_ms);
    if (Status r = ins->run(); !r) return r;
    m.id = c.last_insert_rowid();
    // The first user message names an untitled conversation (first line, at most 60 bytes).
    std::string title;
    if (m.role == "user") {
      title = m.content.substr(0, m.content.find('\n'));
      if (title.size() > 60) {
        size_t cut = 60;
        while (cut > 0 && (static_cast<unsigned char>(title[cut]) & 0xC0) == 0x80) --cut;
        title = title.substr(0, cut) + "...";
      }
    }
    Result<Statement> upd = c.prepare(
        "UPDATE conversations SET updated_at = ?2, "
        "title = CASE WHEN title = '' THEN ?3 ELSE title END WHERE id = ?1");
    if (!upd) return upd.status();
    upd->bind(1, conversation_id).bind(2, m.created_at_ms).bind(3, title);
    return upd->run();
  });
  if (!s) return Error{s.message(), found ? "" : "not_found"};
  return m;
}

Result<std::vector<Message>> Store::messages(const std::string& conversation_id,
                                             int64_t after_seq) {
  std::vector<Message> out;
  bool found = true;
  Status s = db_->read([&](Connection& c) -> Status {
    Result<bool> exists = conversation_exists(c, conversation_id);
    if (!exists) return exists.status();
    if (!*exists) {
      found = false;
      return not_found(conversation_id);
    }
    Result<Statement> st = c.prepare(std::string("SELECT ") + kMessageColumns +
                                     " FROM messages WHERE conversation_id = ?1 AND seq > ?2 "
                                     "ORDER BY seq");
    if (!st) return st.status();
    st->bind(1, conversation_id).bind(2, after_seq);
    return st->each_row([&](const Statement& r) { out.push_back(read_message(r)); });
  });
  if (!s) return Error{s.message(), found ? "" : "not_found"};
  return out;
}

Result<std::vector<MessageHit>> Store::search(const std::string& query, int limit,
                                              const std::string& conversation_id) {
  std::vector<MessageHit> out;
  const std::string match = fts_query(query, /*all_words=*/true);
  if (match.empty()) return out;
  Status s = db_->read([&](Connection& c) -> Status {
    std::string sql = std::string("SELECT ") +
                      "m.id, m.conversation_id, m.seq, m.role, m.content, m.tool_calls, "
                      "m.tool_call_id, m.name, m.model, m.prompt_tokens, m.completion_tokens, "
                      "m.created_at, snippet(messages_fts, 0, '[', ']', '...', 16), "
                      "bm25(messages_fts) FROM messages_fts JOIN messages m ON m.id = "
                      "messages_fts.rowid WHERE messages_fts MATCH ?1";
    if (!conversation_id.empty()) sql += " AND m.conversation_id = ?3";
    sql += " ORDER BY bm25(messages_fts) LIMIT ?2";
    Result<Statement> st = c.prepare(sql);
    if (!st) return st.status();
    st->bind(1, match).bind(2, static_cast<int64_t>(limit));
    if (!conversation_id.empty()) st->bind(3, conversation_id);
    return st->each_row(
        [&](const Statement& r) { out.push_back({read_message(r), r.text(12), -r.real(13)}); });
  });
  if (!s) return Error{s.message()};
  return out;
}

Status Store::save_summary(const std::string& conversation_id, int64_t through_seq,
                           const std::string& text) {
  return db_->write([&](Connection& c) -> Status {
    Result<bool> exists = conversation_exists(c, conversation_id);
    if (!exists) return exists.status();
    if (!*exists) return not_found(conversation_id);
    Result<Statement> st = c.prepare(
        "INSERT INTO summaries(conversation_id, through_seq, summary, created_at) "
        "VALUES (?1, ?2, ?3, ?4)");
    if (!st) return st.status();
    st->bind(1, conversation_id).bind(2, through_seq).bind(3, text).bind(4, now_ms());
    return st->run();
  });
}

Result<std::optional<Summary>> Store::latest_summary(const std::string& conversation_id) {
  std::optional<Summary> out;
  Status s = db_->read([&](Connection& c) -> Status {
    Result<Statement> st = c.prepare(
        "SELECT through_seq, summary, created_at FROM summaries WHERE conversation_id = ?1 "
        "ORDER BY id DESC LIMIT 1");
    if (!st) return st.status();
    st->bind(1, conversation_id);
    Result<bool> row = st->step();
    if (!row) return row.status();
    if (*row) out = Summary{st->integer(0), st->text(1), st->integer(2)};
    return Status::ok();
  });
  if (!s) return Error{s.message()};
  return out;
}

}  // namespace cove::assistant
