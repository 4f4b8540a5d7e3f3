// The server's request layer without sockets: OpenAI body parsing and validation, the error
// shape, the chat-request -> scheduler-request conversion (template, context check, grammar),
// tool-call schemas and recognition, and the Prometheus text.
#include <gtest/gtest.h>

#include <memory>

#include "gguf/gguf.h"
#include "runtime/grammar.h"
#include "server/generation.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/tool_calls.h"
#include "support/goldens.h"
#include "tokenizer/tokenizer.h"

namespace cove::server {
namespace {

using ordered_json = nlohmann::ordered_json;

ApiError chat_error(const std::string& body) {
  ApiResult<OpenAiRequest> r = parse_chat_request(body);
  EXPECT_FALSE(r.is_ok()) << body;
  return r.is_ok() ? ApiError{} : r.error();
}

TEST(ServerRequest, MalformedJsonIs400WithOpenAiErrorShape) {
  ApiError e = chat_error("{\"messages\": [");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("parse"), std::string::npos);
  nlohmann::json j = error_json(e);
  ASSERT_TRUE(j.contains("error"));
  for (const char* key : {"message", "type", "param", "code"}) {
    EXPECT_TRUE(j["error"].contains(key)) << key;
  }
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(j["error"]["param"].is_null());
}

TEST(ServerRequest, FieldErrorsNameTheParam) {
  EXPECT_EQ(chat_error("[1, 2]").status, 400);
  EXPECT_EQ(chat_error("{}").param, "messages");
  EXPECT_EQ(chat_error(R"({"messages": []})").param, "messages");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "wizard", "content": "x"}]})").param,
            "messages[0].role");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "user"}]})").param, "messages[0].content");
  const std::string m = R"("messages": [{"role": "user", "content": "hi"}])";
  EXPECT_EQ(chat_error("{" + m + R"(, "temperature": 3})").param, "temperature");
  EXPECT_EQ(chat_error("{" + m + R"(, "temperature": "hot"})").param, "temperature");
  EXPECT_EQ(chat_error("{" + m + R"(, "max_tokens": 0})").param, "max_tokens");
  EXPECT_EQ(chat_error("{" + m + R"(, "max_tokens": 1.5})").param, "max_tokens");
  EXPECT_EQ(chat_error("{" + m + R"(, "stop": 5})").param, "stop");
  EXPECT_EQ(chat_error("{" + m + R"(, "top_logprobs": 3})").param, "top_logprobs");
  EXPECT_EQ(chat_error("{" + m + R"(, "logprobs": true, "top_logprobs": 21})").param,
            "top_logprobs");
  EXPECT_EQ(chat_error("{" + m + R"(, "n": 2})").param, "n");
  EXPECT_EQ(chat_error("{" + m + R"(, "response_format": {"type": "yaml"}})").param,
            "response_format.type");
  EXPECT_EQ(chat_error("{" + m + R"(, "tool_choice": "sometimes"})").param, "tool_choice");
  EXPECT_EQ(chat_error("{" + m + R"(, "tools": [{"type": "function", "function": {}}]})").param,
            "tools[0].function.name");
}

TEST(ServerRequest, ParsesSamplingStopLogprobsAndStreaming) {
  ApiResult<OpenAiRequest> r = parse_chat_request(R"({
    "model": "m", "messages": [{"role": "developer", "content": "be brief"},
                               {"role": "user", "content": "hi"}],
    "max_completion_tokens": 7, "temperature": 0, "top_p": 0.5, "seed": 42,
    "stop": ["a", "b"], "presence_penalty": 1, "frequency_penalty": -1,
    "logprobs": true, "top_logprobs": 3, "stream": true,
    "stream_options": {"include_usage": true}})");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  const GenerationInput& in = r->input;
  EXPECT_EQ(in.model, "m");
  EXPECT_EQ(in.max_tokens, 7);
  EXPECT_EQ(in.sampling.temperature, 0.0f);
  EXPECT_EQ(in.sampling.top_p, 0.5f);
  EXPECT_EQ(in.sampling.presence_penalty, 1.0f);
  EXPECT_EQ(in.sampling.frequency_penalty, -1.0f);
  ASSERT_TRUE(in.seed.has_value());
  EXPECT_EQ(*in.seed, 42u);
  EXPECT_EQ(in.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(in.logprobs);
  EXPECT_EQ(in.n_logprobs, 3);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(in.messages[0]["role"], "system");  // developer is rendered as system

  ApiResult<OpenAiRequest> single = parse_chat_request(
      R"({"messages": [{"role": "user", "content": "x"}], "stop": "END"})");
  ASSERT_TRUE(single.is_ok());
  EXPECT_EQ(single->input.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(single->input.max_tokens, -1);
  EXPECT_FALSE(single->input.seed.has_value());
}

TEST(ServerRequest, ResponseFormatAndToolChoiceKeepSchemaOrder) {
  ApiResult<OpenAiRequest> r = parse_chat_request(R"({
    "messages": [{"role": "user", "content": "x"}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "p",
        "schema": {"type": "object", "properties": {"zeta": {"type": "integer"},
                                                    "alpha": {"type": "string"}}}}},
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}}})");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  ASSERT_TRUE(r->input.json_schema.has_value());
  EXPECT_EQ(r->input.json_schema->at("properties").begin().key(), "zeta");
  EXPECT_EQ(r->input.tool_choice, ToolChoice::kFunction);
  EXPECT_EQ(r->input.tool_name, "f");
}

TEST(ServerRequest, CompletionRequestsTakeAPromptAndCountLogprobs) {
  ApiResult<OpenAiRequest> r =
      parse_completion_request(R"({"prompt": "Once", "logprobs": 2})");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  EXPECT_FALSE(r->input.chat);
  EXPECT_EQ(r->input.prompt, "Once");
  EXPECT_EQ(r->input.max_tokens, 16);
  EXPECT_TRUE(r->input.logprobs);
  EXPECT_EQ(r->input.n_logprobs, 2);
  ApiResult<OpenAiRequest> bad = parse_completion_request(R"({"prompt": [1, 2]})");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.error().param, "prompt");
}

const ordered_json kWeatherTools = ordered_json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {
     "type": "object", "properties": {"city": {"$ref": "#/$defs/city"}},
     "required": ["city"], "$defs": {"city": {"type": "string"}}}}},
  {"type": "function", "function": {"name": "get_time"}}])");

TEST(ServerTools, ForcedSchemaRebasesRefsAndCompilesToAGrammar) {
  ApiResult<ordered_json> one =
      forced_tool_call_schema(kWeatherTools, ToolChoice::kFunction, "get_weather");
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ((*one)["properties"]["name"]["const"], "get_weather");
  EXPECT_EQ((*one)["properties"]["arguments"]["properties"]["city"]["$ref"],
            "#/properties/arguments/$defs/city");
  ApiResult<ordered_json> any = forced_tool_call_schema(kWeatherTools, ToolChoice::kRequired, "");
  ASSERT_TRUE(any.is_ok());
  EXPECT_EQ((*any)["anyOf"][0]["properties"]["arguments"]["properties"]["city"]["$ref"],
            "#/anyOf/0/properties/arguments/$defs/city");
  EXPECT_FALSE(forced_tool_call_schema(kWeatherTools, ToolChoice::kFunction, "nope").is_ok());

  ModelContext model;
  GenerationInput in;
  in.messages = ordered_json::parse(R"([{"role": "user", "content": "weather?"}])");
  in.tools = kWeatherTools;
  in.tool_choice = ToolChoice::kRequired;
  ApiResult<PromptPlan> plan = plan_prompt(in, model);
  ASSERT_TRUE(plan.is_ok()) << plan.error().message;
  EXPECT_TRUE(plan->tool_call_forced);
  Result<runtime::Grammar> grammar = runtime::Grammar::parse(plan->gbnf);
  ASSERT_TRUE(grammar.is_ok()) << grammar.message();
  runtime::GrammarMatcher matcher(*grammar);
  EXPECT_TRUE(matcher.accept_bytes(R"({"name": "get_weather", "arguments": {"city": "Oslo"}})"));
  EXPECT_TRUE(matcher.can_end());
  runtime::GrammarMatcher wrong(*grammar);
  EXPECT_FALSE(wrong.accept_bytes(R"({"name": "get_wether")"));
}

TEST(ServerTools, RecognizesTheCommonCallFormats) {
  auto calls = parse_tool_calls(R"( {"name": "get_time", "arguments": {}} )", kWeatherTools);
  ASSERT_TRUE(calls.has_value());
  EXPECT_EQ((*calls)[0].name, "get_time");
  EXPECT_EQ((*calls)[0].arguments, "{}");
  calls = parse_tool_calls(
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"
      "<tool_call>{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}</tool_call>",
      kWeatherTools);
  ASSERT_TRUE(calls.has_value());
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].arguments, R"({"city":"Rome"})");
  EXPECT_EQ((*calls)[1].arguments, R"({"tz":"UTC"})");
  EXPECT_FALSE(parse_tool_calls(R"({"name": "unknown", "arguments": {}})", kWeatherTools));
  EXPECT_FALSE(parse_tool_calls("The weather is fine.", kWeatherTools));
  EXPECT_FALSE(parse_tool_calls(R"({"name": "get_time"} trailing)", kWeatherTools));
  EXPECT_TRUE(may_become_tool_call("  <tool_"));
  EXPECT_TRUE(may_become_tool_call("{\"na"));
  EXPECT_FALSE(may_become_tool_call("Hello"));
}

std::unique_ptr<tokenizer::Tokenizer> stories_tokenizer(std::unique_ptr<gguf::File>& file) {
  Result<std::unique_ptr<gguf::File>> f =
      gguf::File::open(cove::testing::shared_dir() + "/models/stories260K.gguf");
  if (!f) return nullptr;
  file = std::move(*f);
  Result<std::unique_ptr<tokenizer::Tokenizer>> t = tokenizer::Tokenizer::from_gguf(*file);
  return t ? std::move(*t) : nullptr;
}

TEST(ServerGeneration, RendersTokenizesAndChecksTheContext) {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<tokenizer::Tokenizer> tok = stories_tokenizer(file);
  ASSERT_TRUE(tok) << "needs ../shared/models/stories260K.gguf";
  ModelContext model;
  model.id = "stories260K";
  model.aliases = {"stories"};
  model.tokenizer = tok.get();
  model.n_ctx = 64;

  ApiResult<OpenAiRequest> r = parse_chat_request(
      R"({"model": "stories", "messages": [{"role": "user", "content": "Hello"}],
          "max_tokens": 5, "temperature": 0, "seed": 3, "stop": "x"})");
  ASSERT_TRUE(r.is_ok());
  ApiResult<PreparedGeneration> p = prepare_generation(r->input, model);
  ASSERT_TRUE(p.is_ok()) << p.error().message;
  EXPECT_NE(p->plan.text.find("<|im_start|>user\nHello<|im_end|>"), std::string::npos);
  EXPECT_EQ(p->prompt_tokens, static_cast<int64_t>(p->request.prompt.size()));
  EXPECT_EQ(p->request.prompt.front(), tok->bos_id());
  EXPECT_EQ(p->request.options.max_tokens, 5);
  EXPECT_EQ(p->request.options.sampling.seed, 3u);
  // The ChatML fallback's turn end is a stop string for vocabularies without that token.
  EXPECT_EQ(p->request.options.stop, (std::vector<std::string>{"x", "<|im_end|>"}));
  EXPECT_EQ(p->request.grammar, nullptr);

  r->input.model = "gpt-4";
  ApiResult<PreparedGeneration> unknown = prepare_generation(r->input, model);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.error().status, 404);
  EXPECT_EQ(unknown.error().code, "model_not_found");

  r->input.model = "";
  r->input.messages[0]["content"] = std::string(2000, 'a');
  ApiResult<PreparedGeneration> long_prompt = prepare_generation(r->input, model);
  ASSERT_FALSE(long_prompt.is_ok());
  EXPECT_EQ(long_prompt.error().status, 400);
  ApiResult<PromptPlan> long_plan = plan_prompt(r->input, model);
  ASSERT_TRUE(long_plan.is_ok());
  const size_t n_long = tok->encode(long_plan->text, true, true).size();
  EXPECT_NE(long_prompt.error().message.find("context length is 64 tokens"), std::string::npos);
  EXPECT_NE(long_prompt.error().message.find("prompt has " + std::to_string(n_long) + " tokens"),
            std::string::npos);
  EXPECT_EQ(long_prompt.error().code, "context_length_exceeded");

  r->input.messages[0]["content"] = "hi";
  r->input.json_object = true;
  ApiResult<PreparedGeneration> json_mode = prepare_generation(r->input, model);
  ASSERT_TRUE(json_mode.is_ok());
  EXPECT_NE(json_mode->request.grammar, nullptr);
}

TEST(ServerMetrics, RendersPrometheusText) {
  Metrics m;
  const auto now = std::chrono::steady_clock::now();
  m.count_request("chat_completions", 200);
  m.count_request("chat_completions", 200);
  m.count_request("chat_completions", 429);
  m.add_prompt_tokens(10);
  m.add_generated_token(now);
  m.observe_time_to_first_token(0.02);
  m.observe_inter_token_latency(0.003);
  runtime::SchedulerStats stats;
  stats.running = 2;
  stats.queued = 1;
  stats.kv_cells_used = 50;
  stats.kv_cells_total = 200;
  const std::string text = m.render(stats, now);
  EXPECT_NE(text.find("cove_http_requests_total{route=\"chat_completions\",status=\"200\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("status=\"429\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("cove_prompt_tokens_total 10\n"), std::string::npos);
  EXPECT_NE(text.find("cove_time_to_first_token_seconds_bucket{le=\"0.025\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("cove_time_to_first_token_seconds_bucket{le=\"0.01\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("cove_active_sequences 2\n"), std::string::npos);
  EXPECT_NE(text.find("cove_queue_depth 1\n"), std::string::npos);
  EXPECT_NE(text.find("cove_kv_cache_usage_ratio 0.25\n"), std::string::npos);
  EXPECT_EQ(m.render(std::nullopt, now).find("cove_active_sequences"), std::string::npos);
}

}  // namespace
}  // namespace cove::server
