// MCP message handling that needs no server: JSON-RPC classification and line framing, the SSE
// parser, tool definitions (x-mcp-header rules), tool results, header value encoding, tool
// name prefixes and URL parsing.
#include <gtest/gtest.h>

#include <algorithm>

#include "assistant/mcp_http_transport.h"
#include "assistant/mcp_json_rpc.h"
#include "assistant/mcp_sse.h"
#include "assistant/mcp_tools.h"

namespace cove::assistant {
namespace {

TEST(McpJsonRpc, ClassifiesEveryKindOfMessage) {
  EXPECT_EQ(classify_message(make_request(1, "ping", Json::object())).kind,
            McpMessageKind::kRequest);
  EXPECT_EQ(classify_message(make_notification("notifications/x", Json())).kind,
            McpMessageKind::kNotification);
  EXPECT_EQ(classify_message(make_result_response(3, {{"a", 1}})).kind, McpMessageKind::kResult);
  McpMessage error = classify_message(make_error_response(4, -32601, "nope"));
  EXPECT_EQ(error.kind, McpMessageKind::kError);
  EXPECT_EQ(error.error_code, -32601);
  EXPECT_EQ(error.error_message, "nope");
}

TEST(McpJsonRpc, RejectsMalformedMessagesWithAReason) {
  for (const Json& bad : {Json(5), Json::array(), Json{{"id", 1}, {"result", 1}},
                          Json{{"jsonrpc", "1.0"}, {"id", 1}, {"result", 1}},
                          Json{{"jsonrpc", "2.0"}, {"id", 1.5}, {"result", 1}},
                          Json{{"jsonrpc", "2.0"}, {"result", 1}},
                          Json{{"jsonrpc", "2.0"}, {"id", 1}, {"error", "boom"}},
                          Json{{"jsonrpc", "2.0"}, {"id", 1}, {"error", {{"code", "x"}}}},
                          Json{{"jsonrpc", "2.0"}, {"id", nullptr}, {"method", "m"}},
                          Json{{"jsonrpc", "2.0"}, {"method", "m"}, {"params", 3}},
                          Json{{"jsonrpc", "2.0"}, {"id", 2}}}) {
    McpMessage message = classify_message(bad);
    EXPECT_EQ(message.kind, McpMessageKind::kInvalid) << bad.dump();
    EXPECT_FALSE(message.problem.empty()) << bad.dump();
  }
}

TEST(McpJsonRpc, ParsesLinesAndBatchesAndQuotesGarbage) {
  Result<std::vector<Json>> one = parse_message_line(R"({"jsonrpc":"2.0","id":1,"result":{}})");
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one->size(), 1u);
  Result<std::vector<Json>> batch = parse_message_line(R"([{"a":1},{"b":2}])");
  ASSERT_TRUE(batch.is_ok());
  EXPECT_EQ(batch->size(), 2u);
  Result<std::vector<Json>> garbage = parse_message_line("Server listening on port 3001\x01");
  ASSERT_FALSE(garbage.is_ok());
  EXPECT_NE(garbage.message().find("Server listening"), std::string::npos);
  EXPECT_EQ(garbage.message().find('\x01'), std::string::npos);  // control bytes are masked
  EXPECT_FALSE(parse_message_line("{\"a\":").is_ok());
  EXPECT_FALSE(parse_message_line("[]").is_ok());
  EXPECT_FALSE(parse_message_line("\xff\xfe").is_ok());
}

TEST(McpSse, ParsesEventsSplitAtAnyByte) {
  const std::string stream =
      ": keep-alive\r\n"
      "event: message\r\n"
      "id: 7\r\n"
      "data: {\"a\":\r\n"
      "data: 1}\r\n"
      "\r\n"
      "retry: 100\n"
      "data: second\n"
      "\n"
      "event: ping\r"
      "data: x\r"
      "\r";
  // Every split point must give the same events as feeding it whole.
  for (size_t split = 0; split <= stream.size(); ++split) {
    SseParser parser;
    std::vector<SseEvent> events = parser.feed(stream.substr(0, split));
    for (SseEvent& e : parser.feed(stream.substr(split))) events.push_back(std::move(e));
    ASSERT_EQ(events.size(), 3u) << "split at " << split;
    EXPECT_EQ(events[0].data, "{\"a\":\n1}");
    EXPECT_EQ(events[0].id, "7");
    EXPECT_EQ(events[0].type, "message");
    EXPECT_EQ(events[1].data, "second");
    EXPECT_EQ(events[2].type, "ping");
    EXPECT_EQ(events[2].data, "x");
  }
}

TEST(McpSse, AnEventWithoutDataIsNotDispatched) {
  SseParser parser;
  EXPECT_TRUE(parser.feed("event: message\n\n: comment\n\n").empty());
  EXPECT_EQ(parser.feed("data:\n\n").size(), 1u);  // empty data line still counts
}

TEST(McpTools, ReadsADefinitionAndDefaultsTheSchema) {
  Result<McpTool> tool = parse_mcp_tool({{"name", "echo"}, {"description", "d"}}, true);
  ASSERT_TRUE(tool.is_ok());
  EXPECT_EQ(tool->input_schema, (Json{{"type", "object"}}));
  EXPECT_FALSE(parse_mcp_tool({{"description", "no name"}}, false).is_ok());
  EXPECT_FALSE(parse_mcp_tool({{"name", "x"}, {"inputSchema", "str"}}, false).is_ok());
  EXPECT_FALSE(parse_mcp_tool("tool", false).is_ok());
}

TEST(McpTools, CollectsAndValidatesHeaderParameters) {
  Json schema = {{"type", "object"},
                 {"properties",
                  {{"region", {{"type", "string"}, {"x-mcp-header", "Region"}}},
                   {"opts",
                    {{"type", "object"},
                     {"properties", {{"depth", {{"type", "integer"}, {"x-mcp-header", "Depth"}}}}}}},
                   {"query", {{"type", "string"}, {"default", {{"x-mcp-header", "data"}}}}}}}};
  Result<McpTool> tool = parse_mcp_tool({{"name", "sql"}, {"inputSchema", schema}}, true);
  ASSERT_TRUE(tool.is_ok()) << tool.message();
  ASSERT_EQ(tool->header_params.size(), 2u);
  McpHeaders headers = header_params_for_call(
      *tool, {{"region", "us-west1"}, {"opts", {{"depth", 3}}}, {"query", "SELECT"}});
  std::sort(headers.begin(), headers.end());
  EXPECT_EQ(headers, (McpHeaders{{"Mcp-Param-Depth", "3"}, {"Mcp-Param-Region", "us-west1"}}));
  // Absent or null values give no header.
  EXPECT_TRUE(header_params_for_call(*tool, {{"region", nullptr}}).empty());

  auto rejected = [](Json bad_schema) {
    return !parse_mcp_tool({{"name", "t"}, {"inputSchema", bad_schema}}, true).is_ok();
  };
  EXPECT_TRUE(rejected({{"properties", {{"n", {{"type", "number"}, {"x-mcp-header", "N"}}}}}}));
  EXPECT_TRUE(rejected({{"properties", {{"n", {{"type", "string"}, {"x-mcp-header", "a b"}}}}}}));
  EXPECT_TRUE(rejected({{"properties", {{"n", {{"type", "string"}, {"x-mcp-header", ""}}}}}}));
  EXPECT_TRUE(rejected({{"properties",
                         {{"a", {{"type", "string"}, {"x-mcp-header", "Same"}}},
                          {"b", {{"type", "string"}, {"x-mcp-header", "same"}}}}}}));
  EXPECT_TRUE(rejected(
      {{"properties",
        {{"list", {{"type", "array"},
                   {"items", {{"type", "string"}, {"x-mcp-header", "Item"}}}}}}}}));
  // Over stdio the annotations may be ignored: the tool stays, without header parameters.
  Result<McpTool> lenient = parse_mcp_tool(
      {{"name", "t"},
       {"inputSchema", {{"properties", {{"n", {{"type", "number"}, {"x-mcp-header", "N"}}}}}}}},
      false);
  ASSERT_TRUE(lenient.is_ok());
  EXPECT_TRUE(lenient->header_params.empty());
}

TEST(McpTools, EncodesHeaderValuesThatAreNotPlainAscii) {
  EXPECT_EQ(encode_mcp_header_value("us-west1"), "us-west1");
  EXPECT_EQ(encode_mcp_header_value("Hello, 世界"), "=?base64?SGVsbG8sIOS4lueVjA==?=");
  EXPECT_EQ(encode_mcp_header_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
  EXPECT_EQ(encode_mcp_header_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
  EXPECT_EQ(encode_mcp_header_value("=?base64?literal?="), "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
}

TEST(McpTools, TurnsResultContentIntoText) {
  Json result = {{"content",
                  {{{"type", "text"}, {"text", "a"}},
                   {{"type", "resource_link"}, {"uri", "file:///x"}, {"name", "x"}},
                   {{"type", "resource"}, {"resource", {{"uri", "mem://1"}, {"text", "inline"}}}},
                   {{"type", "resource"}, {"resource", {{"uri", "mem://2"}, {"blob", "AA=="}}}},
                   {{"type", "audio"}, {"mimeType", "audio/wav"}, {"data", "AAAAAAAA"}}}}};
  Result<McpToolResult> parsed = parse_tool_result(result);
  ASSERT_TRUE(parsed.is_ok());
  EXPECT_EQ(parsed->text,
            "a\n[resource link: file:///x (x)]\ninline\n[resource: mem://2]\n"
            "[audio: audio/wav, 6 bytes]");
  Result<McpToolResult> structured_only =
      parse_tool_result({{"content", Json::array()}, {"structuredContent", {{"t", 21}}}});
  ASSERT_TRUE(structured_only.is_ok());
  EXPECT_EQ(structured_only->text, "{\"t\":21}");
}

TEST(McpTools, PrefixesNamesForTheModel) {
  EXPECT_EQ(mcp_exposed_tool_name("everything", "echo"), "everything__echo");
  EXPECT_EQ(mcp_exposed_tool_name("fs", "read file.v2"), "fs__read_file_v2");
  EXPECT_EQ(mcp_exposed_tool_name("s", std::string(100, 'x')).size(), 64u);
  McpTool tool;
  tool.name = "get-sum";
  tool.description = "adds";
  tool.input_schema = {{"type", "object"}};
  Json definition = mcp_tool_definition("everything__get-sum", tool);
  EXPECT_EQ(definition["function"]["name"], "everything__get-sum");
  EXPECT_EQ(definition["function"]["parameters"]["type"], "object");
}

TEST(McpHttp, ParsesUrlsAndRefusesWhatItCannotUse) {
  Result<HttpUrl> url = parse_http_url("http://127.0.0.1:3001/mcp?x=1");
  ASSERT_TRUE(url.is_ok());
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "3001");
  EXPECT_EQ(url->target, "/mcp?x=1");
  Result<HttpUrl> bare = parse_http_url("http://localhost");
  ASSERT_TRUE(bare.is_ok());
  EXPECT_EQ(bare->port, "80");
  EXPECT_EQ(bare->target, "/");
  Result<HttpUrl> v6 = parse_http_url("http://[::1]:8080/mcp");
  ASSERT_TRUE(v6.is_ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(parse_http_url("https://x/mcp").is_ok());
  EXPECT_FALSE(parse_http_url("ftp://x").is_ok());
  EXPECT_FALSE(parse_http_url("http://:80/").is_ok());
  EXPECT_FALSE(parse_http_url("http://h:port/").is_ok());
  EXPECT_FALSE(parse_http_url("http://user:pw@h/").is_ok());
}

}  // namespace
}  // namespace cove::assistant
