// Tool calls in model text (Llama 3.x JSON, Hermes <tool_call>, Mistral [TOOL_CALLS]) and the
// grammar that forces one: every text the grammar accepts parses back as a call with arguments
// that fit the tool's schema, and wrong calls are rejected by the matcher.
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

#include "runtime/grammar.h"

namespace cove::chat {
namespace {

nlohmann::json arguments_of(const ParsedToolCalls& parsed, size_t i) {
  return nlohmann::json::parse(parsed.tool_calls[i]["function"]["arguments"].get<std::string>());
}

TEST(ToolCallParse, LlamaJsonWithAndWithoutPythonTag) {
  ParsedToolCalls parsed =
      parse_tool_calls(R"(<|python_tag|>{"name": "current_time", "parameters": {"timezone": "UTC"}})");
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  const auto& call = parsed.tool_calls[0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "current_time");
  EXPECT_TRUE(call["function"]["arguments"].is_string());
  EXPECT_EQ(arguments_of(parsed, 0), nlohmann::json({{"timezone", "UTC"}}));
  EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(parsed.content, "");

  parsed = parse_tool_calls("  {\"name\": \"calculator\", \"arguments\": {\"expression\": \"1+1\"}}\n");
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  EXPECT_EQ(arguments_of(parsed, 0)["expression"], "1+1");

  // Several calls separated by ';', and a JSON array of calls.
  parsed = parse_tool_calls(R"({"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": 1}})");
  ASSERT_EQ(parsed.tool_calls.size(), 2u);
  EXPECT_NE(parsed.tool_calls[0]["id"], parsed.tool_calls[1]["id"]);
  parsed = parse_tool_calls(R"([{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}])");
  ASSERT_EQ(parsed.tool_calls.size(), 2u);
  // A fenced reply.
  parsed = parse_tool_calls("```json\n{\"name\": \"a\", \"arguments\": {\"k\": true}}\n```");
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
}

TEST(ToolCallParse, PlainTextAndOrdinaryJsonAreNotCalls) {
  ParsedToolCalls parsed = parse_tool_calls("The answer is 42.");
  EXPECT_FALSE(parsed.has_calls());
  EXPECT_EQ(parsed.content, "The answer is 42.");
  parsed = parse_tool_calls(R"({"city": "Paris", "population": 2100000})");
  EXPECT_FALSE(parsed.has_calls());
  // With known tool names, JSON that names something else is content.
  ToolCallParseOptions options;
  options.tool_names = {"current_time"};
  parsed = parse_tool_calls(R"({"name": "Alice", "parameters": {"age": 30}})", options);
  EXPECT_FALSE(parsed.has_calls());
  EXPECT_EQ(parsed.content, R"({"name": "Alice", "parameters": {"age": 30}})");
  parsed = parse_tool_calls(R"({"name": "current_time", "parameters": {}})", options);
  EXPECT_TRUE(parsed.has_calls());
  // JSON followed by prose is a reply, not a call.
  parsed = parse_tool_calls(R"({"name": "a", "arguments": {}} and then some words)");
  EXPECT_FALSE(parsed.has_calls());
}

TEST(ToolCallParse, HermesBlocksWithContentAround) {
  ParsedToolCalls parsed = parse_tool_calls(
      "Let me check.\n<tool_call>\n{\"name\": \"current_time\", \"arguments\": {}}\n</tool_call>\n"
      "<tool_call>{\"name\": \"calculator\", \"arguments\": {\"expression\": \"2*3\"}}</tool_call>");
  ASSERT_EQ(parsed.tool_calls.size(), 2u);
  EXPECT_EQ(parsed.tool_calls[0]["function"]["name"], "current_time");
  EXPECT_EQ(parsed.tool_calls[0]["function"]["arguments"], "{}");
  EXPECT_EQ(arguments_of(parsed, 1)["expression"], "2*3");
  EXPECT_EQ(parsed.content, "Let me check.");
  EXPECT_TRUE(parsed.problems.empty());
  // Generation stopped before the closing tag.
  parsed = parse_tool_calls("<tool_call>{\"name\": \"a\", \"arguments\": {\"q\": 1}}");
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  // Arguments given as a JSON string are kept as that string.
  parsed = parse_tool_calls(R"(<tool_call>{"name": "a", "arguments": "{\"q\": 2}"}</tool_call>)");
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  EXPECT_EQ(arguments_of(parsed, 0)["q"], 2);
}

TEST(ToolCallParse, MalformedCallsAreReportedNotThrown) {
  ParsedToolCalls parsed = parse_tool_calls(
      "<tool_call>{\"name\": \"a\", \"arguments\": {</tool_call> ok "
      "<tool_call>{\"arguments\": {}}</tool_call>"
      "<tool_call>{\"name\": \"b\", \"arguments\": [1]}</tool_call>"
      "<tool_call>{\"name\": \"good\", \"arguments\": {}}</tool_call>");
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  EXPECT_EQ(parsed.tool_calls[0]["function"]["name"], "good");
  ASSERT_EQ(parsed.problems.size(), 3u);
  EXPECT_NE(parsed.problems[0].find("malformed JSON"), std::string::npos);
  EXPECT_NE(parsed.problems[1].find("no \"name\""), std::string::npos);
  EXPECT_NE(parsed.problems[2].find("not a JSON object"), std::string::npos);
  // The malformed text stays in the content, where the user can see it.
  EXPECT_NE(parsed.content.find("{\"name\": \"a\", \"arguments\": {"), std::string::npos);

  for (const char* text : {"<|python_tag|>{\"name\": ", "[TOOL_CALLS][{\"name\": \"x\"",
                           "[TOOL_CALLS]x[ARGS]{bad", "[TOOL_CALLS]", "<tool_call>", "{{{{", "[]",
                           "[TOOL_CALLS]name_without_args"}) {
    ParsedToolCalls result = parse_tool_calls(text);
    EXPECT_FALSE(result.has_calls()) << text;
  }
  const std::string deep = "<tool_call>" + std::string(100000, '[') + "</tool_call>";
  EXPECT_FALSE(parse_tool_calls(deep).has_calls());
}

TEST(ToolCallParse, MistralBothVersions) {
  ParsedToolCalls parsed = parse_tool_calls(
      R"([TOOL_CALLS][{"name": "current_time", "arguments": {"timezone": "UTC"}, "id": "a1b2c3d4e"},)"
      R"( {"name": "calculator", "arguments": {"expression": "1"}}])");
  ASSERT_EQ(parsed.tool_calls.size(), 2u);
  EXPECT_EQ(parsed.tool_calls[0]["id"], "a1b2c3d4e");
  EXPECT_EQ(parsed.tool_calls[1]["id"].get<std::string>().size(), 9u);  // Mistral-style id
  EXPECT_EQ(arguments_of(parsed, 0)["timezone"], "UTC");

  parsed = parse_tool_calls(
      "Sure.[TOOL_CALLS]current_time[ARGS]{\"timezone\": \"UTC\"}"
      "[TOOL_CALLS]calculator[CALL_ID]xyz987654[ARGS]{\"expression\": \"3*3\"}");
  ASSERT_EQ(parsed.tool_calls.size(), 2u);
  EXPECT_EQ(parsed.tool_calls[0]["function"]["name"], "current_time");
  EXPECT_EQ(parsed.tool_calls[1]["function"]["name"], "calculator");
  EXPECT_EQ(parsed.tool_calls[1]["id"], "xyz987654");
  EXPECT_EQ(arguments_of(parsed, 1)["expression"], "3*3");
  EXPECT_EQ(parsed.content, "Sure.");
}

TEST(ToolCallParse, FormatFromTemplate) {
  EXPECT_EQ(tool_call_format_from_template("...<tool_call>\\n{{ tool_call | tojson }}"),
            ToolCallFormat::kHermes);
  EXPECT_EQ(tool_call_format_from_template("{{ '[TOOL_CALLS]' }}"), ToolCallFormat::kMistral);
  EXPECT_EQ(tool_call_format_from_template("<|python_tag|>"), ToolCallFormat::kJson);
}

const nlohmann::ordered_json& sample_tools() {
  static const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(R"([
    {"type": "function", "function": {"name": "current_time", "description": "time",
      "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "calculator",
      "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                     "required": ["expression"]}}},
    {"type": "function", "function": {"name": "weird", "parameters": {"$ref": "#/nowhere"}}},
    {"type": "function", "function": {"description": "no name: skipped"}}
  ])");
  return tools;
}

bool grammar_accepts(const std::string& gbnf, std::string_view text) {
  Result<runtime::Grammar> grammar = runtime::Grammar::parse(gbnf);
  EXPECT_TRUE(grammar.is_ok()) << (grammar ? "" : grammar.message()) << "\n" << gbnf;
  if (!grammar) return false;
  runtime::GrammarMatcher matcher(*grammar);
  return matcher.accept_bytes(text) && matcher.can_end();
}

TEST(ToolCallGrammar, ForcesAWellFormedCallToAKnownTool) {
  const std::string gbnf = tool_call_grammar(sample_tools());
  ASSERT_FALSE(gbnf.empty());
  const std::string good = R"({"name": "calculator", "arguments": {"expression": "2+2"}})";
  EXPECT_TRUE(grammar_accepts(gbnf, good));
  EXPECT_TRUE(grammar_accepts(gbnf, R"({"name":"current_time","arguments":{}})"));
  // A tool whose schema cannot be converted still takes any object.
  EXPECT_TRUE(grammar_accepts(gbnf, R"({"name": "weird", "arguments": {"a": [1, 2]}})"));
  EXPECT_FALSE(grammar_accepts(gbnf, R"({"name": "shell", "arguments": {"command": "ls"}})"));
  EXPECT_FALSE(grammar_accepts(gbnf, R"({"name": "calculator", "arguments": {}})"));  // required
  EXPECT_FALSE(grammar_accepts(gbnf, R"({"name": "calculator", "arguments": {"expression": 5}})"));
  EXPECT_FALSE(grammar_accepts(gbnf, "I think the answer is 4"));
  // What the grammar produces parses back as the call.
  ParsedToolCalls parsed = parse_tool_calls(good);
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  EXPECT_EQ(parsed.tool_calls[0]["function"]["name"], "calculator");
}

TEST(ToolCallGrammar, WrapsCallsInTheModelsFormat) {
  ToolCallGrammarOptions hermes{ToolCallFormat::kHermes, /*parallel=*/true};
  const std::string gbnf = tool_call_grammar(sample_tools(), hermes);
  const std::string text =
      "<tool_call>\n{\"name\": \"current_time\", \"arguments\": {\"timezone\": \"UTC\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"1\"}}\n</tool_call>";
  EXPECT_TRUE(grammar_accepts(gbnf, text));
  EXPECT_EQ(parse_tool_calls(text).tool_calls.size(), 2u);

  ToolCallGrammarOptions mistral{ToolCallFormat::kMistral, /*parallel=*/false};
  const std::string mistral_gbnf = tool_call_grammar(sample_tools(), mistral);
  const std::string mistral_text = R"([TOOL_CALLS][{"name": "current_time", "arguments": {}}])";
  EXPECT_TRUE(grammar_accepts(mistral_gbnf, mistral_text));
  EXPECT_EQ(parse_tool_calls(mistral_text).tool_calls.size(), 1u);

  ToolCallGrammarOptions json_parallel{ToolCallFormat::kJson, /*parallel=*/true};
  const std::string array_text =
      R"([{"name": "current_time", "arguments": {}}, {"name": "current_time", "arguments": {}}])";
  EXPECT_TRUE(grammar_accepts(tool_call_grammar(sample_tools(), json_parallel), array_text));
  EXPECT_EQ(parse_tool_calls(array_text).tool_calls.size(), 2u);
}

TEST(ToolCallGrammar, NoUsableToolGivesAnEmptyGrammar) {
  EXPECT_EQ(tool_call_grammar(nlohmann::ordered_json::array()), "");
  EXPECT_EQ(tool_call_grammar(nlohmann::ordered_json::object()), "");
  EXPECT_EQ(tool_call_grammar(nlohmann::ordered_json::parse(R"([{"function": {}}, 3])")), "");
}

}  // namespace
}  // namespace cove::chat
