// Stored conversations over HTTP (conversation_api.h), in process over real sockets: the real
// Assistant, Store (a temporary SQLite file) and ToolRegistry (the current_time tool on a fixed
// clock), with a scripted ModelBackend in place of a model. Checks the tool loop end to end
// (call, result, final answer, all stored and listed), streaming (conversation_id in every
// chunk, acknowledgement after the commit), continuing a conversation, the listing routes, the
// error cases, a client hanging up mid-turn, and serving several models on the stateless routes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "assistant/assistant.h"
#include "assistant/config.h"
#include "assistant/memory.h"
#include "assistant/store.h"
#include "assistant/tool_time.h"
#include "assistant/tools.h"
#include "gguf/gguf.h"
#include "server/conversation_api.h"
#include "server/conversation_service.h"
#include "server/openai_api.h"
#include "server/server.h"
#include "support/goldens.h"
#include "support/http_client.h"

namespace cove::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using json = nlohmann::json;

// A model step by script: offered tools (forced or auto) and no tool result yet -> a call of
// current_time; otherwise the answer "The time is <the last tool result>." streamed in pieces,
// or, in slow mode, pieces every few milliseconds until the sink says stop.
class ScriptedBackend : public assistant::ModelBackend {
 public:
  explicit ScriptedBackend(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  int64_t context_tokens() const override { return 4096; }
  int64_t count_tokens(std::string_view text) const override {
    return static_cast<int64_t>(text.size() / 4 + 1);
  }

  Result<assistant::StepResult> generate(const assistant::StepRequest& request,
                                         const assistant::StepTextSink& on_text) override {
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request.messages);
    }
    assistant::StepResult out;
    out.prompt_tokens = 10;
    const json& last = request.messages.back();
    const bool after_tool = last.value("role", "") == "tool";
    if (request.tool_mode != assistant::StepToolMode::kNone && !after_tool) {
      out.tool_calls.push_back({"call_scripted1", "current_time", R"({"timezone": "UTC"})"});
      out.finish_reason = "tool_calls";
      out.completion_tokens = 7;
      return out;
    }
    if (slow_) {
      for (int i = 0; i < 100000; ++i) {
        if (!on_text(" tick")) {
          cancelled_.store(true);
          out.finish_reason = "cancelled";
          return out;
        }
        out.text += " tick";
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      out.finish_reason = "stop";
      return out;
    }
    const std::string tool_text = after_tool ? last.value("content", "") : "nothing";
    for (const std::string& piece : {std::string("The time is "), tool_text, std::string(".")}) {
      out.text += piece;
      if (!on_text(piece)) {
        out.finish_reason = "cancelled";
        return out;
      }
    }
    // A max_tokens below the answer's 5 tokens cuts it, as a real model would.
    out.finish_reason = request.max_tokens >= 0 && request.max_tokens < 5 ? "length" : "stop";
    out.completion_tokens = 5;
    return out;
  }

  void set_slow(bool slow) { slow_ = slow; }
  bool cancelled() const { return cancelled_.load(); }
  std::vector<nlohmann::ordered_json> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::string name_;
  std::atomic<bool> slow_{false};
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::vector<nlohmann::ordered_json> requests_;
};

// The stateless routes' engine: answers every request with one token whose text is `piece`.
class OneTokenEngine : public Engine {
 public:
  OneTokenEngine(int32_t token, std::string piece)
      : token_(token), piece_(std::move(piece)), thread_([this] { loop(); }) {}
  ~OneTokenEngine() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Result<runtime::RequestId> submit(runtime::Request,
                                    runtime::RequestCallbacks callbacks) override {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(callbacks));
    cv_.notify_all();
    return ++next_id_;
  }
  void cancel(runtime::RequestId) override {}
  void drain(std::chrono::steady_clock::time_point) override {}
  runtime::SchedulerStats stats() const override { return {}; }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      runtime::RequestCallbacks callbacks = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      runtime::GeneratedToken t;
      t.id = token_;
      t.text = piece_;
      callbacks.on_token(t, piece_);
      runtime::RequestResult result;
      result.end = runtime::RequestEnd::kStop;
      result.text = piece_;
      result.completion_tokens = 1;
      callbacks.on_done(result);
      lock.lock();
    }
  }

  int32_t token_;
  std::string piece_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<runtime::RequestCallbacks> queue_;
  runtime::RequestId next_id_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last
};

using Reply = testing::HttpReply;
using testing::http_request;

// The JSON payloads of an SSE body, "[DONE]" excluded.
std::vector<json> sse_events(const std::string& body, bool* saw_done = nullptr) {
  std::vector<json> events;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string data = body.substr(pos + 6, end - pos - 6);
    if (data == "[DONE]") {
      if (saw_done) *saw_done = true;
    } else {
      events.push_back(json::parse(data));
    }
    pos = end;
  }
  return events;
}

json chat_body(const std::string& conversation_id, const std::string& text, bool stream = false,
               const json& tool_choice = nullptr) {
  json body = {{"conversation_id", conversation_id},
               {"messages", json::array({{{"role", "user"}, {"content", text}}})},
               {"stream", stream}};
  if (!tool_choice.is_null()) body["tool_choice"] = tool_choice;
  return body;
}

constexpr int64_t kFixedTime = 1700000000;  // 2023-11-14T22:13:20Z

class ServerConversationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cove-server-conversation-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Two configured models; the files are not read (check_files off).
    assistant::LoadOptions load;
    load.check_files = false;
    assistant::ConfigReport report = assistant::parse_config(
        "models:\n  alpha:\n    path: alpha.gguf\n  beta:\n    path: beta.gguf\n"
        "storage:\n  database: cove.db\n",
        (dir_ / "config.yaml").string(), load);
    ASSERT_TRUE(report.config.has_value())
        << (report.problems.empty() ? "" : report.problems[0].to_string());
    config_ = std::move(*report.config);

    Result<std::unique_ptr<assistant::Store>> store =
        assistant::Store::open(config_.storage.database);
    ASSERT_TRUE(store.is_ok()) << store.message();
    store_ = std::move(*store);
    memory_ = std::make_unique<assistant::Memory>(store_->database());
    assistant::TimeToolOptions time;
    time.now = [] { return std::chrono::system_clock::from_time_t(kFixedTime); };
    ASSERT_TRUE(registry_.add(assistant::make_time_tool(time)).is_ok());
    alpha_ = std::make_shared<ScriptedBackend>("alpha");
    beta_ = std::make_shared<ScriptedBackend>("beta");

    assistant::AssistantParts parts;
    parts.config = &config_;
    parts.store = store_.get();
    parts.memory = memory_.get();
    parts.tools = &registry_;
    parts.models =
        [this](const std::string& name) -> Result<std::shared_ptr<assistant::ModelBackend>> {
      if (name == "alpha") return std::shared_ptr<assistant::ModelBackend>(alpha_);
      if (name == "beta") return std::shared_ptr<assistant::ModelBackend>(beta_);
      return Error("no model '" + name + "'", "no_model_available");
    };
    assistant_ = std::make_unique<assistant::Assistant>(std::move(parts));
    service_ = std::make_unique<ConversationService>(*assistant_, *store_, &config_);

    Result<std::unique_ptr<gguf::File>> f =
        gguf::File::open(cove::testing::shared_dir() + "/models/stories260K.gguf");
    ASSERT_TRUE(f.is_ok()) << f.message();
    file_ = std::move(*f);
    Result<std::unique_ptr<tokenizer::Tokenizer>> t = tokenizer::Tokenizer::from_gguf(*file_);
    ASSERT_TRUE(t.is_ok());
    tokenizer_ = std::move(*t);
    const int32_t token = tokenizer_->encode(" the", false, false)[0];
    alpha_engine_ = std::make_unique<OneTokenEngine>(token, " from-alpha");
    beta_engine_ = std::make_unique<OneTokenEngine>(token, " from-beta");
  }

  // Starts the server; `with_store` false: a stateless server (no ConversationService).
  void start(bool with_store = true) {
    ServerOptions options;
    options.http.port = 0;
    options.drain_timeout = std::chrono::milliseconds(500);
    server_ = std::make_unique<Server>(options);
    register_core_routes(server_->router(), server_->state());
    register_openai_routes(server_->router(), server_->state());
    register_conversation_routes(server_->router(), server_->state());
    if (with_store) server_->state().set_conversations(service_.get());
    ASSERT_TRUE(server_->start().is_ok());
    port_ = server_->port();
    std::vector<std::shared_ptr<const ModelService>> models;
    for (auto [name, engine] :
         {std::pair{"alpha", alpha_engine_.get()}, std::pair{"beta", beta_engine_.get()}}) {
      auto m = std::make_shared<ModelService>();
      m->context.id = name;
      m->context.aliases.push_back(std::string(name) + "-file");
      m->context.tokenizer = tokenizer_.get();
      m->context.n_ctx = 256;
      m->engine = engine;
      models.push_back(std::move(m));
    }
    server_->state().set_models(std::move(models));
  }

  void TearDown() override {
    if (server_) server_->shutdown();
    server_.reset();
    service_.reset();
    assistant_.reset();
    alpha_engine_.reset();
    beta_engine_.reset();
    memory_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  Reply post_chat(const json& body) {
    return http_request(port_, http::verb::post, "/v1/chat/completions", body.dump());
  }

  json get_conversation(const std::string& id, int expected_status = 200) {
    Reply r = http_request(port_, http::verb::get, "/v1/conversations/" + id);
    EXPECT_EQ(r.status, expected_status) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  fs::path dir_;
  assistant::Config config_;
  std::unique_ptr<assistant::Store> store_;
  std::unique_ptr<assistant::Memory> memory_;
  assistant::ToolRegistry registry_;
  std::shared_ptr<ScriptedBackend> alpha_, beta_;
  std::unique_ptr<assistant::Assistant> assistant_;
  std::unique_ptr<ConversationService> service_;
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<OneTokenEngine> alpha_engine_, beta_engine_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerConversationTest, RequiredToolCallRunsTheToolAndEverythingIsStored) {
  start();
  Reply r = post_chat(chat_body("new", "What time is it?", false, "required"));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  const std::string id = j["conversation_id"];
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "alpha");  // the first configured model is the default
  const std::string answer = j["choices"][0]["message"]["content"];
  EXPECT_NE(answer.find("2023-11-14T22:13:20"), std::string::npos) << answer;
  ASSERT_EQ(j["cove_tool_calls"].size(), 1u);
  EXPECT_EQ(j["cove_tool_calls"][0]["name"], "current_time");
  EXPECT_EQ(j["cove_tool_calls"][0]["outcome"], "ok");
  EXPECT_EQ(j["cove_tool_calls"][0]["arguments"]["timezone"], "UTC");
  EXPECT_NE(j["cove_tool_calls"][0]["result"].get<std::string>().find("2023-11-14"),
            std::string::npos);

  json c = get_conversation(id);
  EXPECT_EQ(c["id"], id);
  EXPECT_EQ(c["title"], "What time is it?");
  const json& messages = c["messages"];
  ASSERT_EQ(messages.size(), 4u) << c.dump();
  EXPECT_EQ(messages[0]["role"], "user");
  EXPECT_EQ(messages[0]["content"], "What time is it?");
  EXPECT_EQ(messages[1]["role"], "assistant");
  EXPECT_EQ(messages[1]["tool_calls"][0]["function"]["name"], "current_time");
  EXPECT_EQ(messages[1]["model"], "alpha");
  EXPECT_EQ(messages[2]["role"], "tool");
  EXPECT_EQ(messages[2]["name"], "current_time");
  EXPECT_EQ(messages[2]["tool_call_id"], messages[1]["tool_calls"][0]["id"]);
  EXPECT_NE(messages[2]["content"].get<std::string>().find("2023-11-14"), std::string::npos);
  EXPECT_EQ(messages[3]["role"], "assistant");
  EXPECT_EQ(messages[3]["content"], answer);
  EXPECT_EQ(messages[3]["tool_calls"], nullptr);
  EXPECT_EQ(c["message_count"], 4);
}

TEST_F(ServerConversationTest, StreamedTurnCarriesTheIdInEveryChunkAndMatchesTheStore) {
  start();
  Reply r = post_chat(chat_body("new", "Time please", true, "required"));
  ASSERT_EQ(r.status, 200) << r.body;
  bool done = false;
  std::vector<json> events = sse_events(r.body, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  const std::string id = events[0]["conversation_id"];
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string content;
  int tool_chunks = 0;
  std::string finish;
  for (const json& e : events) {
    EXPECT_EQ(e["conversation_id"], id);
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    const json& choice = e["choices"][0];
    if (choice["delta"].contains("content")) content += choice["delta"]["content"];
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
    if (e.contains("cove_tool_calls") && choice["finish_reason"].is_null()) ++tool_chunks;
  }
  EXPECT_EQ(tool_chunks, 1);
  EXPECT_EQ(finish, "stop");
  EXPECT_EQ(events.back()["cove_tool_calls"][0]["name"], "current_time");
  json c = get_conversation(id);
  ASSERT_EQ(c["messages"].size(), 4u);
  EXPECT_EQ(c["messages"][3]["content"], content);
}

TEST_F(ServerConversationTest, ContinuingAConversationUsesTheStoredHistory) {
  start();
  Reply first = post_chat(chat_body("", "My boat is called Sjoblomst.", false, "none"));
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string id = json::parse(first.body)["conversation_id"];
  // Earlier messages in the request are ignored: the history comes from the store.
  json body = chat_body(id, "What is my boat called?", false, "none");
  body["messages"] = json::array({{{"role", "user"}, {"content", "IGNORED EARLIER TURN"}},
                                  {{"role", "user"}, {"content", "What is my boat called?"}}});
  Reply second = post_chat(body);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(json::parse(second.body)["conversation_id"], id);
  const std::string sent = alpha_->requests().back().dump();
  EXPECT_NE(sent.find("Sjoblomst"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("IGNORED EARLIER TURN"), std::string::npos) << sent;
  EXPECT_EQ(get_conversation(id)["messages"].size(), 4u);  // two turns, no tool calls
  // An explicit model by its alias picks that model.
  body = chat_body(id, "And again?", false, "none");
  body["model"] = "beta-file";
  Reply third = post_chat(body);
  ASSERT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(json::parse(third.body)["model"], "beta");
  EXPECT_EQ(beta_->requests().size(), 1u);
}

TEST_F(ServerConversationTest, FinishReasonIsLengthWhenMaxTokensCutsTheAnswer) {
  start();
  json body = chat_body("", "Tell me the time.", false, "none");
  Reply whole = post_chat(body);
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(json::parse(whole.body)["choices"][0]["finish_reason"], "stop");
  body["max_tokens"] = 2;
  Reply cut = post_chat(body);
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(json::parse(cut.body)["choices"][0]["finish_reason"], "length");
  body["stream"] = true;
  Reply streamed = post_chat(body);
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_NE(streamed.body.find(R"("finish_reason":"length")"), std::string::npos) << streamed.body;
}

TEST_F(ServerConversationTest, ListsAndDeletesConversations) {
  start();
  std::vector<std::string> ids;
  for (const char* text : {"first", "second", "third"}) {
    Reply r = post_chat(chat_body("new", text, false, "none"));
    ASSERT_EQ(r.status, 200) << r.body;
    ids.push_back(json::parse(r.body)["conversation_id"]);
  }
  Reply all = http_request(port_, http::verb::get, "/v1/conversations");
  ASSERT_EQ(all.status, 200) << all.body;
  json list = json::parse(all.body);
  ASSERT_EQ(list["data"].size(), 3u);
  EXPECT_EQ(list["data"][0]["id"], ids[2]);  // most recently updated first
  EXPECT_EQ(list["data"][0]["message_count"], 2);
  EXPECT_EQ(list["data"][0]["title"], "third");
  Reply page = http_request(port_, http::verb::get, "/v1/conversations?limit=1&offset=1");
  ASSERT_EQ(page.status, 200);
  ASSERT_EQ(json::parse(page.body)["data"].size(), 1u);
  EXPECT_EQ(json::parse(page.body)["data"][0]["id"], ids[1]);
  EXPECT_EQ(http_request(port_, http::verb::get, "/v1/conversations?limit=0").status, 400);
  EXPECT_EQ(http_request(port_, http::verb::get, "/v1/conversations?limit=x").status, 400);

  Reply deleted = http_request(port_, http::verb::delete_, "/v1/conversations/" + ids[1]);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(json::parse(deleted.body)["deleted"], true);
  json gone = get_conversation(ids[1], 404);
  EXPECT_EQ(gone["error"]["code"], "conversation_not_found");
  EXPECT_EQ(http_request(port_, http::verb::delete_, "/v1/conversations/" + ids[1]).status, 404);
  EXPECT_EQ(json::parse(http_request(port_, http::verb::get, "/v1/conversations").body)["data"].size(),
            2u);
}

TEST_F(ServerConversationTest, ErrorsAreOpenAiShapedWithTheRightStatus) {
  start();
  auto expect_error = [](const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    if (!code.empty()) {
      EXPECT_EQ(j["error"]["code"], code) << r.body;
    }
  };
  expect_error(post_chat(chat_body("no-such-id", "hi")), 404, "conversation_not_found");
  json not_user = chat_body("new", "hi");
  not_user["messages"].push_back({{"role", "assistant"}, {"content", "x"}});
  expect_error(post_chat(not_user), 400, "");
  json unknown_model = chat_body("new", "hi");
  unknown_model["model"] = "gamma";
  expect_error(post_chat(unknown_model), 404, "model_not_found");
  json bad_id = chat_body("new", "hi");
  bad_id["conversation_id"] = 7;
  expect_error(post_chat(bad_id), 400, "");
  expect_error(post_chat(chat_body("new", "   ")), 400, "");
  expect_error(http_request(port_, http::verb::get, "/v1/conversations/nope"), 404,
               "conversation_not_found");
  expect_error(http_request(port_, http::verb::put, "/v1/conversations/nope"), 405, "");
  // The refused requests stored nothing.
  json list = json::parse(http_request(port_, http::verb::get, "/v1/conversations").body);
  EXPECT_TRUE(list["data"].empty()) << list.dump();
}

TEST_F(ServerConversationTest, WithoutAStoreConversationsSayTheyNeedAConfig) {
  start(/*with_store=*/false);
  for (const Reply& r :
       {post_chat(chat_body("new", "hi")), http_request(port_, http::verb::get, "/v1/conversations"),
        http_request(port_, http::verb::get, "/v1/conversations/x"),
        http_request(port_, http::verb::delete_, "/v1/conversations/x")}) {
    EXPECT_EQ(r.status, 404) << r.body;
    json j = json::parse(r.body);
    EXPECT_EQ(j["error"]["code"], "conversations_unavailable");
    EXPECT_NE(j["error"]["message"].get<std::string>().find("--config"), std::string::npos);
  }
  // The stateless route still answers.
  Reply stateless =
      post_chat(json{{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}});
  EXPECT_EQ(stateless.status, 200) << stateless.body;
}

TEST_F(ServerConversationTest, ClientHangingUpCancelsTheTurnAndKeepsTheUserMessage) {
  start();
  alpha_->set_slow(true);
  std::string id;
  {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = chat_body("new", "Count forever", true, "none").dump();
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    http::read_header(stream, buffer, parser);
    ASSERT_EQ(parser.get().result_int(), 200);
    // The first chunk is the acknowledgement and names the conversation.
    std::string received;
    char data[512];
    while (received.find("\n\n") == std::string::npos) {
      parser.get().body().data = data;
      parser.get().body().size = sizeof(data);
      beast::error_code ec;
      http::read_some(stream, buffer, parser, ec);
      received.append(data, sizeof(data) - parser.get().body().size);
      if (ec && ec != http::error::need_buffer) break;
    }
    std::vector<json> events = sse_events(received);
    ASSERT_FALSE(events.empty()) << received;
    id = events[0]["conversation_id"];
    // Acknowledged means committed: the user message is in the store already.
    Result<std::vector<assistant::Message>> stored = store_->messages(id);
    ASSERT_TRUE(stored.is_ok()) << stored.message();
    ASSERT_GE(stored->size(), 1u);
    EXPECT_EQ((*stored)[0].role, "user");
    EXPECT_EQ((*stored)[0].content, "Count forever");
    stream.socket().close();
  }
  for (int i = 0; i < 500 && !alpha_->cancelled(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(alpha_->cancelled());
  // The cut-short answer is stored after the cancel; wait for it.
  json c;
  for (int i = 0; i < 500; ++i) {
    c = get_conversation(id);
    if (c["messages"].size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(c["messages"].size(), 2u) << c.dump();
  EXPECT_EQ(c["messages"][0]["content"], "Count forever");
  EXPECT_NE(c["messages"][1]["content"].get<std::string>().find("cut short"), std::string::npos);
}

TEST_F(ServerConversationTest, ShutdownCancelsATurnStillRunningAfterTheDrainTime) {
  start();
  alpha_->set_slow(true);
  Reply reply;
  std::thread client([&] { reply = post_chat(chat_body("new", "Count forever", true, "none")); });
  for (int i = 0; i < 500 && alpha_->requests().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server_->shutdown();  // drain_timeout 500 ms: the endless turn is cancelled
  client.join();
  EXPECT_TRUE(alpha_->cancelled());
  ASSERT_EQ(reply.status, 200);
  bool done = false;
  std::vector<json> events = sse_events(reply.body, &done);
  EXPECT_TRUE(done) << reply.body;
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["error"]["code"], "cancelled") << reply.body;
  // The user message and the cut-short answer are stored.
  Result<std::vector<assistant::Message>> stored =
      store_->messages(events.front()["conversation_id"].get<std::string>());
  ASSERT_TRUE(stored.is_ok());
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_NE((*stored)[1].content.find("cut short"), std::string::npos);
}

TEST_F(ServerConversationTest, StatelessRoutesServeTheModelTheRequestNames) {
  start();
  auto ask = [&](const std::string& model) {
    json body = {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
    if (!model.empty()) body["model"] = model;
    return post_chat(body);
  };
  Reply by_default = ask("");
  ASSERT_EQ(by_default.status, 200) << by_default.body;
  EXPECT_EQ(json::parse(by_default.body)["choices"][0]["message"]["content"], " from-alpha");
  Reply beta = ask("beta");
  ASSERT_EQ(beta.status, 200) << beta.body;
  EXPECT_EQ(json::parse(beta.body)["choices"][0]["message"]["content"], " from-beta");
  EXPECT_EQ(json::parse(beta.body)["model"], "beta");
  Reply alias = ask("beta-file");
  EXPECT_EQ(json::parse(alias.body)["choices"][0]["message"]["content"], " from-beta");
  Reply unknown = ask("gamma");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "model_not_found");
  const std::string message = json::parse(unknown.body)["error"]["message"];
  EXPECT_NE(message.find("'alpha', 'beta'"), std::string::npos) << message;
  json models = json::parse(http_request(port_, http::verb::get, "/v1/models").body);
  ASSERT_EQ(models["data"].size(), 2u);
  EXPECT_EQ(models["data"][0]["id"], "alpha");
  EXPECT_EQ(models["data"][1]["id"], "beta");
}

TEST(ServerRouter, PrefixRoutesTakeTheRestOfThePathAndExactRoutesWin) {
  Router router;
  router.add(Route{"GET", "/v1/things", "list", nullptr});
  Route one{"GET", "/v1/things/", "one", nullptr};
  one.prefix = true;
  router.add(std::move(one));
  Router::Match match;
  const Route* r = router.find("GET", "/v1/things", match);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "list");
  r = router.find("GET", "/v1/things/abc", match);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "one");
  EXPECT_EQ(router.find("GET", "/v1/things/", match), nullptr);  // no id
  EXPECT_EQ(match, Router::Match::kNotFound);
  EXPECT_EQ(router.find("POST", "/v1/things/abc", match), nullptr);
  EXPECT_EQ(match, Router::Match::kWrongMethod);
}

}  // namespace
}  // namespace cove::server
