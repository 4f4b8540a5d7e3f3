// The Ollama API's request/response mapping without sockets (ollama_request.h): body parsing
// into GenerationInput (options, format, messages, generate's raw/system), the error body, model
// names with tags, RFC 3339 times, nanosecond statistics, tool calls with object arguments, and
// the model description read from a GGUF file.
#include <gtest/gtest.h>

#include <filesystem>

#include "server/ollama_request.h"
#include "support/goldens.h"

namespace cove::server {
namespace {

using ordered_json = nlohmann::ordered_json;

ApiError chat_error(const std::string& body) {
  ApiResult<OllamaRequest> r = parse_ollama_chat(body);
  EXPECT_FALSE(r.is_ok()) << body;
  return r.is_ok() ? ApiError{} : r.error();
}

TEST(ServerOllama, ChatDefaultsFollowOllama) {
  ApiResult<OllamaRequest> r =
      parse_ollama_chat(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  EXPECT_TRUE(r->stream);  // Ollama streams unless told not to
  EXPECT_FALSE(r->load_only);
  EXPECT_TRUE(r->input.chat);
  EXPECT_EQ(r->input.model, "m");
  EXPECT_FLOAT_EQ(r->input.sampling.temperature, 0.8f);
  EXPECT_EQ(r->input.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r->input.sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(r->input.sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(r->input.sampling.repeat_last_n, 64);
  EXPECT_EQ(r->input.max_tokens, -1);
  EXPECT_FALSE(r->input.seed.has_value());
  EXPECT_EQ(r->input.messages.size(), 1u);
}

TEST(ServerOllama, OptionsMapToSampling) {
  ApiResult<OllamaRequest> r = parse_ollama_chat(R"({
    "model": "m", "stream": false,
    "messages": [{"role": "user", "content": "hi"}],
    "options": {"temperature": 0, "top_p": 0.5, "top_k": 7, "seed": 42, "num_predict": 12,
                "stop": ["\n", "END"], "repeat_penalty": 1.3, "presence_penalty": 0.5,
                "frequency_penalty": 0.25, "num_ctx": 8192, "num_thread": 4}})");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  const GenerationInput& in = r->input;
  EXPECT_FALSE(r->stream);
  EXPECT_FLOAT_EQ(in.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(in.sampling.top_p, 0.5f);
  EXPECT_EQ(in.sampling.top_k, 7);
  ASSERT_TRUE(in.seed.has_value());
  EXPECT_EQ(*in.seed, 42u);
  EXPECT_EQ(in.max_tokens, 12);
  EXPECT_EQ(in.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_FLOAT_EQ(in.sampling.repeat_penalty, 1.3f);
  EXPECT_FLOAT_EQ(in.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(in.sampling.frequency_penalty, 0.25f);

  // num_predict -1 / -2 mean no limit; a negative seed means random.
  ApiResult<OllamaRequest> r2 = parse_ollama_chat(
      R"({"model": "m", "messages": [], "options": {"num_predict": -2, "seed": -1}})");
  ASSERT_TRUE(r2.is_ok()) << r2.error().message;
  EXPECT_EQ(r2->input.max_tokens, -1);
  EXPECT_FALSE(r2->input.seed.has_value());
}

TEST(ServerOllama, FormatJsonOrSchema) {
  const std::string m = R"("model": "m", "messages": [{"role": "user", "content": "hi"}])";
  ApiResult<OllamaRequest> json_format = parse_ollama_chat("{" + m + R"(, "format": "json"})");
  ASSERT_TRUE(json_format.is_ok());
  EXPECT_TRUE(json_format->input.json_object);
  EXPECT_FALSE(json_format->input.json_schema.has_value());

  ApiResult<OllamaRequest> schema = parse_ollama_chat(
      "{" + m + R"(, "format": {"type": "object", "properties": {"a": {"type": "integer"}}}})");
  ASSERT_TRUE(schema.is_ok());
  ASSERT_TRUE(schema->input.json_schema.has_value());
  EXPECT_EQ((*schema->input.json_schema)["properties"]["a"]["type"], "integer");

  ApiError e = chat_error("{" + m + R"(, "format": "yaml"})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "format");
  EXPECT_NE(e.message.find("invalid format"), std::string::npos);
}

TEST(ServerOllama, BadBodiesAre400sWithOllamaErrorShape) {
  ApiError e = chat_error("{\"model\": ");
  EXPECT_EQ(e.status, 400);
  ordered_json body = ollama_error_json(e);
  ASSERT_EQ(body.size(), 1u);  // {"error": "..."} and nothing else
  EXPECT_TRUE(body["error"].is_string());

  EXPECT_EQ(chat_error(R"({"messages": []})").message, "model is required");
  EXPECT_EQ(chat_error(R"({"model": "m", "messages": {}})").param, "messages");
  EXPECT_EQ(chat_error(R"({"model": "m", "messages": [{"role": "wizard", "content": ""}]})").param,
            "messages[0].role");
  EXPECT_EQ(chat_error(R"({"model": "m", "messages": [{"role": "user", "content": 5}]})").param,
            "messages[0].content");
  EXPECT_EQ(chat_error(R"({"model": "m", "messages": [{"role": "user", "content": "x",
                           "images": ["aGk="]}]})").param,
            "messages[0].images");
  EXPECT_EQ(chat_error(R"({"model": "m", "stream": "yes"})").param, "stream");
  EXPECT_EQ(chat_error(R"({"model": "m", "options": {"temperature": "hot"}})").param,
            "options.temperature");
  EXPECT_EQ(chat_error(R"({"model": "m", "options": {"top_k": 1.5}})").param, "options.top_k");
  EXPECT_EQ(chat_error(R"({"model": "m", "options": {"stop": [1]}})").param, "options.stop");
  EXPECT_EQ(chat_error(R"({"model": "m", "tools": [{"type": "function"}]})").status, 400);
}

TEST(ServerOllama, ChatWithoutMessagesIsALoadRequest) {
  ApiResult<OllamaRequest> r = parse_ollama_chat(R"({"model": "m"})");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->load_only);
}

TEST(ServerOllama, ChatKeepsToolCallsWithObjectArguments) {
  ApiResult<OllamaRequest> r = parse_ollama_chat(R"({"model": "m", "messages": [
    {"role": "user", "content": "weather?"},
    {"role": "assistant", "tool_calls": [{"function": {"name": "get_weather",
                                                       "arguments": {"city": "Oslo"}}}]},
    {"role": "tool", "content": "12 C"}],
    "tools": [{"type": "function", "function": {"name": "get_weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]})");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  EXPECT_EQ(r->input.messages[1]["content"], "");  // absent content becomes ""
  EXPECT_EQ(r->input.messages[1]["tool_calls"][0]["function"]["arguments"]["city"], "Oslo");
  EXPECT_TRUE(r->input.tools.is_array());
  EXPECT_EQ(r->input.tool_choice, ToolChoice::kAuto);
}

TEST(ServerOllama, GenerateTemplatesThePromptUnlessRaw) {
  ApiResult<OllamaRequest> templated = parse_ollama_generate(
      R"({"model": "m", "prompt": "Why is the sky blue?", "system": "Be brief."})");
  ASSERT_TRUE(templated.is_ok()) << templated.error().message;
  EXPECT_TRUE(templated->input.chat);
  ASSERT_EQ(templated->input.messages.size(), 2u);
  EXPECT_EQ(templated->input.messages[0]["role"], "system");
  EXPECT_EQ(templated->input.messages[0]["content"], "Be brief.");
  EXPECT_EQ(templated->input.messages[1]["role"], "user");
  EXPECT_EQ(templated->input.messages[1]["content"], "Why is the sky blue?");

  ApiResult<OllamaRequest> raw =
      parse_ollama_generate(R"({"model": "m", "prompt": "Once upon", "raw": true})");
  ASSERT_TRUE(raw.is_ok());
  EXPECT_FALSE(raw->input.chat);
  EXPECT_EQ(raw->input.prompt, "Once upon");

  ApiResult<OllamaRequest> load = parse_ollama_generate(R"({"model": "m"})");
  ASSERT_TRUE(load.is_ok());
  EXPECT_TRUE(load->load_only);

  for (const char* body : {R"({"model": "m", "prompt": "x", "suffix": "y"})",
                           R"({"model": "m", "prompt": "x", "template": "{{ .Prompt }}"})",
                           R"({"model": "m", "prompt": "x", "context": [1, 2]})",
                           R"({"model": "m", "prompt": 5})"}) {
    ApiResult<OllamaRequest> r = parse_ollama_generate(body);
    ASSERT_FALSE(r.is_ok()) << body;
    EXPECT_EQ(r.error().status, 400) << body;
  }
}

TEST(ServerOllama, ModelNamesWithTags) {
  EXPECT_EQ(ollama_base_name("smollm2:latest"), "smollm2");
  EXPECT_EQ(ollama_base_name("smollm2"), "smollm2");
  EXPECT_EQ(ollama_base_name("smollm2:q4"), "smollm2:q4");
  EXPECT_EQ(ollama_tagged_name("smollm2"), "smollm2:latest");
  EXPECT_EQ(ollama_tagged_name("smollm2:q4"), "smollm2:q4");
  ApiError e = ollama_model_not_found("nope:latest");
  EXPECT_EQ(e.status, 404);
  EXPECT_NE(e.message.find("\"nope:latest\" not found"), std::string::npos);
}

TEST(ServerOllama, Rfc3339WithNanoseconds) {
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(rfc3339(1714564800123456789LL), "2024-05-01T12:00:00.123456789Z");
}

TEST(ServerOllama, StatsAreNanoseconds) {
  runtime::RequestResult result;
  result.end = runtime::RequestEnd::kLength;
  result.prompt_tokens = 10;
  result.completion_tokens = 5;
  result.timings.queued_ms = 1.0;
  result.timings.first_token_ms = 4.0;
  result.timings.total_ms = 9.5;
  ordered_json j;
  add_ollama_stats(j, result);
  EXPECT_EQ(j["done_reason"], "length");
  EXPECT_EQ(j["total_duration"], 9500000);
  EXPECT_EQ(j["load_duration"], 0);
  EXPECT_EQ(j["prompt_eval_count"], 10);
  EXPECT_EQ(j["prompt_eval_duration"], 3000000);
  EXPECT_EQ(j["eval_count"], 5);
  EXPECT_EQ(j["eval_duration"], 5500000);

  result.end = runtime::RequestEnd::kStop;
  result.completion_tokens = 0;  // no token: everything after the queue was prefill
  ordered_json k;
  add_ollama_stats(k, result);
  EXPECT_EQ(k["done_reason"], "stop");
  EXPECT_EQ(k["prompt_eval_duration"], 8500000);
  EXPECT_EQ(k["eval_duration"], 0);
}

TEST(ServerOllama, ToolCallArgumentsAreObjects) {
  ordered_json calls = ollama_tool_calls({ToolCall{"get_weather", R"({"city": "Oslo"})"}});
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  ASSERT_TRUE(calls[0]["function"]["arguments"].is_object());
  EXPECT_EQ(calls[0]["function"]["arguments"]["city"], "Oslo");
}

TEST(ServerOllama, ParameterSizeText) {
  EXPECT_EQ(parameter_size_text(8030261248), "8.0B");
  EXPECT_EQ(parameter_size_text(134515008), "135M");
  EXPECT_EQ(parameter_size_text(260000), "260K");
}

TEST(ServerOllama, DescribesAGgufModel) {
  const std::string path = testing::shared_dir() + "/models/stories260K.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  Result<std::unique_ptr<gguf::File>> file = gguf::File::open(path);
  ASSERT_TRUE(file) << file.message();
  std::shared_ptr<const ModelDescription> d = describe_model(**file, path);
  EXPECT_EQ(d->family, "llama");
  EXPECT_GT(d->n_params, 200000);
  EXPECT_LT(d->n_params, 400000);
  EXPECT_EQ(d->size_bytes, std::filesystem::file_size(path));
  EXPECT_FALSE(d->quantization.empty());
  EXPECT_EQ(d->model_info["general.architecture"], "llama");
  EXPECT_EQ(d->model_info["general.parameter_count"], d->n_params);
  const std::string digest = d->digest();
  EXPECT_EQ(digest.rfind("sha256:", 0), 0u);
  EXPECT_EQ(digest.size(), 7u + 64u);
  EXPECT_EQ(d->digest(), digest);  // computed once
  ordered_json details = ollama_details(*d);
  EXPECT_EQ(details["format"], "gguf");
  EXPECT_EQ(details["family"], "llama");
}

}  // namespace
}  // namespace cove::server
