// A thin SQLite layer for the assistant's database (cove.db): RAII connections and statements
// that return Status/Result with the file name in every message, and a Database that serializes
// writes on one connection (each write is one IMMEDIATE transaction, committed with
// synchronous=FULL before it returns) while reads run concurrently on pooled connections (WAL).
//
// The schema itself belongs to store.cpp, which owns the file's layout and version.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"

namespace cove::assistant {

class Statement {
 public:
  Statement(sqlite3_stmt* stmt, std::string context) : stmt_(stmt), context_(std::move(context)) {}
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)), context_(std::move(other.context_)) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Parameters are 1-based, as in SQL's ?1, ?2, ...
  Statement& bind(int index, const std::string& text);
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);

  // One step: true when a row is ready, false when done.
  Result<bool> step();
  // Steps to the end (statements without rows).
  Status run();
  // Steps through every row, calling fn(const Statement&) on each.
  template <class Fn>
  Status each_row(Fn&& fn) {
    for (;;) {
      Result<bool> more = step();
      if (!more) return more.status();
      if (!*more) return Status::ok();
      fn(static_cast<const Statement&>(*this));
    }
  }

  std::string text(int column) const;
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }

 private:
  sqlite3_stmt* stmt_;
  std::string context_;  // the database path, for messages
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const std::string& path);
  ~Connection();

  Result<Statement> prepare(const std::string& sql);
  Status exec(const std::string& sql);  // one or more statements without rows
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int64_t changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }
  // "cove.db: MESSAGE (sqlite's message)" for the last error on this connection.
  Error error(const std::string& what) const;

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

class Database {
 public:
  // Opens (creating if needed) with WAL, a busy timeout and foreign keys on. A file that is not
  // a SQLite database is an error naming it.
  static Result<std::shared_ptr<Database>> open(const std::string& path);

  // Runs `fn` inside one IMMEDIATE transaction on the writer connection, one writer at a time
  // in this process (and the busy timeout across processes). Commits when fn succeeds, rolls
  // back when it fails; the commit is durable (synchronous=FULL) when write() returns ok.
  Status write(const std::function<Status(Connection&)>& fn);
  // Runs `fn` on a pooled read connection; reads see the last committed state.
  Status read(const std::function<Status(Connection&)>& fn);

  const std::string& path() const { return path_; }

 private:
  explicit Database(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::mutex write_mutex_;
  std::unique_ptr<Connection> writer_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

// Free text to an FTS5 MATCH expression: each word quoted (so no user text is read as FTS5
// syntax). all_words: every word must occur; else any word may (and very common English words
// are left out, since they would match everything). Returns "" when no word is left.
std::string fts_query(const std::string& text, bool all_words);

// Milliseconds since the Unix epoch.
int64_t now_ms();

}  // namespace cove::assistant
