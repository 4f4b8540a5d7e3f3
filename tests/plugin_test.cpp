// Plugins: the example plugin (plugins/example, built as a shared library; its path comes from
// CMake as COVE_EXAMPLE_PLUGIN) loaded with dlopen: its tool, its three hooks, and the host's
// handling of a plugin that misbehaves (bad status, bad output, exceptions, repeated failures).
#include "assistant/plugin_host.h"

#include <gtest/gtest.h>

#include "assistant/tool_time.h"

namespace cove::assistant {
namespace {

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.set_log_sink([this](const ToolLogEntry& entry) { log_.push_back(entry); });
    host_ = std::make_unique<PluginHost>(registry_, [this](const PluginReport& report) {
      reports_.push_back(report);
    });
    Result<std::string> name = host_->load(COVE_EXAMPLE_PLUGIN);
    ASSERT_TRUE(name.is_ok()) << name.message();
    EXPECT_EQ(*name, "example");
  }

  bool reported(const std::string& hook, const std::string& text) const {
    for (const PluginReport& report : reports_) {
      if (report.is_error && report.hook == hook && report.message.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  ToolRegistry registry_;
  std::vector<ToolLogEntry> log_;
  std::vector<PluginReport> reports_;
  std::unique_ptr<PluginHost> host_;
};

TEST_F(PluginTest, RegistersItsToolAndLogsThroughTheHost) {
  ASSERT_TRUE(registry_.contains("word_count"));
  ToolResult result = registry_.call("word_count", {{"text", "one two  three"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "3");
  ToolResult bad = registry_.call_json("word_count", "{\"text\": 5}");
  EXPECT_TRUE(bad.is_error);  // the registry's schema check, before the plugin sees it
  bool loaded_line = false;
  for (const PluginReport& report : reports_) {
    loaded_line = loaded_line || (report.hook == "log" && report.message == "example plugin loaded");
  }
  EXPECT_TRUE(loaded_line);
  EXPECT_EQ(host_->plugin_names(), std::vector<std::string>{"example"});
}

TEST_F(PluginTest, BeforePromptAddsContextAfterTheSystemPrompt) {
  nlohmann::json messages = {{{"role", "system"}, {"content", "You are cove."}},
                             {{"role", "user"}, {"content", "hi"}}};
  nlohmann::json out = host_->before_prompt(messages);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["content"], "You are cove.");
  EXPECT_EQ(out[1]["role"], "system");
  EXPECT_NE(out[1]["content"].get<std::string>().find("House rule"), std::string::npos);
  EXPECT_EQ(out[2]["content"], "hi");
}

TEST_F(PluginTest, AfterReplyRewritesAndAnnotates) {
  EXPECT_EQ(host_->after_reply("nothing to change"), "nothing to change");
  const std::string out = host_->after_reply("the password is hunter2");
  EXPECT_EQ(out.rfind("the [redacted] is hunter2", 0), 0u);
  EXPECT_NE(out.find("redacted 1 word(s)"), std::string::npos);
}

TEST_F(PluginTest, BeforeToolCallDeniesAndRewritesThroughTheRegistry) {
  ToolDefinition writer;
  writer.spec.name = "file_write";
  writer.handler = [](const nlohmann::json&) { return ToolResult::ok("written"); };
  ASSERT_TRUE(registry_.add(writer).is_ok());
  TimeToolOptions time_options;
  time_options.default_timezone = "+05:00";
  time_options.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(0)); };
  ASSERT_TRUE(registry_.add(make_time_tool(time_options)).is_ok());

  ToolResult denied = registry_.call("file_write", {{"path", "private/keys"}});
  EXPECT_TRUE(denied.is_error);
  EXPECT_NE(denied.text.find("keeps private/ read-only"), std::string::npos);
  EXPECT_EQ(log_.back().outcome, ToolOutcome::kDenied);
  EXPECT_EQ(log_.back().policy, "plugins");
  EXPECT_FALSE(registry_.call("file_write", {{"path", "public/notes"}}).is_error);

  // The plugin adds timezone UTC when the call names none (the tool's default would be +05:00).
  ToolResult time = registry_.call("current_time", nlohmann::json::object());
  ASSERT_FALSE(time.is_error) << time.text;
  EXPECT_EQ(time.structured["iso8601"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(log_.back().arguments["timezone"], "UTC");
}

TEST_F(PluginTest, MisbehavingHooksAreReportedAndTheInputPassesThrough) {
  const nlohmann::json messages = {{{"role", "user"}, {"content", "#bad-status"}}};
  EXPECT_EQ(host_->before_prompt(messages), messages);
  EXPECT_TRUE(reported("before_prompt", "returned 42, which is not a cove_hook_status"));

  const nlohmann::json bad_json = {{{"role", "user"}, {"content", "#bad-json"}}};
  EXPECT_EQ(host_->before_prompt(bad_json), bad_json);
  EXPECT_TRUE(reported("before_prompt", "not a JSON array of messages"));

  EXPECT_EQ(host_->after_reply("#throw"), "#throw");
  EXPECT_TRUE(reported("after_reply", "thrown on purpose"));

  EXPECT_EQ(host_->after_reply("#no-output"), "#no-output");
  EXPECT_TRUE(reported("after_reply", "REWRITE: no output was written"));

  // A policy hook that fails denies the call (it fails closed).
  ToolResult result = registry_.call("word_count", {{"text", "#bad-json"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_NE(result.text.find("failed to decide"), std::string::npos);
  EXPECT_EQ(log_.back().outcome, ToolOutcome::kDenied);
  std::string all;
  for (const PluginReport& report : host_->problems()) all += report.hook + ": " + report.message + "\n";
  // Five failures, and the fifth disables the plugin.
  EXPECT_EQ(host_->problems().size(), 6u) << all;
  EXPECT_NE(host_->problems().back().message.find("disabled after 5 failures"), std::string::npos);
}

TEST_F(PluginTest, RepeatedFailuresDisableThePlugin) {
  for (int i = 0; i < PluginHost::kMaxFailures; ++i) host_->after_reply("#throw");
  EXPECT_TRUE(reported("after_reply", "disabled after"));
  // Disabled: the hooks are skipped (no rewrite) and its tool refuses.
  EXPECT_EQ(host_->after_reply("password"), "password");
  ToolResult result = registry_.call("word_count", {{"text", "a b"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_NE(result.text.find("disabled"), std::string::npos);
}

TEST(PluginHostLoad, ReportsLoadErrors) {
  ToolRegistry registry;
  PluginHost host(registry);
  Result<std::string> missing = host.load("/nonexistent/plugin.so");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.message().find("cannot load"), std::string::npos);
  // A shared library without the entry symbol: the C library itself.
  Result<std::string> not_plugin = host.load("libm.so.6");
  ASSERT_FALSE(not_plugin.is_ok());
  EXPECT_NE(not_plugin.message().find("no cove_plugin_init"), std::string::npos);
  // Loading the same plugin twice is refused and the first copy keeps working.
  ASSERT_TRUE(host.load(COVE_EXAMPLE_PLUGIN).is_ok());
  Result<std::string> twice = host.load(COVE_EXAMPLE_PLUGIN);
  EXPECT_FALSE(twice.is_ok());
  EXPECT_EQ(registry.call("word_count", {{"text", "still works"}}).text, "2");
}

TEST(PluginHostLoad, DestroyingTheHostRemovesItsToolsAndPolicy) {
  ToolRegistry registry;
  {
    PluginHost host(registry);
    ASSERT_TRUE(host.load(COVE_EXAMPLE_PLUGIN).is_ok());
    EXPECT_TRUE(registry.contains("word_count"));
  }
  EXPECT_FALSE(registry.contains("word_count"));
  EXPECT_FALSE(registry.remove_policy("plugins"));
}

}  // namespace
}  // namespace cove::assistant
