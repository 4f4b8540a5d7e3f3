// The server over real sockets, in process, on an ephemeral port, with a scripted engine (no
// model): raw HTTP through a Beast client checks routing, auth, body limits, the error mapping
// (400/401/404/405/413/429/503), whole and SSE responses, and that a client hanging up
// mid-stream cancels its engine request.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gguf/gguf.h"
#include "server/openai_api.h"
#include "server/server.h"
#include "support/goldens.h"
#include "support/http_client.h"

namespace cove::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Emits `tokens_per_request` copies of one token per request, one every `interval`, from its
// own thread, honouring cancel(); at most `capacity` requests at once, else kQueueFull.
class ScriptedEngine : public Engine {
 public:
  ScriptedEngine(int32_t token, std::string piece, int tokens_per_request,
                 std::chrono::milliseconds interval, int capacity)
      : token_(token), piece_(std::move(piece)), n_(tokens_per_request), interval_(interval),
        capacity_(capacity), thread_([this] { loop(); }) {}
  ~ScriptedEngine() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  Result<runtime::RequestId> submit(runtime::Request request,
                                    runtime::RequestCallbacks callbacks) override {
    std::lock_guard lock(mutex_);
    if (static_cast<int>(active_.size()) >= capacity_) {
      return Error{"queue full", runtime::kQueueFull};
    }
    const runtime::RequestId id = ++next_id_;
    auto a = std::make_shared<Active>();
    a->id = id;
    a->request = std::move(request);
    a->callbacks = std::move(callbacks);
    active_.push_back(std::move(a));
    cv_.notify_all();
    return id;
  }
  void cancel(runtime::RequestId id) override {
    std::lock_guard lock(mutex_);
    cancelled_.insert(id);
    cv_.notify_all();
  }
  void drain(std::chrono::steady_clock::time_point) override {}
  runtime::SchedulerStats stats() const override {
    std::lock_guard lock(mutex_);
    runtime::SchedulerStats s;
    s.running = static_cast<int64_t>(active_.size());
    s.slots = capacity_;
    return s;
  }
  int cancelled_count() const {
    std::lock_guard lock(mutex_);
    return n_cancelled_ended_;
  }
  std::vector<int32_t> last_prompt() const {
    std::lock_guard lock(mutex_);
    return last_prompt_;
  }

 private:
  struct Active {
    runtime::RequestId id;
    runtime::Request request;
    runtime::RequestCallbacks callbacks;
    int emitted = 0;
    bool gave_up = false;  // on_token returned false
  };

  // Callbacks run without the mutex held, as the real scheduler's do.
  void loop() {
    while (true) {
      std::vector<std::shared_ptr<Active>> batch;
      std::set<runtime::RequestId> cancelled;
      {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, interval_);
        if (stop_) break;
        batch.assign(active_.begin(), active_.end());
        cancelled = cancelled_;
      }
      for (const std::shared_ptr<Active>& a : batch) {
        runtime::RequestResult result;
        result.prompt_tokens = static_cast<int64_t>(a->request.prompt.size());
        const int64_t max_tokens = a->request.options.max_tokens;
        bool done = true;
        if (cancelled.count(a->id) || a->gave_up) {
          result.end = runtime::RequestEnd::kCancelled;
        } else if (max_tokens >= 0 && a->emitted >= max_tokens) {
          result.end = runtime::RequestEnd::kLength;
        } else if (a->emitted >= n_) {
          result.end = runtime::RequestEnd::kStop;
        } else {
          done = false;
        }
        if (!done) {
          runtime::GeneratedToken t;
          t.id = token_;
          t.text = piece_;
          t.logprob = -0.5f;
          t.top = {{token_, -0.5f}};
          ++a->emitted;
          if (!a->callbacks.on_token(t, piece_)) a->gave_up = true;
          continue;
        }
        result.completion_tokens = a->emitted;
        for (int k = 0; k < a->emitted; ++k) result.text += piece_;
        {
          std::lock_guard lock(mutex_);
          if (result.end == runtime::RequestEnd::kCancelled) ++n_cancelled_ended_;
          last_prompt_ = a->request.prompt;
          active_.erase(std::find(active_.begin(), active_.end(), a));
        }
        a->callbacks.on_done(result);
      }
    }
    for (const std::shared_ptr<Active>& a : active_) {
      runtime::RequestResult r;
      r.end = runtime::RequestEnd::kCancelled;
      a->callbacks.on_done(r);
    }
  }

  int32_t token_;
  std::string piece_;
  int n_;
  std::chrono::milliseconds interval_;
  int capacity_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Active>> active_;
  std::set<runtime::RequestId> cancelled_;
  std::vector<int32_t> last_prompt_;
  runtime::RequestId next_id_ = 0;
  int n_cancelled_ended_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts after everything above exists
};

using Reply = testing::HttpReply;
using testing::http_request;

class ServerHttpTest : public ::testing::Test {
 protected:
  void start(const std::string& api_key = "", uint64_t max_body = 1 << 20, int capacity = 4,
             int tokens = 3, int interval_ms = 2) {
    Result<std::unique_ptr<gguf::File>> f =
        gguf::File::open(cove::testing::shared_dir() + "/models/stories260K.gguf");
    ASSERT_TRUE(f.is_ok()) << f.message();
    file_ = std::move(*f);
    Result<std::unique_ptr<tokenizer::Tokenizer>> t = tokenizer::Tokenizer::from_gguf(*file_);
    ASSERT_TRUE(t.is_ok());
    tokenizer_ = std::move(*t);
    ServerOptions options;
    options.http.port = 0;
    options.http.max_body_bytes = max_body;
    options.api_key = api_key;
    options.drain_timeout = std::chrono::milliseconds(500);
    server_ = std::make_unique<Server>(options);
    register_core_routes(server_->router(), server_->state());
    register_openai_routes(server_->router(), server_->state());
    ASSERT_TRUE(server_->start().is_ok());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    // " the" in the stories vocab is one token; any valid id works for a scripted engine.
    engine_ = std::make_unique<ScriptedEngine>(tokenizer_->encode(" the", false, false)[0], " the",
                                               tokens, std::chrono::milliseconds(interval_ms),
                                               capacity);
    service_ = std::make_shared<ModelService>();
    service_->context.id = "stories260K";
    service_->context.tokenizer = tokenizer_.get();
    service_->context.n_ctx = 128;
    service_->engine = engine_.get();
  }
  void set_model() { server_->set_model(service_); }
  void TearDown() override {
    if (server_) server_->shutdown();
    engine_.reset();  // its last callbacks post to the server's (stopped) executor
    server_.reset();
  }

  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<ScriptedEngine> engine_;
  std::shared_ptr<ModelService> service_;
  uint16_t port_ = 0;
};

const std::string kChat = R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3})";

TEST_F(ServerHttpTest, HealthSaysLoadingThenOk) {
  start();
  Reply loading = http_request(port_, http::verb::get, "/health");
  EXPECT_EQ(loading.status, 503);
  EXPECT_EQ(nlohmann::json::parse(loading.body)["status"], "loading");
  Reply early = http_request(port_, http::verb::post, "/v1/chat/completions", kChat);
  EXPECT_EQ(early.status, 503);
  set_model();
  Reply ok = http_request(port_, http::verb::get, "/health");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["status"], "ok");
}

TEST_F(ServerHttpTest, ChatCompletionWholeAndStreamed) {
  start();
  set_model();
  Reply whole = http_request(port_, http::verb::post, "/v1/chat/completions", kChat);
  ASSERT_EQ(whole.status, 200) << whole.body;
  nlohmann::json j = nlohmann::json::parse(whole.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "stories260K");
  EXPECT_EQ(j["choices"][0]["message"]["content"], " the the the");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 3);
  EXPECT_EQ(j["usage"]["prompt_tokens"], static_cast<int64_t>(engine_->last_prompt().size()));

  Reply streamed = http_request(port_, http::verb::post, "/v1/chat/completions",
                           R"({"messages": [{"role": "user", "content": "Hi"}],
                               "max_tokens": 5, "stream": true, "logprobs": true,
                               "stream_options": {"include_usage": true}})");
  ASSERT_EQ(streamed.status, 200);
  std::string content;
  std::string finish;
  int usage_chunks = 0;
  int logprob_entries = 0;
  size_t pos = 0;
  std::vector<std::string> events;
  while ((pos = streamed.body.find("data: ", pos)) != std::string::npos) {
    const size_t end = streamed.body.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos);
    events.push_back(streamed.body.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    nlohmann::json c = nlohmann::json::parse(events[i]);
    if (!c["usage"].is_null()) {
      ++usage_chunks;
      EXPECT_EQ(c["usage"]["completion_tokens"], 3);
      continue;
    }
    const nlohmann::json& choice = c["choices"][0];
    if (choice["delta"].contains("content")) content += choice["delta"]["content"];
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
    if (choice["logprobs"].is_object()) logprob_entries += choice["logprobs"]["content"].size();
  }
  EXPECT_EQ(content, " the the the");  // the scripted engine stops after 3 tokens
  EXPECT_EQ(finish, "stop");
  EXPECT_EQ(usage_chunks, 1);
  EXPECT_EQ(logprob_entries, 3);
}

TEST_F(ServerHttpTest, ErrorsHaveTheRightStatusAndShape) {
  start("", /*max_body=*/4096, /*capacity=*/4);
  set_model();
  auto expect_error = [&](const Reply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string()) << r.body;
    EXPECT_TRUE(j["error"].contains("type"));
    EXPECT_TRUE(j["error"].contains("param"));
    EXPECT_TRUE(j["error"].contains("code"));
  };
  expect_error(http_request(port_, http::verb::post, "/v1/chat/completions", "{nope"), 400);
  expect_error(http_request(port_, http::verb::post, "/v1/chat/completions",
                       R"({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]})"),
               404);
  Reply too_long = http_request(port_, http::verb::post, "/v1/chat/completions",
                           R"({"messages": [{"role": "user", "content": ")" +
                               std::string(1500, 'z') + "\"}]}");
  expect_error(too_long, 400);
  EXPECT_NE(too_long.body.find("128"), std::string::npos);
  expect_error(http_request(port_, http::verb::post, "/v1/chat/completions",
                       std::string(5000, ' ')),
               413);
  expect_error(http_request(port_, http::verb::get, "/v1/nothing"), 404);
  expect_error(http_request(port_, http::verb::get, "/v1/chat/completions"), 405);
  Reply models = http_request(port_, http::verb::get, "/v1/models");
  EXPECT_EQ(nlohmann::json::parse(models.body)["data"][0]["id"], "stories260K");
}

TEST_F(ServerHttpTest, ApiKeyIsRequiredWhenSet) {
  start("s3cret");
  set_model();
  EXPECT_EQ(http_request(port_, http::verb::get, "/v1/models").status, 401);
  EXPECT_EQ(http_request(port_, http::verb::get, "/v1/models", "", "Bearer wrong").status, 401);
  EXPECT_EQ(http_request(port_, http::verb::get, "/v1/models", "", "Bearer s3cret").status, 200);
  EXPECT_EQ(http_request(port_, http::verb::get, "/health").status, 200);  // health stays open
}

TEST_F(ServerHttpTest, FullQueueIs429WithRetryAfter) {
  start("", 1 << 20, /*capacity=*/0);
  set_model();
  Reply r = http_request(port_, http::verb::post, "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.retry_after, "1");
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "queue_full");
}

TEST_F(ServerHttpTest, ClientHangingUpMidStreamCancelsTheRequest) {
  start("", 1 << 20, 4, /*tokens=*/100000, /*interval_ms=*/5);
  set_model();
  {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = R"({"messages": [{"role": "user", "content": "Hi"}], "stream": true})";
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    http::read_header(stream, buffer, parser);
    EXPECT_EQ(parser.get().result_int(), 200);
    // Read a little of the stream, then hang up.
    char data[64];
    parser.get().body().data = data;
    parser.get().body().size = sizeof(data);
    beast::error_code ec;
    http::read_some(stream, buffer, parser, ec);
    stream.socket().close();
  }
  for (int i = 0; i < 500 && engine_->cancelled_count() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(engine_->cancelled_count(), 1);
  EXPECT_EQ(engine_->stats().running, 0);
  Reply metrics = http_request(port_, http::verb::get, "/metrics");
  EXPECT_NE(metrics.body.find("cove_active_sequences 0\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("cove_requests_finished_total{reason=\"cancelled\"} 1\n"),
            std::string::npos);
}

TEST(ServerBindPolicy, NonLoopbackNeedsAnApiKey) {
  ServerOptions options;
  options.http.host = "0.0.0.0";
  Status refused = check_bind_policy(options);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("--api-key"), std::string::npos);
  options.api_key = "k";
  EXPECT_TRUE(check_bind_policy(options).is_ok());
  options = ServerOptions{};
  options.http.host = "::1";
  EXPECT_TRUE(check_bind_policy(options).is_ok());
}

}  // namespace
}  // namespace cove::server
