// ToolRegistry: OpenAI tool shape, the policy chain (allow, deny, rewrite), argument checks, the
// call log, and handlers that throw.
#include <gtest/gtest.h>

#include <stdexcept>

#include "assistant/tool_builtins.h"
#include "assistant/tool_calculator.h"
#include "assistant/tools.h"

namespace cove::assistant {
namespace {

ToolDefinition echo_tool() {
  ToolDefinition tool;
  tool.spec.name = "echo";
  tool.spec.description = "Echo the text.";
  tool.spec.parameters = {{"type", "object"},
                          {"properties",
                           {{"text", {{"type", "string"}}},
                            {"mode", {{"type", "string"}, {"enum", {"plain", "loud"}}}}}},
                          {"required", {"text"}}};
  tool.handler = [](const nlohmann::json& arguments) {
    std::string text = arguments.at("text").get<std::string>();
    if (arguments.value("mode", "plain") == "loud") text += "!";
    return ToolResult::ok(text, {{"length", text.size()}});
  };
  return tool;
}

struct Logged {
  std::vector<ToolLogEntry> entries;
  ToolLogSink sink() {
    return [this](const ToolLogEntry& entry) { entries.push_back(entry); };
  }
};

TEST(ToolRegistry, ListsToolsInOpenAiFunctionShape) {
  ToolRegistry registry;
  ASSERT_TRUE(registry.add(echo_tool()).is_ok());
  ASSERT_TRUE(registry.add(make_calculator_tool()).is_ok());
  const nlohmann::ordered_json tools = registry.openai_tools();
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0]["type"], "function");
  EXPECT_EQ(tools[0]["function"]["name"], "echo");
  EXPECT_EQ(tools[0]["function"]["parameters"]["required"][0], "text");
  EXPECT_EQ(tools[1]["function"]["name"], "calculator");
  EXPECT_EQ(tools.begin()->begin().key(), "type");  // order kept: type, function
}

TEST(ToolRegistry, RefusesDuplicateAndInvalidNames) {
  ToolRegistry registry;
  ASSERT_TRUE(registry.add(echo_tool()).is_ok());
  Status duplicate = registry.add(echo_tool());
  ASSERT_FALSE(duplicate.is_ok());
  EXPECT_NE(duplicate.message().find("already registered"), std::string::npos);
  ToolDefinition bad = echo_tool();
  bad.spec.name = "has space";
  EXPECT_FALSE(registry.add(bad).is_ok());
  bad.spec.name = std::string(65, 'a');
  EXPECT_FALSE(registry.add(bad).is_ok());
  bad.spec.name = "ok_name";
  bad.spec.parameters = {{"type", "string"}};
  EXPECT_FALSE(registry.add(bad).is_ok());
}

TEST(ToolRegistry, CallsHandlerAndLogsTheResult) {
  ToolRegistry registry;
  Logged log;
  registry.set_log_sink(log.sink());
  ASSERT_TRUE(registry.add(echo_tool()).is_ok());
  ToolResult result = registry.call_json("echo", R"({"text": "hi", "mode": "loud"})", "call_1");
  EXPECT_FALSE(result.is_error);
  EXPECT_EQ(result.text, "hi!");
  EXPECT_EQ(result.structured["length"], 3);
  ASSERT_EQ(log.entries.size(), 1u);
  EXPECT_EQ(log.entries[0].call_id, "call_1");
  EXPECT_EQ(log.entries[0].tool, "echo");
  EXPECT_EQ(log.entries[0].outcome, ToolOutcome::kOk);
  EXPECT_EQ(log.entries[0].result.text, "hi!");
}

TEST(ToolRegistry, PolicyDenyReturnsAnErrorResultAndIsLogged) {
  ToolRegistry registry;
  Logged log;
  registry.set_log_sink(log.sink());
  ASSERT_TRUE(registry.add(echo_tool()).is_ok());
  registry.add_policy("no-secrets", [](const ToolCallRequest& request) {
    if (request.arguments.value("text", "").find("secret") != std::string::npos) {
      return PolicyVerdict::deny("secrets stay home");
    }
    return PolicyVerdict::allow();
  });
  ToolResult denied = registry.call("echo", {{"text", "the secret"}});
  EXPECT_TRUE(denied.is_error);
  EXPECT_NE(denied.text.find("secrets stay home"), std::string::npos);
  ToolResult allowed = registry.call("echo", {{"text", "fine"}});
  EXPECT_FALSE(allowed.is_error);
  ASSERT_EQ(log.entries.size(), 2u);
  EXPECT_EQ(log.entries[0].outcome, ToolOutcome::kDenied);
  EXPECT_EQ(log.entries[0].policy, "no-secrets");
  EXPECT_EQ(log.entries[1].outcome, ToolOutcome::kOk);
}

TEST(ToolRegistry, PolicyRewritesChainInOrder) {
  ToolRegistry registry;
  ASSERT_TRUE(registry.add(echo_tool()).is_ok());
  registry.add_policy("upper", [](const ToolCallRequest& request) {
    nlohmann::json arguments = request.arguments;
    arguments["text"] = arguments["text"].get<std::string>() + "-a";
    return PolicyVerdict::rewrite(arguments);
  });
  registry.add_policy("second", [](const ToolCallRequest& request) {
    nlohmann::json arguments = request.arguments;
    arguments["text"] = arguments["text"].get<std::string>() + "-b";
    return PolicyVerdict::rewrite(arguments);
  });
  EXPECT_EQ(registry.call("echo", {{"text", "x"}}).text, "x-a-b");
  // A rewrite to something that is not an object is a refusal.
  registry.add_policy("broken", [](const ToolCallRequest&) { return PolicyVerdict::rewrite(42); });
  EXPECT_TRUE(registry.call("echo", {{"text", "x"}}).is_error);
  ASSERT_TRUE(registry.remove_policy("broken"));
  EXPECT_FALSE(registry.call("echo", {{"text", "x"}}).is_error);
}

TEST(ToolRegistry, ThrowingPolicyDeniesTheCall) {
  ToolRegistry registry;
  ASSERT_TRUE(registry.add(echo_tool()).is_ok());
  registry.add_policy("throws", [](const ToolCallRequest&) -> PolicyVerdict {
    throw std::runtime_error("boom");
  });
  ToolResult result = registry.call("echo", {{"text", "x"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_NE(result.text.find("boom"), std::string::npos);
}

TEST(ToolRegistry, BadArgumentsAreErrorResults) {
  ToolRegistry registry;
  Logged log;
  registry.set_log_sink(log.sink());
  ASSERT_TRUE(registry.add(echo_tool()).is_ok());
  ToolResult missing = registry.call("echo", nlohmann::json::object());
  EXPECT_TRUE(missing.is_error);
  EXPECT_NE(missing.text.find("missing required argument 'text'"), std::string::npos);
  ToolResult wrong_type = registry.call("echo", {{"text", 5}});
  EXPECT_NE(wrong_type.text.find("argument 'text' must be a string"), std::string::npos);
  ToolResult bad_enum = registry.call("echo", {{"text", "a"}, {"mode", "quiet"}});
  EXPECT_NE(bad_enum.text.find("must be one of"), std::string::npos);
  ToolResult not_json = registry.call_json("echo", "{\"text\": ");
  EXPECT_NE(not_json.text.find("not valid JSON"), std::string::npos);
  ToolResult not_object = registry.call_json("echo", "[1, 2]");
  EXPECT_NE(not_object.text.find("must be a JSON object"), std::string::npos);
  ASSERT_EQ(log.entries.size(), 5u);
  for (const ToolLogEntry& entry : log.entries) EXPECT_EQ(entry.outcome, ToolOutcome::kBadArguments);
}

TEST(ToolRegistry, UnknownToolAndThrowingHandlerAreErrorResults) {
  ToolRegistry registry;
  Logged log;
  registry.set_log_sink(log.sink());
  ToolDefinition thrower;
  thrower.spec.name = "thrower";
  thrower.handler = [](const nlohmann::json&) -> ToolResult { throw std::runtime_error("kaput"); };
  ASSERT_TRUE(registry.add(thrower).is_ok());
  ToolResult unknown = registry.call("nope", nlohmann::json::object());
  EXPECT_TRUE(unknown.is_error);
  EXPECT_NE(unknown.text.find("unknown tool 'nope'"), std::string::npos);
  ToolResult thrown = registry.call("thrower", nlohmann::json::object());
  EXPECT_TRUE(thrown.is_error);
  EXPECT_NE(thrown.text.find("kaput"), std::string::npos);
  ASSERT_EQ(log.entries.size(), 2u);
  EXPECT_EQ(log.entries[0].outcome, ToolOutcome::kUnknownTool);
  EXPECT_EQ(log.entries[1].outcome, ToolOutcome::kToolError);
}

TEST(ToolRegistry, InvalidUtf8FromAHandlerIsReplaced) {
  ToolRegistry registry;
  ToolDefinition binary;
  binary.spec.name = "binary";
  binary.handler = [](const nlohmann::json&) { return ToolResult::ok("a\xFF" "b"); };
  ASSERT_TRUE(registry.add(binary).is_ok());
  EXPECT_EQ(registry.call("binary", nlohmann::json::object()).text, "a\xEF\xBF\xBD" "b");
}

TEST(BuiltinTools, OnlyEnabledToolsAreRegistered) {
  ToolRegistry defaults;
  ASSERT_TRUE(register_builtin_tools(defaults, {}).is_ok());
  std::vector<std::string> names;
  for (const ToolSpec& spec : defaults.specs()) names.push_back(spec.name);
  EXPECT_EQ(names, (std::vector<std::string>{"current_time", "calculator"}));

  BuiltinToolOptions options;
  options.files.workspace = "/tmp";
  options.http.enabled = true;
  options.shell.enabled = true;
  options.shell.allowed_commands = {"echo"};
  ToolRegistry all;
  ASSERT_TRUE(register_builtin_tools(all, options).is_ok());
  EXPECT_EQ(all.specs().size(), 7u);
  EXPECT_TRUE(all.contains("shell"));
  EXPECT_TRUE(all.contains("http_fetch"));
  EXPECT_TRUE(all.contains("file_write"));

  options.shell.allowed_commands = {"bash"};
  ToolRegistry refused;
  Status status = register_builtin_tools(refused, options);
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("tools.shell"), std::string::npos);
  EXPECT_TRUE(refused.specs().empty());
}

}  // namespace
}  // namespace cove::assistant
