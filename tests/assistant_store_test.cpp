// Conversation storage: every field round-trips through SQLite, survives reopening and a
// SIGKILL right after append returns, search finds old messages, concurrent writers are
// serialized, and a corrupt or foreign database is a clear error.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "assistant/store.h"
#include "support/temp_dir.h"

namespace cove::assistant {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

std::unique_ptr<Store> open_store(const std::string& path) {
  Result<std::unique_ptr<Store>> s = Store::open(path);
  EXPECT_TRUE(s) << s.message();
  return s ? std::move(*s) : nullptr;
}

Message msg(const std::string& role, const std::string& content) {
  Message m;
  m.role = role;
  m.content = content;
  return m;
}

TEST(AssistantStore, MessagesRoundTripAndSurviveReopening) {
  TempDir dir("roundtrip");
  const std::string db = dir.file("sub/cove.db");  // the folder is created
  std::string id;
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    Result<Conversation> c = store->create_conversation();
    ASSERT_TRUE(c) << c.message();
    id = c->id;
    ASSERT_TRUE(store->append_message(id, msg("system", "be brief")));
    ASSERT_TRUE(store->append_message(id, msg("user", "What time is it in Oslo?\nThanks")));
    Message call = msg("assistant", "");
    call.tool_calls =
        R"([{"id":"call_1","type":"function","function":{"name":"time","arguments":"{}"}}])";
    call.model = "small";
    call.prompt_tokens = 31;
    call.completion_tokens = 12;
    ASSERT_TRUE(store->append_message(id, call));
    Message result = msg("tool", "2025-01-01T12:00:00+01:00");
    result.tool_call_id = "call_1";
    result.name = "time";
    Result<Message> appended = store->append_message(id, result);
    ASSERT_TRUE(appended);
    EXPECT_EQ(appended->seq, 4);
    EXPECT_GT(appended->id, 0);
    EXPECT_GT(appended->created_at_ms, 0);
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  Result<Conversation> c = store->get_conversation(id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->title, "What time is it in Oslo?");
  EXPECT_EQ(c->message_count, 4);
  Result<std::vector<Message>> all = store->messages(id);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].role, "system");
  EXPECT_EQ((*all)[2].tool_calls,
            R"([{"id":"call_1","type":"function","function":{"name":"time","arguments":"{}"}}])");
  EXPECT_EQ((*all)[2].model, "small");
  EXPECT_EQ((*all)[2].prompt_tokens, 31);
  EXPECT_EQ((*all)[2].completion_tokens, 12);
  EXPECT_EQ((*all)[3].tool_call_id, "call_1");
  EXPECT_EQ((*all)[3].name, "time");
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].seq, static_cast<int64_t>(i + 1));
  Result<std::vector<Message>> tail = store->messages(id, 2);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->size(), 2u);
}

TEST(AssistantStore, AppendIsOnDiskWhenItReturns) {
  TempDir dir("durable");
  const std::string db = dir.file("cove.db");
  std::string id;
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    id = store->create_conversation()->id;
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child appends and is killed at once: no destructors, no checkpoint, no clean close.
    Result<std::unique_ptr<Store>> s = Store::open(db);
    if (!s) _exit(3);
    if (!(*s)->append_message(id, msg("user", "acknowledged before the kill"))) _exit(4);
    raise(SIGKILL);
    _exit(5);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);
  auto store = open_store(db);
  ASSERT_TRUE(store);
  Result<std::vector<Message>> all = store->messages(id);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].content, "acknowledged before the kill");
}

TEST(AssistantStore, ListSearchAndDelete) {
  TempDir dir("list");
  auto store = open_store(dir.file("cove.db"));
  ASSERT_TRUE(store);
  std::string a = store->create_conversation("pets")->id;
  std::string b = store->create_conversation("travel")->id;
  ASSERT_TRUE(store->append_message(a, msg("user", "My dogs are called Rex and Fido")));
  ASSERT_TRUE(store->append_message(b, msg("user", "Book a train to Bergen")));
  ASSERT_TRUE(store->append_message(b, msg("assistant", "The dog-friendly train leaves at nine")));

  Result<std::vector<Conversation>> list = store->list_conversations();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, b);  // most recently updated first
  EXPECT_EQ((*list)[0].title, "travel");

  // Stemming: "dog" finds "dogs"; every word must occur; punctuation is not FTS syntax.
  Result<std::vector<MessageHit>> hits = store->search("dog");
  ASSERT_TRUE(hits) << hits.message();
  EXPECT_EQ(hits->size(), 2u);
  hits = store->search("Rex dog");
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].message.conversation_id, a);
  EXPECT_NE((*hits)[0].snippet.find("[Rex]"), std::string::npos) << (*hits)[0].snippet;
  hits = store->search("dog", 10, b);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].message.role, "assistant");
  hits = store->search("\"unbalanced (quote* AND OR NOT");
  EXPECT_TRUE(hits) << hits.message();

  ASSERT_TRUE(store->delete_conversation(a));
  Status again = store->delete_conversation(a);
  EXPECT_FALSE(again);
  EXPECT_EQ(again.code(), "not_found");
  hits = store->search("Rex");
  ASSERT_TRUE(hits);
  EXPECT_TRUE(hits->empty());  // the index forgets deleted messages
  EXPECT_EQ(store->get_conversation(a).code(), "not_found");
  EXPECT_EQ(store->append_message(a, msg("user", "x")).code(), "not_found");
  EXPECT_EQ(store->messages(a).code(), "not_found");
  EXPECT_FALSE(store->append_message(b, msg("robot", "x")));
}

TEST(AssistantStore, SummariesKeepTheLatest) {
  TempDir dir("summary");
  auto store = open_store(dir.file("cove.db"));
  ASSERT_TRUE(store);
  std::string id = store->create_conversation()->id;
  Result<std::optional<Summary>> none = store->latest_summary(id);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(store->save_summary(id, 4, "first"));
  ASSERT_TRUE(store->save_summary(id, 9, "second"));
  Result<std::optional<Summary>> latest = store->latest_summary(id);
  ASSERT_TRUE(latest && latest->has_value());
  EXPECT_EQ((*latest)->through_seq, 9);
  EXPECT_EQ((*latest)->text, "second");
}

TEST(AssistantStore, ConcurrentWritersAreSerialized) {
  TempDir dir("concurrent");
  const std::string db = dir.file("cove.db");
  auto first = open_store(db);
  auto second = open_store(db);  // a second connection, as another process would have
  ASSERT_TRUE(first && second);
  const std::string id = first->create_conversation()->id;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *first : *second;
      for (int i = 0; i < 20; ++i) {
        if (!store.append_message(
                id, msg("user", "t" + std::to_string(t) + " m" + std::to_string(i)))) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::vector<Message>> all = first->messages(id);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 80u);
  std::set<std::string> contents;
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].seq, static_cast<int64_t>(i + 1));
    contents.insert((*all)[i].content);
  }
  EXPECT_EQ(contents.size(), 80u);
}

TEST(AssistantStore, CorruptOrForeignDatabaseIsAClearError) {
  TempDir dir("corrupt");
  const std::string garbage = dir.file("garbage.db");
  std::ofstream(garbage) << std::string(8192, 'x');
  Result<std::unique_ptr<Store>> s = Store::open(garbage);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(garbage), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("not a database"), std::string::npos) << s.message();

  const std::string foreign = dir.file("foreign.db");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  s = Store::open(foreign);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("not cove's"), std::string::npos) << s.message();

  const std::string newer = dir.file("newer.db");
  ASSERT_TRUE(open_store(newer));
  ASSERT_EQ(sqlite3_open(newer.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  s = Store::open(newer);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("schema version 99 is newer"), std::string::npos) << s.message();

  s = Store::open(dir.file("garbage.db/x/cove.db"));  // a folder that cannot be made
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("garbage.db"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cove::assistant
