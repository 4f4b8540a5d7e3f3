// The assistant loop on a real model (issue #5, must-show 1): the shared tiny model served by
// the in-process scheduler through server/assistant_backend.h. With the first step
// grammar-forced to the time tool, the model's output parses into a call of current_time, the
// call runs, its result is stored as a tool message, and a final answer is stored.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "assistant/assistant.h"
#include "assistant/assistant_setup.h"
#include "server/assistant_backend.h"

namespace cove::assistant {
namespace {

namespace fs = std::filesystem;

const std::string kModel = COVE_SOURCE_DIR "/../shared/models/stories260K.gguf";

class AssistantEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cove-assistant-engine-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    server::LocalModelOptions options;
    options.path = kModel;
    options.id = "tiny";
    options.n_ctx = 1024;
    options.n_threads = 1;
    Result<std::unique_ptr<server::LocalModel>> local = server::load_local_model(options);
    ASSERT_TRUE(local.is_ok()) << local.message() << " (needs ../shared/models)";
    local_ = std::shared_ptr<server::LocalModel>(std::move(*local));
    backend_ = server::make_local_backend("tiny", local_);

    ModelConfig model;
    model.name = "tiny";
    model.path = kModel;
    config_.models.push_back(model);
    config_.tools.calculator = false;
    config_.tools.memory = false;
    config_.context.system_prompt = "You are cove.";
    config_.context.memory_results = 0;
    Result<std::unique_ptr<Store>> store = Store::open((root_ / "cove.db").string());
    ASSERT_TRUE(store.is_ok()) << store.message();
    store_ = std::move(*store);
    memory_ = std::make_unique<Memory>(store_->database());
    ASSERT_TRUE(register_configured_tools(tools_, config_, *store_, *memory_).is_ok());
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  std::unique_ptr<Assistant> make_assistant() {
    AssistantParts parts;
    parts.config = &config_;
    parts.store = store_.get();
    parts.memory = memory_.get();
    parts.tools = &tools_;
    parts.models = [this](const std::string&) -> Result<std::shared_ptr<ModelBackend>> {
      return backend_;
    };
    return std::make_unique<Assistant>(std::move(parts));
  }

  fs::path root_;
  std::shared_ptr<server::LocalModel> local_;
  std::shared_ptr<ModelBackend> backend_;
  Config config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Memory> memory_;
  ToolRegistry tools_;
};

TEST_F(AssistantEngineTest, ForcedTimeToolCallRunsAndTheAnswerIsStored) {
  std::unique_ptr<Assistant> assistant = make_assistant();
  TurnRequest request;
  request.user_message = "What time is it?";
  request.tool_use = TurnToolUse::kRequired;
  request.forced_tool = "current_time";
  request.max_tokens = 128;
  request.temperature = 0.0f;
  request.seed = 7;
  std::vector<ToolLogEntry> calls;
  TurnEvents events;
  events.on_tool = [&](const ToolLogEntry& e) { calls.push_back(e); };
  Result<TurnResult> turn = assistant->run_turn(request, events);
  ASSERT_TRUE(turn.is_ok()) << turn.message();

  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].tool, "current_time");
  std::vector<Message> messages = *store_->messages(turn->conversation_id);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0].role, "user");
  EXPECT_EQ(messages[1].role, "assistant");
  EXPECT_EQ(messages[1].model, "tiny");
  EXPECT_GT(messages[1].prompt_tokens, 0);
  nlohmann::json tool_calls = nlohmann::json::parse(messages[1].tool_calls);
  ASSERT_EQ(tool_calls.size(), 1u);
  EXPECT_EQ(tool_calls[0]["function"]["name"], "current_time");
  EXPECT_TRUE(nlohmann::json::parse(tool_calls[0]["function"]["arguments"].get<std::string>())
                  .is_object());
  EXPECT_EQ(messages[2].role, "tool");
  EXPECT_EQ(messages[2].name, "current_time");
  EXPECT_EQ(messages[2].tool_call_id, tool_calls[0]["id"]);
  EXPECT_FALSE(messages[2].content.empty());
  EXPECT_EQ(messages[3].role, "assistant");
  EXPECT_TRUE(messages[3].tool_calls.empty());
  EXPECT_EQ(messages[3].model, "tiny");
  EXPECT_EQ(turn->steps, 2);
}

TEST_F(AssistantEngineTest, ConfiguredForcedModeAndPlainAnswers) {
  config_.models[0].tool_calls = ModelConfig::ToolCalls::kForced;
  std::unique_ptr<Assistant> assistant = make_assistant();
  TurnRequest request;
  request.user_message = "Tell me the time";
  request.max_tokens = 128;
  request.temperature = 0.0f;
  std::string streamed;
  TurnEvents events;
  events.on_text = [&](std::string_view piece) {
    streamed += piece;
    return true;
  };
  Result<TurnResult> turn = assistant->run_turn(request, events);
  ASSERT_TRUE(turn.is_ok()) << turn.message();
  std::vector<Message> messages = *store_->messages(turn->conversation_id);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_NE(messages[1].tool_calls.find("current_time"), std::string::npos);
  // The answer step ran without tools and streamed what was stored.
  EXPECT_EQ(streamed, messages[3].content);

  // Without tools the turn is one plain step.
  request.tool_use = TurnToolUse::kNone;
  request.conversation_id = turn->conversation_id;
  request.user_message = "Once upon a time";
  Result<TurnResult> plain = assistant->run_turn(request);
  ASSERT_TRUE(plain.is_ok()) << plain.message();
  EXPECT_EQ(plain->steps, 1);
  EXPECT_EQ(store_->messages(turn->conversation_id)->size(), 6u);
}

}  // namespace
}  // namespace cove::assistant
