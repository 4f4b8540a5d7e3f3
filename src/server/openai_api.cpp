// OpenAI routes: requests on the engine, responses and stream chunks (openai_api.h).
//
// A request's life: the handler parses and prepares it, submits it to the engine and returns;
// the engine's callbacks (on its own thread) build chunks and hand them to the Responder, which
// forwards them to the connection's strand. A disconnect cancels the engine request.
#include "server/openai_api.h"

#include <ctime>

#include "core/random_id.h"
#include "server/conversation_api.h"
#include "server/openai_request.h"
#include "server/stream_relay.h"

namespace cove::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

void send_error(Responder& r, const ApiError& e) {
  HeaderList extra;
  if (e.retry_after_s > 0) extra.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  send_json(r, e.status, error_json(e), std::move(extra));
}

const char* end_name(runtime::RequestEnd end) {
  switch (end) {
    case runtime::RequestEnd::kStop: return "stop";
    case runtime::RequestEnd::kLength: return "length";
    case runtime::RequestEnd::kCancelled: return "cancelled";
    case runtime::RequestEnd::kTimeout: return "timeout";
    case runtime::RequestEnd::kError: return "error";
  }
  return "error";
}

// The error for requests that ended without a normal finish (cancelled by shutdown, timeout,
// engine error).
ApiError abnormal_end_error(const runtime::RequestResult& result) {
  switch (result.end) {
    case runtime::RequestEnd::kTimeout:
      return ApiError{504, "The request did not finish within the server's time limit",
                      "timeout_error", "", "timeout"};
    case runtime::RequestEnd::kCancelled:
      return ApiError{503, "The request was cancelled: the server is shutting down",
                      "server_error", "", "cancelled"};
    default:
      return server_error("generation failed: " + result.error);
  }
}

json byte_list(std::string_view s) {
  json bytes = json::array();
  for (unsigned char c : s) bytes.push_back(static_cast<int>(c));
  return bytes;
}

json usage_json(const runtime::RequestResult& r) {
  return json{{"prompt_tokens", r.prompt_tokens},
              {"completion_tokens", r.completion_tokens},
              {"total_tokens", r.prompt_tokens + r.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

json tool_calls_json(const std::vector<ToolCall>& calls, bool with_index) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call = {{"id", random_id("call_")},
                 {"type", "function"},
                 {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (with_index) call["index"] = i;
    out.push_back(std::move(call));
  }
  return out;
}

// One chat or text completion in flight.
struct Job : StreamRelay, std::enable_shared_from_this<Job> {
  bool chat = true;
  ServerState* state = nullptr;
  OpenAiRequest request;
  PromptPlan plan;
  std::string id;
  int64_t created = 0;
  Clock::time_point submitted;

  // Guarded by StreamRelay::mutex:
  Clock::time_point last_token;
  bool seen_token = false;
  // Streaming under tool_choice "auto": text held back while it may be a tool call.
  bool holding = false;
  std::string held_text;
  json held_logprobs = json::array();
  size_t text_offset = 0;  // completions logprobs: offset of the next token's text
  // Non-streaming: every token's logprob entry.
  json logprobs = json::array();
  json completion_logprobs = {{"tokens", json::array()},
                              {"token_logprobs", json::array()},
                              {"top_logprobs", json::array()},
                              {"text_offset", json::array()}};

  const tokenizer::Tokenizer& tok() const { return *model->context.tokenizer; }
  const std::string& model_id() const { return model->context.id; }

  // --- chunks --------------------------------------------------------------------------------

  json chunk_base() const {
    json c = {{"id", id},
              {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", created},
              {"model", model_id()}};
    return c;
  }

  std::string chat_chunk(json delta, const json& finish_reason, const json& logprobs_json) {
    json c = chunk_base();
    c["choices"] = json::array({json{{"index", 0},
                                     {"delta", std::move(delta)},
                                     {"logprobs", logprobs_json},
                                     {"finish_reason", finish_reason}}});
    if (request.include_usage) c["usage"] = nullptr;
    return sse_event(dump_json(c));
  }

  std::string text_chunk(const std::string& text, const json& finish_reason,
                         const json& logprobs_json) {
    json c = chunk_base();
    c["choices"] = json::array({json{{"index", 0},
                                     {"text", text},
                                     {"logprobs", logprobs_json},
                                     {"finish_reason", finish_reason}}});
    if (request.include_usage) c["usage"] = nullptr;
    return sse_event(dump_json(c));
  }

  json chat_logprob_entry(const runtime::GeneratedToken& t) const {
    json top = json::array();
    for (const runtime::TokenLogprob& alt : t.top) {
      const std::string piece = tok().token_piece(alt.id);
      top.push_back({{"token", piece}, {"logprob", alt.logprob}, {"bytes", byte_list(piece)}});
    }
    return json{{"token", t.text},
                {"logprob", t.logprob},
                {"bytes", byte_list(t.text)},
                {"top_logprobs", std::move(top)}};
  }

  void add_completion_logprob(json& lp, const runtime::GeneratedToken& t) {
    lp["tokens"].push_back(t.text);
    lp["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const runtime::TokenLogprob& alt : t.top) top[tok().token_piece(alt.id)] = alt.logprob;
    lp["top_logprobs"].push_back(std::move(top));
    lp["text_offset"].push_back(text_offset);
    text_offset += t.text.size();
  }

  // --- engine callbacks (engine thread) -------------------------------------------------------

  bool on_token(const runtime::GeneratedToken& token, std::string_view text) {
    const Clock::time_point now = Clock::now();
    Metrics& metrics = state->metrics;
    metrics.add_generated_token(now);
    std::lock_guard lock(mutex);
    if (!seen_token) {
      metrics.observe_time_to_first_token(std::chrono::duration<double>(now - submitted).count());
      seen_token = true;
    } else {
      metrics.observe_inter_token_latency(
          std::chrono::duration<double>(now - last_token).count());
    }
    last_token = now;
    if (client_gone.load()) return false;

    if (!request.stream) {
      if (request.input.logprobs) {
        if (chat) {
          logprobs.push_back(chat_logprob_entry(token));
        } else {
          add_completion_logprob(completion_logprobs, token);
        }
      }
      return true;
    }
    if (!chat) {
      json lp = nullptr;
      if (request.input.logprobs) {
        lp = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
        add_completion_logprob(lp, token);
      }
      if (!text.empty() || request.input.logprobs) emit(text_chunk(std::string(text), nullptr, lp));
      return true;
    }
    if (plan.tool_call_forced) return true;  // the call goes out whole at the end
    json entry = request.input.logprobs ? chat_logprob_entry(token) : json();
    if (holding) {
      held_text += text;
      if (!entry.is_null()) held_logprobs.push_back(std::move(entry));
      if (may_become_tool_call(held_text)) return true;
      holding = false;
      flush_held();
      return true;
    }
    if (text.empty() && entry.is_null()) return true;
    json lp = entry.is_null() ? json() : json{{"content", json::array({std::move(entry)})}};
    emit(chat_chunk({{"content", std::string(text)}}, nullptr, lp));
    return true;
  }

  void flush_held() {
    if (held_text.empty() && held_logprobs.empty()) return;
    json lp = held_logprobs.empty() ? json() : json{{"content", held_logprobs}};
    emit(chat_chunk({{"content", held_text}}, nullptr, lp));
    held_text.clear();
    held_logprobs = json::array();
  }

  void on_done(const runtime::RequestResult& result) {
    Metrics& metrics = state->metrics;
    metrics.add_prompt_tokens(result.prompt_tokens - result.cached_tokens);
    metrics.add_cached_prompt_tokens(result.cached_tokens);
    metrics.request_ended(end_name(result.end));
    std::lock_guard lock(mutex);
    if (client_gone.load()) return;
    if (request.stream) {
      finish_stream(result);
    } else {
      finish_whole(result);
    }
  }

  // The tool calls in the output, when the request allows them.
  std::optional<std::vector<ToolCall>> tool_calls(const runtime::RequestResult& result) const {
    if (!chat || result.end != runtime::RequestEnd::kStop) return std::nullopt;
    if (!plan.tool_call_forced && !plan.detect_tool_calls) return std::nullopt;
    return parse_tool_calls(result.text, request.input.tools);
  }

  void finish_whole(const runtime::RequestResult& result) {
    if (result.end != runtime::RequestEnd::kStop && result.end != runtime::RequestEnd::kLength) {
      send_error(*responder, abnormal_end_error(result));
      return;
    }
    json body = {{"id", id},
                 {"object", chat ? "chat.completion" : "text_completion"},
                 {"created", created},
                 {"model", model_id()}};
    std::string finish = result.end == runtime::RequestEnd::kStop ? "stop" : "length";
    json choice = {{"index", 0}};
    if (chat) {
      json message = {{"role", "assistant"}};
      if (auto calls = tool_calls(result)) {
        message["content"] = nullptr;
        message["tool_calls"] = tool_calls_json(*calls, false);
        finish = "tool_calls";
      } else {
        message["content"] = result.text;
      }
      message["refusal"] = nullptr;
      choice["message"] = std::move(message);
      choice["logprobs"] =
          request.input.logprobs ? json{{"content", std::move(logprobs)}} : json();
    } else {
      choice["text"] = result.text;
      choice["logprobs"] = request.input.logprobs ? std::move(completion_logprobs) : json();
    }
    choice["finish_reason"] = finish;
    body["choices"] = json::array({std::move(choice)});
    body["usage"] = usage_json(result);
    send_json(*responder, 200, body);
  }

  void finish_stream(const runtime::RequestResult& result) {
    if (result.end != runtime::RequestEnd::kStop && result.end != runtime::RequestEnd::kLength) {
      // The status line went out long ago: report the failure in the stream itself.
      emit(sse_event(dump_json(error_json(abnormal_end_error(result)))));
    } else {
      std::string reason = result.end == runtime::RequestEnd::kStop ? "stop" : "length";
      if (chat) {
        if (auto calls = tool_calls(result)) {
          emit(chat_chunk({{"tool_calls", tool_calls_json(*calls, true)}}, nullptr, nullptr));
          reason = "tool_calls";
          held_text.clear();
          held_logprobs = json::array();
        } else if (plan.tool_call_forced) {
          emit(chat_chunk({{"content", result.text}}, nullptr, nullptr));
        } else {
          flush_held();
        }
        emit(chat_chunk(json::object(), reason, nullptr));
      } else {
        emit(text_chunk("", reason, nullptr));
      }
      if (request.include_usage) {
        json c = chunk_base();
        c["choices"] = json::array();
        c["usage"] = usage_json(result);
        emit(sse_event(dump_json(c)));
      }
    }
    emit(sse_event("[DONE]"));
    finish();
  }
};

void run_completion(ServerState& state, const HttpRequest& http, ResponderPtr responder,
                    bool chat) {
  ApiResult<OpenAiRequest> parsed =
      chat ? parse_chat_request(http.body) : parse_completion_request(http.body);
  if (!parsed) return send_error(*responder, parsed.error());
  if (parsed->conversation_id) {
    return run_conversation_turn(state, std::move(*parsed), std::move(responder));
  }
  std::shared_ptr<const ModelService> model = state.model_for(parsed->input.model);
  if (!model || state.shutting_down()) {
    ApiError e{503,
               model ? "The server is shutting down" : "The model is still loading",
               "server_error", "", model ? "shutting_down" : "loading"};
    e.retry_after_s = model ? 0 : 1;
    return send_error(*responder, e);
  }
  if (auto unknown = unknown_model_error(state, parsed->input.model)) {
    return send_error(*responder, *unknown);
  }
  ApiResult<PreparedGeneration> prepared = prepare_generation(parsed->input, model->context);
  if (!prepared) return send_error(*responder, prepared.error());

  auto job = std::make_shared<Job>();
  job->chat = chat;
  job->responder = responder;
  job->model = model;
  job->state = &state;
  job->request = std::move(*parsed);
  job->plan = prepared->plan;
  job->id = random_id(chat ? "chatcmpl-" : "cmpl-");
  job->created = static_cast<int64_t>(std::time(nullptr));
  job->holding = job->plan.detect_tool_calls;
  job->submitted = Clock::now();

  runtime::RequestCallbacks callbacks;
  callbacks.on_token = [job](const runtime::GeneratedToken& token, std::string_view text) {
    return job->on_token(token, text);
  };
  callbacks.on_done = [job](const runtime::RequestResult& result) { job->on_done(result); };
  responder->on_disconnect([job] { job->client_disconnected(); });

  Result<runtime::RequestId> id =
      model->engine->submit(std::move(prepared->request), std::move(callbacks));
  if (!id) {
    if (id.code() == runtime::kQueueFull) {
      ApiError e{429, "The server is busy: the request queue is full. Retry shortly.",
                 "rate_limit_error", "", "queue_full"};
      e.retry_after_s = 1;
      return send_error(*responder, e);
    }
    return send_error(*responder, invalid_request(id.message(), chat ? "messages" : "prompt"));
  }
  job->submitted_as(*id);
  if (job->request.stream) {
    job->open_stream("text/event-stream",
                     job->chat ? job->chat_chunk({{"role", "assistant"}, {"content", ""}}, nullptr,
                                                 nullptr)
                               : std::string());
  }
}

void list_models(ServerState& state, ResponderPtr responder) {
  json data = json::array();
  for (const std::shared_ptr<const ModelService>& model : state.models()) {
    data.push_back({{"id", model->context.id},
                    {"object", "model"},
                    {"created", model->created},
                    {"owned_by", "cove"}});
  }
  send_json(*responder, 200, {{"object", "list"}, {"data", std::move(data)}});
}

}  // namespace

void register_openai_routes(Router& router, ServerState& state) {
  router.add(Route{"POST", "/v1/chat/completions", "chat_completions",
                   [&state](const HttpRequest& request, ResponderPtr responder) {
                     run_completion(state, request, std::move(responder), /*chat=*/true);
                   }});
  router.add(Route{"POST", "/v1/completions", "completions",
                   [&state](const HttpRequest& request, ResponderPtr responder) {
                     run_completion(state, request, std::move(responder), /*chat=*/false);
                   }});
  router.add(Route{"GET", "/v1/models", "models",
                   [&state](const HttpRequest&, ResponderPtr responder) {
                     list_models(state, std::move(responder));
                   }});
}

}  // namespace cove::server
