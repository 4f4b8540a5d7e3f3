// `cove chat` driven by a script (issue #5, must-show 1 through the terminal): the real binary
// reads messages from standard input with the tiny model's tool calls forced by the config; the
// stored conversation holds the user message, the assistant's call of the time tool, the tool
// result and the final answer; a second run with --resume continues the same conversation.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "assistant/store.h"
#include "support/process.h"

namespace cove::assistant {
namespace {

namespace fs = std::filesystem;

const std::string kModel = COVE_SOURCE_DIR "/../shared/models/stories260K.gguf";
// The config's model: greedy, it fills the forced time call with arguments the tool accepts
// (stories260K writes story text into the optional timezone, which the tool refuses).
const std::string kClockModel = COVE_SOURCE_DIR "/../shared/models/llama-2-tiny-random.gguf";

class ChatCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cove-chat-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    config_ = (root_ / "config.yaml").string();
    std::ofstream(config_) << "models:\n"
                              "  tiny:\n"
                              "    path: " << kClockModel << "\n"
                              "    context: 1024\n"
                              "    tool_calls: forced\n"
                              "tools:\n"
                              "  calculator: {enabled: false}\n"
                              "  memory: {enabled: false}\n"
                              "context:\n"
                              "  system_prompt: You are cove.\n"
                              "  memory_results: 0\n"
                              "storage:\n"
                              "  database: cove.db\n";
    ::setenv("COVE_HOME", root_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("COVE_HOME");
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  static std::string conversation_id(const std::string& err) {
    std::smatch m;
    const std::regex line("conversation ([0-9A-Za-z_-]+)");
    return std::regex_search(err, m, line) ? m[1].str() : "";
  }

  fs::path root_;
  std::string config_;
};

TEST_F(ChatCommandTest, ScriptedChatCallsTheTimeToolAndResumes) {
  const std::vector<std::string> args = {"chat", "--config", config_, "--max-tokens", "128",
                                         "--temp", "0", "--seed", "1", "-t", "1"};
  testing::ProcessResult first = testing::run_cove(args, "What time is it?\n/tools\n");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string id = conversation_id(first.err);
  ASSERT_FALSE(id.empty()) << first.err;
  EXPECT_NE(first.err.find("[tool] current_time("), std::string::npos) << first.err;
  EXPECT_NE(first.out.find("current_time"), std::string::npos) << first.out;  // /tools

  {
    Result<std::unique_ptr<Store>> store = Store::open((root_ / "cove.db").string());
    ASSERT_TRUE(store.is_ok()) << store.message();
    std::vector<Message> messages = *(*store)->messages(id);
    ASSERT_EQ(messages.size(), 4u) << first.err;
    EXPECT_EQ(messages[0].role, "user");
    EXPECT_EQ(messages[0].content, "What time is it?");
    EXPECT_EQ(messages[1].role, "assistant");
    EXPECT_EQ(messages[1].model, "tiny");
    EXPECT_NE(messages[1].tool_calls.find("\"current_time\""), std::string::npos);
    EXPECT_EQ(messages[2].role, "tool");
    EXPECT_EQ(messages[2].name, "current_time");
    EXPECT_EQ(messages[2].content.rfind("error:", 0), std::string::npos) << messages[2].content;
    EXPECT_EQ(messages[3].role, "assistant");
    EXPECT_TRUE(messages[3].tool_calls.empty());
    // The answer went to standard output.
    EXPECT_NE(first.out.find(messages[3].content), std::string::npos);
  }

  std::vector<std::string> resume = args;
  resume.insert(resume.end(), {"--resume", id});
  testing::ProcessResult second = testing::run_cove(resume, "And now?\n");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(conversation_id(second.err), id);
  Result<std::unique_ptr<Store>> store = Store::open((root_ / "cove.db").string());
  ASSERT_TRUE(store.is_ok()) << store.message();
  std::vector<Message> messages = *(*store)->messages(id);
  ASSERT_EQ(messages.size(), 8u);
  EXPECT_EQ(messages[4].content, "And now?");
}

TEST_F(ChatCommandTest, AdHocModelAndClearErrors) {
  // -m without a config file: the store goes under COVE_HOME.
  fs::remove(config_);
  testing::ProcessResult plain =
      testing::run_cove({"chat", "-m", kModel, "--max-tokens", "8", "--seed", "1", "-t", "1"},
                        "/help\n/model\n/memory\n/nonsense\nHello\n/compact\n");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out.find("/compact"), std::string::npos);                 // /help
  EXPECT_NE(plain.out.find("* stories260K"), std::string::npos) << plain.out;  // /model
  EXPECT_NE(plain.err.find("error: unknown command /nonsense"), std::string::npos);
  EXPECT_NE(plain.out.find("nothing to compact"), std::string::npos) << plain.out;
  EXPECT_TRUE(fs::exists(root_ / "cove.db"));

  testing::ProcessResult missing = testing::run_cove({"chat", "--resume", "nope", "-m", kModel});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("error:"), std::string::npos);
  testing::ProcessResult no_config = testing::run_cove({"chat"});
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_NE(no_config.err.find("cove init"), std::string::npos) << no_config.err;
}

}  // namespace
}  // namespace cove::assistant
