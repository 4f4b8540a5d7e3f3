// The context manager on a scripted conversation ten times longer than its budget: every prompt
// fits, keeps the system prompt and the latest message, compacts through the notes hook and the
// summarizer, and early facts stay findable (message search, and long-term memory injected into
// a later prompt). Also: tool turns are never split, summarizer failure degrades to a sliding
// window, and an oversized current message is a clear error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "assistant/context.h"
#include "support/temp_dir.h"

namespace cove::assistant {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

// One token per whitespace-separated word: simple, and exact enough to assert budgets with.
int64_t count_words(std::string_view text) {
  std::istringstream in{std::string(text)};
  int64_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

constexpr const char* kSystemPrompt = "You are a careful test assistant.";

// Recounts a built prompt the way the manager must have counted it.
int64_t prompt_tokens(const nlohmann::ordered_json& messages, int64_t per_message) {
  int64_t n = 0;
  for (const auto& m : messages) {
    n += per_message + count_words(m["content"].get<std::string>());
    if (m.contains("tool_calls")) n += count_words(m["tool_calls"].dump());
  }
  return n;
}

struct Harness {
  explicit Harness(const std::string& name, int64_t budget) : dir(name) {
    Result<std::unique_ptr<Store>> s = Store::open(dir.file("cove.db"));
    EXPECT_TRUE(s) << s.message();
    store = std::move(*s);
    memory = std::make_unique<Memory>(store->database());
    options.system_prompt = kSystemPrompt;
    options.budget_tokens = budget;
    options.per_message_tokens = 4;
    options.memory_results = 3;
    conversation = store->create_conversation()->id;
  }

  Message add(const std::string& role, const std::string& content) {
    Message m;
    m.role = role;
    m.content = content;
    Result<Message> r = store->append_message(conversation, m);
    EXPECT_TRUE(r) << r.message();
    return *r;
  }

  TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Memory> memory;
  ContextOptions options;
  std::string conversation;
};

// Small talk filler so each turn costs about 30 tokens.
std::string filler(int turn) {
  return "turn " + std::to_string(turn) +
         " we talked about the weather and the garden and the long list of chores for the week";
}

TEST(AssistantContext, ConversationTenTimesTheBudgetKeepsWorking) {
  const int64_t kBudget = 200;
  Harness h("long", kBudget);
  int summarizer_calls = 0, hook_calls = 0;
  std::vector<std::string> log;
  ContextManager manager(
      *h.store, *h.memory, h.options, count_words,
      [&](const std::string& previous, const std::vector<Message>& turns) -> Result<std::string> {
        ++summarizer_calls;
        // A summarizer stand-in: a short line naming what it folded.
        return "Earlier: " + std::to_string(turns.size()) + " messages through #" +
               std::to_string(turns.back().seq) +
               (previous.empty() ? "." : " after: " + previous.substr(0, 40));
      },
      [&](const std::vector<Message>& turns) -> Result<std::vector<std::string>> {
        ++hook_calls;
        // The model's note-taking stand-in: keep what the user asked to remember.
        std::vector<std::string> notes;
        for (const Message& m : turns) {
          if (m.role == "user" && m.content.rfind("Remember:", 0) == 0)
            notes.push_back(m.content.substr(10));
        }
        return notes;
      });
  manager.set_logger([&](const std::string& line) { log.push_back(line); });

  int64_t total_tokens = 0;
  const int kTurns = 55;
  for (int turn = 1; turn <= kTurns; ++turn) {
    std::string user = turn == 1 ? "Remember: my sister Zephyrine lives in Tromso and loves herring"
                                 : filler(turn);
    if (turn == kTurns) user = "Where does my sister Zephyrine live?";
    h.add("user", user);
    total_tokens += 4 + count_words(user);

    Result<BuiltPrompt> prompt = manager.build(h.conversation);
    ASSERT_TRUE(prompt) << "turn " << turn << ": " << prompt.message();
    const nlohmann::ordered_json& msgs = prompt->messages;
    ASSERT_GE(msgs.size(), 2u);
    // The system prompt and the current message are always there, first and last.
    EXPECT_EQ(msgs.front()["role"], "system");
    EXPECT_EQ(msgs.front()["content"].get<std::string>().rfind(kSystemPrompt, 0), 0u)
        << "turn " << turn;
    EXPECT_EQ(msgs.back()["role"], "user");
    EXPECT_EQ(msgs.back()["content"], user) << "turn " << turn;
    // Within budget, by an independent recount.
    EXPECT_EQ(prompt_tokens(msgs, 4), prompt->tokens) << "turn " << turn;
    EXPECT_LE(prompt->tokens, kBudget) << "turn " << turn;
    // The window never starts inside a turn.
    if (msgs.size() > 2) EXPECT_EQ(msgs[1]["role"], "user") << "turn " << turn;

    if (turn == kTurns) {
      // The first turn was compacted long ago, yet the fact is in the prompt via memory.
      EXPECT_NE(msgs.front()["content"].get<std::string>().find("Zephyrine lives in Tromso"),
                std::string::npos)
          << msgs.front()["content"];
      ASSERT_FALSE(prompt->memories.empty());
      bool first_turn_in_window = false;
      for (const auto& m : msgs) {
        if (m["content"].get<std::string>().rfind("Remember:", 0) == 0) first_turn_in_window = true;
      }
      EXPECT_FALSE(first_turn_in_window);
      break;
    }
    const std::string reply = "reply " + std::to_string(turn) +
                              " noted and here is a fairly ordinary answer about the topic at hand";
    h.add("assistant", reply);
    total_tokens += 4 + count_words(reply);
  }
  EXPECT_GE(total_tokens, 10 * kBudget);
  EXPECT_GT(manager.compactions(), 1);
  EXPECT_EQ(summarizer_calls, manager.compactions());
  EXPECT_EQ(hook_calls, manager.compactions());  // notes come first, every time
  ASSERT_EQ(log.size(), static_cast<size_t>(manager.compactions()));
  EXPECT_NE(log[0].find("compacted conversation " + h.conversation), std::string::npos) << log[0];
  EXPECT_NE(log[0].find("1 notes saved"), std::string::npos) << log[0];

  // Nothing was lost: every message is still stored, and the early fact is searchable.
  Result<std::vector<Message>> all = h.store->messages(h.conversation);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), static_cast<size_t>(2 * kTurns - 1));
  Result<std::vector<MessageHit>> hits = h.store->search("Zephyrine Tromso");
  ASSERT_TRUE(hits);
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].message.seq, 1);
  Result<std::optional<Summary>> summary = h.store->latest_summary(h.conversation);
  ASSERT_TRUE(summary && summary->has_value());
  EXPECT_GT((*summary)->through_seq, 20);
}

TEST(AssistantContext, ToolTurnIsKeptWholeAndToolCallsRendered) {
  Harness h("tools", 120);
  ContextManager manager(
      *h.store, *h.memory, h.options, count_words,
      [](const std::string&, const std::vector<Message>& turns) -> Result<std::string> {
        return "folded " + std::to_string(turns.size());
      });
  manager.set_logger([](const std::string&) {});
  for (int i = 0; i < 6; ++i) {
    h.add("user", filler(i));
    h.add("assistant", filler(i));
  }
  h.add("user", "what time is it");
  Message call;
  call.role = "assistant";
  call.tool_calls =
      R"([{"id":"c1","type":"function","function":{"name":"time","arguments":"{}"}}])";
  ASSERT_TRUE(h.store->append_message(h.conversation, call));
  Message result;
  result.role = "tool";
  result.content = "12:00";
  result.tool_call_id = "c1";
  result.name = "time";
  ASSERT_TRUE(h.store->append_message(h.conversation, result));

  Result<BuiltPrompt> prompt = manager.build(h.conversation);
  ASSERT_TRUE(prompt) << prompt.message();
  const auto& msgs = prompt->messages;
  ASSERT_GE(msgs.size(), 4u);
  const size_t n = msgs.size();
  EXPECT_EQ(msgs[n - 3]["content"], "what time is it");
  EXPECT_EQ(msgs[n - 2]["tool_calls"][0]["function"]["name"], "time");
  EXPECT_EQ(msgs[n - 1]["role"], "tool");
  EXPECT_EQ(msgs[n - 1]["tool_call_id"], "c1");
  EXPECT_LE(prompt->tokens, 120);
  EXPECT_GE(manager.compactions(), 1);
  EXPECT_NE(
      msgs[0]["content"].get<std::string>().find("Summary of the earlier conversation:\nfolded"),
      std::string::npos);
}

TEST(AssistantContext, FailingSummarizerStillSlidesTheWindow) {
  Harness h("fail", 100);
  std::vector<std::string> log;
  ContextManager manager(
      *h.store, *h.memory, h.options, count_words,
      [](const std::string&, const std::vector<Message>&) -> Result<std::string> {
        return Error{"model crashed"};
      });
  manager.set_logger([&](const std::string& line) { log.push_back(line); });
  for (int i = 0; i < 10; ++i) {
    h.add("user", filler(i));
    h.add("assistant", filler(i));
  }
  h.add("user", "still there?");
  Result<BuiltPrompt> prompt = manager.build(h.conversation);
  ASSERT_TRUE(prompt) << prompt.message();
  EXPECT_LE(prompt->tokens, 100);
  EXPECT_EQ(prompt->messages.back()["content"], "still there?");
  EXPECT_EQ(manager.compactions(), 0);
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log[0].find("model crashed"), std::string::npos) << log[0];
}

TEST(AssistantContext, OversizedCurrentMessageIsAnError) {
  Harness h("overflow", 50);
  ContextManager manager(*h.store, *h.memory, h.options, count_words, {});
  std::string big;
  for (int i = 0; i < 60; ++i) big += "word ";
  h.add("user", big);
  Result<BuiltPrompt> prompt = manager.build(h.conversation);
  ASSERT_FALSE(prompt);
  EXPECT_EQ(prompt.code(), "context_overflow");
  EXPECT_NE(prompt.message().find("exceed the context budget of 50 tokens"), std::string::npos);

  Harness empty("empty", 50);
  ContextManager other(*empty.store, *empty.memory, empty.options, count_words, {});
  EXPECT_FALSE(other.build(empty.conversation));
  EXPECT_EQ(other.build("nosuch").code(), "not_found");
}

}  // namespace
}  // namespace cove::assistant
