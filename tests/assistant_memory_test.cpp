// Long-term memory: saved notes are found by meaning-bearing words and ranked, forgotten on
// request, and reachable through `cove memory`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "assistant/memory.h"
#include "assistant/store.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace cove::assistant {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

TEST(AssistantMemory, SearchRanksTheMostRelevantFirst) {
  TempDir dir("rank");
  Result<std::unique_ptr<Store>> store = Store::open(dir.file("cove.db"));
  ASSERT_TRUE(store) << store.message();
  Memory memory((*store)->database());
  ASSERT_TRUE(memory.save("Paris is the capital of France"));
  ASSERT_TRUE(memory.save("The user likes dogs more than cats"));
  Result<MemoryEntry> rex = memory.save("The user's dog is called Rex", "pets family", "c123");
  ASSERT_TRUE(rex);
  EXPECT_EQ(rex->source, "c123");

  Result<std::vector<MemoryHit>> hits = memory.search("What is my dog called?");
  ASSERT_TRUE(hits) << hits.message();
  ASSERT_EQ(hits->size(), 2u);  // France shares no meaningful word
  EXPECT_EQ((*hits)[0].entry.id, rex->id);
  EXPECT_GT((*hits)[0].score, (*hits)[1].score);
  // Tags match too; common words alone find nothing; FTS syntax in the query is just text.
  hits = memory.search("family");
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  hits = memory.search("what is the");
  ASSERT_TRUE(hits);
  EXPECT_TRUE(hits->empty());
  hits = memory.search("NEAR(\"dog* OR -cats");
  ASSERT_TRUE(hits) << hits.message();
  EXPECT_EQ(hits->size(), 2u);
  hits = memory.search("dog", 1);
  ASSERT_TRUE(hits);
  EXPECT_EQ(hits->size(), 1u);
}

TEST(AssistantMemory, SaveListForget) {
  TempDir dir("forget");
  Result<std::unique_ptr<Store>> store = Store::open(dir.file("cove.db"));
  ASSERT_TRUE(store);
  Memory memory((*store)->database());
  Result<MemoryEntry> a = memory.save("first note");
  Result<MemoryEntry> b = memory.save("second note");
  ASSERT_TRUE(a && b);
  Result<MemoryEntry> again = memory.save("first note");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, a->id);  // the same text is kept once
  EXPECT_FALSE(memory.save("  \n"));

  Result<std::vector<MemoryEntry>> list = memory.list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, b->id);  // newest first

  ASSERT_TRUE(memory.forget(a->id));
  Status gone = memory.forget(a->id);
  EXPECT_FALSE(gone);
  EXPECT_EQ(gone.code(), "not_found");
  Result<std::vector<MemoryHit>> hits = memory.search("first");
  ASSERT_TRUE(hits);
  EXPECT_TRUE(hits->empty());
  list = memory.list();
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u);
}

TEST(AssistantMemoryCli, SaveListSearchForget) {
  TempDir dir("cli");
  setenv("COVE_HOME", dir.file("home").c_str(), 1);
  testing::ProcessResult saved =
      testing::run_cove({"memory", "save", "The boat is named Sjøblomst", "--tags", "boat"});
  testing::ProcessResult other = testing::run_cove({"memory", "save", "Meetings are on Tuesdays"});
  testing::ProcessResult list = testing::run_cove({"memory", "list"});
  testing::ProcessResult search =
      testing::run_cove({"memory", "search", "what is the boat named?"});
  testing::ProcessResult forget = testing::run_cove({"memory", "forget", "1"});
  testing::ProcessResult forget_again = testing::run_cove({"memory", "forget", "1"});
  testing::ProcessResult after = testing::run_cove({"memory", "search", "boat"});
  unsetenv("COVE_HOME");
  EXPECT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_EQ(saved.out, "saved 1\n");
  EXPECT_EQ(other.out, "saved 2\n");
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_LT(list.out.find("Meetings"), list.out.find("Sjøblomst")) << list.out;
  EXPECT_EQ(search.exit_code, 0) << search.err;
  EXPECT_NE(search.out.find("Sjøblomst  [boat]"), std::string::npos) << search.out;
  EXPECT_EQ(search.out.find("Meetings"), std::string::npos) << search.out;
  EXPECT_EQ(forget.out, "forgot 1\n");
  EXPECT_EQ(forget_again.exit_code, 1);
  EXPECT_NE(forget_again.err.find("no entry with id 1"), std::string::npos) << forget_again.err;
  EXPECT_EQ(after.out, "(nothing found)\n");
  EXPECT_TRUE(fs::exists(dir.file("home/cove.db")));
}

TEST(AssistantMemoryCli, CorruptDatabaseIsOneErrorLine) {
  TempDir dir("corrupt");
  fs::create_directories(dir.file("home"));
  { std::ofstream(dir.file("home/cove.db")) << std::string(4096, 'z'); }
  setenv("COVE_HOME", dir.file("home").c_str(), 1);
  testing::ProcessResult r = testing::run_cove({"memory", "list"});
  unsetenv("COVE_HOME");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: " + dir.file("home/cove.db") + ": file is not a database", 0), 0u)
      << r.err;
}

}  // namespace
}  // namespace cove::assistant
