// The MCP client's protocol logic against a fake in-process transport: handshakes (legacy and
// the stateless 2026-07-28 form), pagination, result and error mapping, timeouts, garbage from
// the server, notifications, and a connection that dies under a request.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "assistant/mcp_client.h"

namespace cove::assistant {
namespace {

using namespace std::chrono_literals;

// A scripted server living in the test: `handle` sees each message the client sends and may
// answer through reply()/deliver(), synchronously or later from another thread.
class FakeTransport final : public McpTransport {
 public:
  using Handler = std::function<void(FakeTransport&, const Json& message)>;

  explicit FakeTransport(Handler handle, bool restartable = false)
      : handle_(std::move(handle)), restartable_(restartable) {}

  Status open(McpTransportEvents events) override {
    std::lock_guard lock(mutex_);
    events_ = std::move(events);
    ++opens_;
    return Status::ok();
  }
  Status send(const Json& message, McpClock::time_point, const McpHeaders& headers) override {
    {
      std::lock_guard lock(mutex_);
      sent_.push_back(message);
      sent_headers_.push_back(headers);
    }
    handle_(*this, message);
    return Status::ok();
  }
  void close() override {}
  std::string describe() const override { return "fake"; }
  bool restartable() const override { return restartable_; }

  void deliver(Json message) { events().on_message(std::move(message)); }
  void reply(const Json& request, Json result) {
    deliver(make_result_response(request["id"], std::move(result)));
  }
  void fail(const Json& request, int code, const std::string& text) {
    deliver(make_error_response(request["id"], code, text));
  }
  void die(const std::string& reason) { events().on_closed(reason); }

  std::vector<Json> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<McpHeaders> sent_headers() {
    std::lock_guard lock(mutex_);
    return sent_headers_;
  }
  int opens() {
    std::lock_guard lock(mutex_);
    return opens_;
  }
  std::vector<std::string> methods() {
    std::vector<std::string> out;
    for (const Json& m : sent()) out.push_back(m.value("method", std::string("<response>")));
    return out;
  }

 private:
  McpTransportEvents events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

  Handler handle_;
  bool restartable_;
  std::mutex mutex_;
  McpTransportEvents events_;
  std::vector<Json> sent_;
  std::vector<McpHeaders> sent_headers_;
  int opens_ = 0;
};

Json tool_json(const std::string& name) {
  return {{"name", name},
          {"description", "the " + name + " tool"},
          {"inputSchema", {{"type", "object"}, {"properties", {{"x", {{"type", "string"}}}}}}}};
}

// A legacy server: answers initialize with `version`, refuses server/discover, lists `tools`.
FakeTransport::Handler legacy_server(std::string version, std::vector<std::string> tools = {"echo"},
                                     std::function<void(FakeTransport&, const Json&)> on_call = {}) {
  return [=](FakeTransport& t, const Json& m) {
    std::string method = m.value("method", "");
    if (!m.contains("id")) return;  // notifications
    if (method == "server/discover") {
      t.fail(m, kJsonRpcMethodNotFound, "Method not found");
    } else if (method == "initialize") {
      t.reply(m, {{"protocolVersion", version},
                  {"capabilities", {{"tools", {{"listChanged", true}}}}},
                  {"serverInfo", {{"name", "fake"}, {"version", "1"}}}});
    } else if (method == "tools/list") {
      Json list = Json::array();
      for (const auto& name : tools) list.push_back(tool_json(name));
      t.reply(m, {{"tools", list}});
    } else if (method == "tools/call" && on_call) {
      on_call(t, m);
    } else if (method == "ping") {
      t.reply(m, Json::object());
    }
  };
}

McpClientConfig fake_config(std::string protocol = "auto") {
  McpClientConfig config;
  config.name = "fake";
  config.protocol = std::move(protocol);
  config.request_timeout = 5000ms;
  config.startup_timeout = 5000ms;
  config.restart_backoff = 10ms;
  return config;
}

template <class Predicate>
bool eventually(Predicate predicate) {
  for (int i = 0; i < 500; ++i) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

TEST(McpClient, LegacyHandshakeOffersNewestAndAcceptsServersChoice) {
  auto transport = std::make_unique<FakeTransport>(legacy_server("2025-06-18"));
  FakeTransport& fake = *transport;
  McpClient client(fake_config(), std::move(transport));
  ASSERT_TRUE(client.start().is_ok());
  EXPECT_EQ(client.protocol_version(), "2025-06-18");
  EXPECT_FALSE(client.stateless());
  EXPECT_EQ(client.server_info()["name"], "fake");
  std::vector<std::string> methods = fake.methods();
  // auto: the stateless probe first, then the legacy handshake.
  ASSERT_GE(methods.size(), 4u);
  EXPECT_EQ(methods[0], "server/discover");
  EXPECT_EQ(methods[1], "initialize");
  EXPECT_EQ(fake.sent()[1]["params"]["protocolVersion"], "2025-11-25");
  EXPECT_EQ(methods[2], "notifications/initialized");
  EXPECT_EQ(methods[3], "tools/list");
  ASSERT_EQ(client.tools().size(), 1u);
  EXPECT_EQ(client.tools()[0].name, "echo");
  // After initialize, HTTP requests carry the negotiated version.
  auto headers = fake.sent_headers()[3];
  EXPECT_NE(std::find(headers.begin(), headers.end(),
                      std::pair<std::string, std::string>("MCP-Protocol-Version", "2025-06-18")),
            headers.end());
}

TEST(McpClient, ExplicitLegacyVersionSkipsTheProbe) {
  auto transport = std::make_unique<FakeTransport>(legacy_server("2025-11-25"));
  FakeTransport& fake = *transport;
  McpClient client(fake_config("2025-11-25"), std::move(transport));
  ASSERT_TRUE(client.start().is_ok());
  EXPECT_EQ(fake.methods()[0], "initialize");
}

TEST(McpClient, RefusesAProtocolVersionItDoesNotSpeak) {
  McpClient client(fake_config("2025-11-25"),
                   std::make_unique<FakeTransport>(legacy_server("2024-11-05")));
  Status started = client.start();
  ASSERT_FALSE(started.is_ok());
  EXPECT_NE(started.message().find("'2024-11-05'"), std::string::npos) << started.message();
  EXPECT_NE(started.message().find("fake"), std::string::npos);
}

TEST(McpClient, FollowsToolsListCursorsAcrossPages) {
  std::vector<std::string> cursors_seen;
  auto handler = [&](FakeTransport& t, const Json& m) {
    std::string method = m.value("method", "");
    if (method == "initialize") {
      t.reply(m, {{"protocolVersion", "2025-11-25"}, {"capabilities", {{"tools", Json::object()}}}});
    } else if (method == "tools/list") {
      std::string cursor = m["params"].value("cursor", "");
      cursors_seen.push_back(cursor);
      if (cursor.empty()) {
        t.reply(m, {{"tools", {tool_json("a"), tool_json("b")}}, {"nextCursor", "page2"}});
      } else if (cursor == "page2") {
        t.reply(m, {{"tools", {tool_json("c")}}, {"nextCursor", "page3"}});
      } else {
        t.reply(m, {{"tools", {tool_json("d")}}});
      }
    }
  };
  McpClient client(fake_config("2025-11-25"), std::make_unique<FakeTransport>(handler));
  ASSERT_TRUE(client.start().is_ok());
  std::vector<std::string> names;
  for (const McpTool& tool : client.tools()) names.push_back(tool.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(cursors_seen, (std::vector<std::string>{"", "page2", "page3"}));
}

TEST(McpClient, ACursorThatNeverAdvancesIsAnError) {
  auto handler = [](FakeTransport& t, const Json& m) {
    std::string method = m.value("method", "");
    if (method == "initialize") {
      t.reply(m, {{"protocolVersion", "2025-11-25"}, {"capabilities", {{"tools", Json::object()}}}});
    } else if (method == "tools/list") {
      t.reply(m, {{"tools", {tool_json("a")}}, {"nextCursor", "same"}});
    }
  };
  McpClient client(fake_config("2025-11-25"), std::make_unique<FakeTransport>(handler));
  Status started = client.start();
  ASSERT_FALSE(started.is_ok());
  EXPECT_NE(started.message().find("same cursor"), std::string::npos) << started.message();
}

TEST(McpClient, ToolCallResultsBecomeTextStructuredAndErrors) {
  auto on_call = [](FakeTransport& t, const Json& m) {
    std::string name = m["params"]["name"];
    if (name == "echo") {
      t.reply(m, {{"content", {{{"type", "text"}, {"text", "Echo: " +
                                                               m["params"]["arguments"]["x"]
                                                                   .get<std::string>()}},
                               {{"type", "image"}, {"mimeType", "image/png"}, {"data", "AAAA"}}}},
                  {"structuredContent", {{"n", 1}}}});
    } else if (name == "broken") {
      t.reply(m, {{"content", {{{"type", "text"}, {"text", "disk full"}}}}, {"isError", true}});
    } else {
      t.fail(m, kJsonRpcInvalidParams, "Unknown tool: " + name);
    }
  };
  McpClient client(fake_config("2025-11-25"),
                   std::make_unique<FakeTransport>(legacy_server("2025-11-25", {"echo"}, on_call)));
  ASSERT_TRUE(client.start().is_ok());

  Result<McpToolResult> echo = client.call_tool("echo", {{"x", "hi"}});
  ASSERT_TRUE(echo.is_ok()) << echo.message();
  EXPECT_FALSE(echo->is_error);
  EXPECT_EQ(echo->text, "Echo: hi\n[image: image/png, 3 bytes]");
  EXPECT_EQ(echo->structured_content["n"], 1);

  Result<McpToolResult> broken = client.call_tool("broken", Json::object());
  ASSERT_TRUE(broken.is_ok());
  EXPECT_TRUE(broken->is_error);
  EXPECT_EQ(broken->text, "disk full");

  Result<McpToolResult> missing = client.call_tool("nope", Json::object());
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.code(), "rpc_error");
  EXPECT_NE(missing.message().find("Unknown tool: nope"), std::string::npos);
  EXPECT_NE(missing.message().find("-32602"), std::string::npos);
  EXPECT_NE(missing.message().find("invalid params"), std::string::npos);
}

TEST(McpClient, AServerThatNeverAnswersTimesOutAndIsCancelled) {
  // tools/call is swallowed; the answer arrives only after the client gave up.
  std::vector<Json> swallowed;
  std::mutex swallowed_mutex;
  auto on_call = [&](FakeTransport&, const Json& m) {
    std::lock_guard lock(swallowed_mutex);
    swallowed.push_back(m);
  };
  auto transport = std::make_unique<FakeTransport>(legacy_server("2025-11-25", {"slow"}, on_call));
  FakeTransport& fake = *transport;
  McpClient client(fake_config("2025-11-25"), std::move(transport));
  ASSERT_TRUE(client.start().is_ok());
  Result<McpToolResult> result = client.call_tool("slow", Json::object(), 100ms);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.code(), "timeout");
  EXPECT_NE(result.message().find("'fake'"), std::string::npos);
  std::vector<Json> sent = fake.sent();
  ASSERT_EQ(sent.back()["method"], "notifications/cancelled");
  EXPECT_EQ(sent.back()["params"]["requestId"], swallowed.at(0)["id"]);
  // The late answer is dropped without harm, and the client keeps working.
  fake.reply(swallowed.at(0), {{"content", Json::array()}});
  EXPECT_TRUE(client.ping().is_ok());
  bool noted = false;
  for (const std::string& p : client.recent_problems()) {
    noted |= p.find("unknown or expired request id") != std::string::npos;
  }
  EXPECT_TRUE(noted);
}

TEST(McpClient, GarbageFromTheServerIsReportedAndIgnored) {
  auto on_call = [](FakeTransport& t, const Json& m) {
    t.deliver(42);
    t.deliver({{"no", "jsonrpc"}});
    t.deliver({{"jsonrpc", "2.0"}, {"id", m["id"]}, {"error", {{"code", "bad"}}}});
    t.deliver({{"jsonrpc", "2.0"}, {"id", {1, 2}}, {"result", Json::object()}});
    t.deliver({{"jsonrpc", "2.0"}, {"method", 7}});
    t.deliver({{"jsonrpc", "2.0"}, {"id", 99999}, {"result", Json::object()}});
    t.deliver({{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", -32700}, {"message", "?"}}}});
    t.reply(m, {{"content", {{{"type", "text"}, {"text", "fine"}}}}});
  };
  McpClient client(fake_config("2025-11-25"),
                   std::make_unique<FakeTransport>(legacy_server("2025-11-25", {"t"}, on_call)));
  ASSERT_TRUE(client.start().is_ok());
  Result<McpToolResult> result = client.call_tool("t", Json::object());
  ASSERT_TRUE(result.is_ok()) << result.message();
  EXPECT_EQ(result->text, "fine");
  EXPECT_GE(client.recent_problems().size(), 6u);
}

TEST(McpClient, ResultsOfTheWrongShapeAreErrorsNotCrashes) {
  auto on_call = [](FakeTransport& t, const Json& m) {
    std::string name = m["params"]["name"];
    if (name == "array") t.reply(m, Json::array());
    if (name == "content") t.reply(m, {{"content", "not an array"}});
    if (name == "weird") t.reply(m, {{"content", {{{"type", "video"}}, 5, {{"type", "text"}}}}});
  };
  McpClient client(fake_config("2025-11-25"),
                   std::make_unique<FakeTransport>(legacy_server("2025-11-25", {}, on_call)));
  ASSERT_TRUE(client.start().is_ok());
  EXPECT_EQ(client.call_tool("array", {}).code(), "bad_reply");
  EXPECT_EQ(client.call_tool("content", {}).code(), "bad_reply");
  Result<McpToolResult> weird = client.call_tool("weird", {});
  ASSERT_TRUE(weird.is_ok());
  EXPECT_EQ(weird->text, "[video content]\n");
}

TEST(McpClient, ListChangedNotificationRefreshesTheTools) {
  std::atomic<int> version{1};
  auto handler = [&](FakeTransport& t, const Json& m) {
    std::string method = m.value("method", "");
    if (method == "initialize") {
      t.reply(m, {{"protocolVersion", "2025-11-25"}, {"capabilities", {{"tools", Json::object()}}}});
    } else if (method == "tools/list") {
      t.reply(m, {{"tools", Json::array({tool_json(version == 1 ? "old" : "new")})}});
    }
  };
  auto transport = std::make_unique<FakeTransport>(handler);
  FakeTransport& fake = *transport;
  McpClient client(fake_config("2025-11-25"), std::move(transport));
  std::atomic<int> callbacks{0};
  client.set_tools_changed_callback([&] { ++callbacks; });
  Status started = client.start();
  ASSERT_TRUE(started.is_ok()) << started.message();
  ASSERT_EQ(client.tools().at(0).name, "old");
  version = 2;
  fake.deliver(make_notification("notifications/tools/list_changed", Json()));
  EXPECT_TRUE(eventually([&] { return client.tools().at(0).name == "new"; }));
  // The callback runs just after the new list is stored, so it may trail the list by a moment.
  EXPECT_TRUE(eventually([&] { return callbacks.load() >= 1; }));
}

TEST(McpClient, AnswersTheServersPingAndRefusesOtherRequests) {
  auto transport = std::make_unique<FakeTransport>(legacy_server("2025-11-25"));
  FakeTransport& fake = *transport;
  McpClient client(fake_config("2025-11-25"), std::move(transport));
  ASSERT_TRUE(client.start().is_ok());
  fake.deliver({{"jsonrpc", "2.0"}, {"id", "s1"}, {"method", "ping"}});
  fake.deliver({{"jsonrpc", "2.0"}, {"id", "s2"}, {"method", "sampling/createMessage"}});
  std::vector<Json> sent = fake.sent();
  ASSERT_GE(sent.size(), 2u);
  const Json& pong = sent[sent.size() - 2];
  EXPECT_EQ(pong["id"], "s1");
  EXPECT_TRUE(pong["result"].is_object());
  EXPECT_EQ(sent.back()["id"], "s2");
  EXPECT_EQ(sent.back()["error"]["code"], kJsonRpcMethodNotFound);
}

// A 2026-07-28 server: server/discover, and every request must carry the per-request _meta.
FakeTransport::Handler modern_server(std::vector<std::string>* problems) {
  return [problems](FakeTransport& t, const Json& m) {
    if (!m.contains("id")) return;
    std::string method = m["method"];
    const Json meta = m.contains("params") ? m["params"].value("_meta", Json()) : Json();
    if (!meta.is_object() || meta.value("io.modelcontextprotocol/protocolVersion", "") != "2026-07-28" ||
        !meta.contains("io.modelcontextprotocol/clientCapabilities")) {
      problems->push_back(method + " without _meta");
      t.fail(m, kJsonRpcInvalidParams, "missing _meta");
      return;
    }
    if (method == "server/discover") {
      t.reply(m, {{"supportedVersions", {"2026-07-28"}},
                  {"capabilities", {{"tools", Json::object()}}},
                  {"serverInfo", {{"name", "modern"}, {"version", "2"}}},
                  {"resultType", "complete"}});
    } else if (method == "tools/list") {
      t.reply(m, {{"tools", {tool_json("echo")}}, {"resultType", "complete"}});
    } else if (method == "tools/call") {
      if (m["params"]["name"] == "ask") {
        t.reply(m, {{"resultType", "input_required"}, {"inputRequests", Json::object()}});
      } else {
        t.reply(m, {{"content", {{{"type", "text"}, {"text", "ok"}}}}, {"resultType", "complete"}});
      }
    } else {
      problems->push_back("unexpected " + method);
      t.fail(m, kJsonRpcMethodNotFound, "no");
    }
  };
}

bool has_header(const McpHeaders& headers, const std::string& name, const std::string& value) {
  return std::find(headers.begin(), headers.end(), std::make_pair(name, value)) != headers.end();
}

TEST(McpClient, StatelessFormCarriesMetaAndHeadersOnEveryRequest) {
  std::vector<std::string> problems;
  auto transport = std::make_unique<FakeTransport>(modern_server(&problems));
  FakeTransport& fake = *transport;
  McpClient client(fake_config("2026-07-28"), std::move(transport));
  ASSERT_TRUE(client.start().is_ok());
  EXPECT_TRUE(client.stateless());
  EXPECT_EQ(client.protocol_version(), "2026-07-28");
  EXPECT_EQ(client.server_info()["name"], "modern");
  Result<McpToolResult> called = client.call_tool("echo", {{"x", "y"}});
  ASSERT_TRUE(called.is_ok()) << called.message();
  EXPECT_EQ(called->text, "ok");
  EXPECT_TRUE(problems.empty()) << problems.front();
  std::vector<std::string> methods = fake.methods();
  EXPECT_EQ(std::count(methods.begin(), methods.end(), "initialize"), 0);
  const McpHeaders call_headers = fake.sent_headers().back();
  EXPECT_TRUE(has_header(call_headers, "MCP-Protocol-Version", "2026-07-28"));
  EXPECT_TRUE(has_header(call_headers, "Mcp-Method", "tools/call"));
  EXPECT_TRUE(has_header(call_headers, "Mcp-Name", "echo"));

  Result<McpToolResult> ask = client.call_tool("ask", Json::object());
  ASSERT_FALSE(ask.is_ok());
  EXPECT_NE(ask.message().find("input_required"), std::string::npos);
}

TEST(McpClient, AutoDetectsAModernServer) {
  std::vector<std::string> problems;
  McpClient client(fake_config("auto"), std::make_unique<FakeTransport>(modern_server(&problems)));
  ASSERT_TRUE(client.start().is_ok());
  EXPECT_TRUE(client.stateless());
  EXPECT_EQ(client.tools().size(), 1u);
}

TEST(McpClient, UnsupportedVersionErrorLeadsToTheLegacyHandshake) {
  auto handler = [](FakeTransport& t, const Json& m) {
    std::string method = m.value("method", "");
    if (method == "server/discover") {
      t.deliver({{"jsonrpc", "2.0"},
                 {"id", m["id"]},
                 {"error", {{"code", kMcpUnsupportedProtocolVersion},
                            {"message", "Unsupported protocol version"},
                            {"data", {{"supported", {"2025-11-25"}}, {"requested", "2026-07-28"}}}}}});
    } else {
      legacy_server("2025-11-25")(t, m);
    }
  };
  auto transport = std::make_unique<FakeTransport>(handler);
  FakeTransport& fake = *transport;
  McpClient client(fake_config("auto"), std::move(transport));
  ASSERT_TRUE(client.start().is_ok());
  EXPECT_FALSE(client.stateless());
  EXPECT_EQ(client.protocol_version(), "2025-11-25");
  EXPECT_EQ(fake.methods()[1], "initialize");
  // Required stateless with a server that cannot: a clear refusal naming both sides.
  McpClient strict(fake_config("2026-07-28"), std::make_unique<FakeTransport>(handler));
  Status refused = strict.start();
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("2025-11-25"), std::string::npos) << refused.message();
}

TEST(McpClient, ADeadConnectionFailsInFlightCallsAndIsRestarted) {
  std::atomic<bool> die_on_call{true};
  auto on_call = [&](FakeTransport& t, const Json& m) {
    if (die_on_call.exchange(false)) {
      // The server dies in the middle of the call (from its own thread, as a reader would).
      std::thread([&t] { t.die("the server process 123 exited with status 3"); }).detach();
      return;
    }
    t.reply(m, {{"content", {{{"type", "text"}, {"text", "back"}}}}});
  };
  auto transport = std::make_unique<FakeTransport>(
      legacy_server("2025-11-25", {"echo"}, on_call), /*restartable=*/true);
  FakeTransport& fake = *transport;
  McpClient client(fake_config("2025-11-25"), std::move(transport));
  ASSERT_TRUE(client.start().is_ok());
  Result<McpToolResult> lost = client.call_tool("echo", Json::object());
  ASSERT_FALSE(lost.is_ok());
  EXPECT_EQ(lost.code(), "server_exited");
  EXPECT_NE(lost.message().find("'fake'"), std::string::npos) << lost.message();
  EXPECT_NE(lost.message().find("status 3"), std::string::npos) << lost.message();
  EXPECT_NE(lost.message().find("tools/call"), std::string::npos) << lost.message();

  EXPECT_TRUE(eventually([&] { return client.restart_count() == 1 && client.ready(); }));
  EXPECT_EQ(fake.opens(), 2);
  Result<McpToolResult> back = client.call_tool("echo", Json::object());
  ASSERT_TRUE(back.is_ok()) << back.message();
  EXPECT_EQ(back->text, "back");
}

TEST(McpClient, ShutdownFailsWaitingCallsPromptly) {
  auto on_call = [](FakeTransport&, const Json&) {};  // never answers
  McpClient client(fake_config("2025-11-25"),
                   std::make_unique<FakeTransport>(legacy_server("2025-11-25", {"t"}, on_call)));
  ASSERT_TRUE(client.start().is_ok());
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    client.shutdown();
  });
  Result<McpToolResult> result = client.call_tool("t", Json::object(), 60000ms);
  stopper.join();
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.code(), "shutdown");
  EXPECT_FALSE(client.call_tool("t", Json::object()).is_ok());
}

TEST(McpClientConfig, ValidationNamesTheServerAndField) {
  McpClientConfig config;
  config.name = "bad name";
  config.stdio.command = "x";
  EXPECT_NE(validate_mcp_client_config(config).message().find("'bad name'"), std::string::npos);
  config.name = "ok";
  config.protocol = "2024-11-05";
  EXPECT_NE(validate_mcp_client_config(config).message().find("protocol"), std::string::npos);
  config.protocol = "auto";
  config.transport = McpTransportKind::kHttp;
  config.http.url = "https://example.com/mcp";
  EXPECT_NE(validate_mcp_client_config(config).message().find("https"), std::string::npos);
  config.http.url = "http://127.0.0.1:3001/mcp";
  EXPECT_TRUE(validate_mcp_client_config(config).is_ok());
}

}  // namespace
}  // namespace cove::assistant
