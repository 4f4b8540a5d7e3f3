// SQLite connections, statements and the write-serializing Database (sqlite_db.h).
#include "assistant/sqlite_db.h"

#include <chrono>
#include <set>

namespace cove::assistant {

namespace {
constexpr int kBusyTimeoutMs = 5000;
constexpr size_t kMaxIdleReaders = 4;
}  // namespace

// ---------------------------------------------------------------------------------------------
// Statement

Statement& Statement::bind(int index, const std::string& text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  return Error{context_ + ": " + sqlite3_errmsg(db) + " (in: " + sqlite3_sql(stmt_) + ")"};
}

Status Statement::run() {
  return each_row([](const Statement&) {});
}

std::string Statement::text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

// ---------------------------------------------------------------------------------------------
// Connection

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error{path + ": cannot open the database (" + message + ")"};
  }
  std::unique_ptr<Connection> c(new Connection(db, path));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // journal_mode is the first statement that reads the file, so a file that is not a database
  // fails here with SQLite's "file is not a database".
  Status s = c->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (!s) return Error{s.message()};
  return c;
}

Connection::~Connection() {
  sqlite3_close_v2(db_);
}

Error Connection::error(const std::string& what) const {
  return Error{path_ + ": " + what + " (" + sqlite3_errmsg(db_) + ")"};
}

Result<Statement> Connection::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return error("cannot prepare a statement");
  }
  return Statement(stmt, path_);
}

Status Connection::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string m = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return Error{path_ + ": " + m};
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Database

Result<std::shared_ptr<Database>> Database::open(const std::string& path) {
  Result<std::unique_ptr<Connection>> writer = Connection::open(path);
  if (!writer) return writer.error();
  std::shared_ptr<Database> db(new Database(path));
  db->writer_ = std::move(*writer);
  return db;
}

Status Database::write(const std::function<Status(Connection&)>& fn) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (Status s = writer_->exec("BEGIN IMMEDIATE"); !s) return s;
  Status result = fn(*writer_);
  if (!result) {
    (void)writer_->exec("ROLLBACK");
    return result;
  }
  if (Status s = writer_->exec("COMMIT"); !s) {
    (void)writer_->exec("ROLLBACK");
    return s;
  }
  return Status::ok();
}

Status Database::read(const std::function<Status(Connection&)>& fn) {
  std::unique_ptr<Connection> reader;
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_readers_.empty()) {
      reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!reader) {
    Result<std::unique_ptr<Connection>> opened = Connection::open(path_);
    if (!opened) return opened.status();
    reader = std::move(*opened);
  }
  Status result = fn(*reader);
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(reader));
  return result;
}

// ---------------------------------------------------------------------------------------------
// Helpers

std::string fts_query(const std::string& text, bool all_words) {
  // Words that would make an any-word search match nearly every row.
  static const std::set<std::string> kCommon = {
      "a",     "an",    "and",  "are",  "as",   "at",   "be",   "but",  "by",    "do",
      "does",  "for",   "from", "had",  "has",  "have", "he",   "her",  "his",   "how",
      "i",     "if",    "in",   "is",   "it",   "its",  "me",   "my",   "no",    "not",
      "of",    "on",    "or",   "our",  "she",  "so",   "that", "the",  "their", "them",
      "then",  "there", "they", "this", "to",   "was",  "we",   "were", "what",  "when",
      "where", "which", "who",  "why",  "will", "with", "you",  "your"};
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    std::string lowered = word;
    for (char& c : lowered) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (all_words || kCommon.count(lowered) == 0) words.push_back(lowered);
    word.clear();
  };
  for (unsigned char c : text) {
    const bool word_byte = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                           (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    if (word_byte) {
      word += static_cast<char>(c);
    } else {
      flush();
    }
  }
  flush();
  std::string query;
  for (const std::string& w : words) {
    if (!query.empty()) query += all_words ? " " : " OR ";
    query += "\"" + w + "\"";  // words hold no quotes, so no escaping is needed
  }
  return query;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cove::assistant
