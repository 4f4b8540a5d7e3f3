// Ollama routes: requests on the engine, NDJSON lines and whole replies (ollama_api.h).
//
// Same life as an OpenAI request (openai_api.cpp): parse, prepare, submit, and let the engine's
// callbacks write lines through the thread-safe Responder; a disconnect cancels the request.
#include "server/ollama_api.h"

#include "server/ollama_request.h"
#include "server/openai_request.h"
#include "server/stream_relay.h"

namespace cove::server {
namespace {

using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr const char* kNdjson = "application/x-ndjson";
constexpr const char* kJson = "application/json; charset=utf-8";
// The Ollama API version this server follows (/api/version); clients gate features on it.
constexpr const char* kOllamaApiVersion = "0.6.0";

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_ollama_error(Responder& r, const ApiError& e) {
  HeaderList extra;
  if (e.retry_after_s > 0) extra.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  r.send(e.status, kJson, dump(ollama_error_json(e)), std::move(extra));
}

ApiError abnormal_end_error(const runtime::RequestResult& result) {
  switch (result.end) {
    case runtime::RequestEnd::kTimeout:
      return ApiError{504, "the request did not finish within the server's time limit",
                      "timeout_error", "", "timeout"};
    case runtime::RequestEnd::kCancelled:
      return ApiError{503, "the request was cancelled: the server is shutting down",
                      "server_error", "", "cancelled"};
    default:
      return server_error("generation failed: " + result.error);
  }
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

// The loaded model when `name` (tag allowed) names it; otherwise the error to send.
ApiResult<std::shared_ptr<const ModelService>> find_model(ServerState& state,
                                                          const std::string& name) {
  if (!state.model()) {
    ApiError e{503, "the model is still loading", "server_error", "", "loading"};
    e.retry_after_s = 1;
    return e;
  }
  std::shared_ptr<const ModelService> model =
      name.empty() ? nullptr : state.find_model(ollama_base_name(name));
  if (!model) return ollama_model_not_found(name);
  return model;
}

// One /api/chat or /api/generate request in flight.
struct Job : StreamRelay {
  bool generate = false;  // /api/generate ("response") rather than /api/chat ("message")
  ServerState* state = nullptr;
  OllamaRequest request;
  PromptPlan plan;
  std::string model_name;  // as the client sent it; Ollama echoes it
  std::vector<int32_t> context;  // generate: prompt and generated tokens, for "context"
  Clock::time_point submitted;

  // Guarded by StreamRelay::mutex:
  bool seen_token = false;
  Clock::time_point last_token;
  bool holding = false;  // tools given: text held back while it may be a tool call
  std::string held_text;

  ordered_json head() const {
    return ordered_json{{"model", model_name}, {"created_at", rfc3339(unix_now_ns())}};
  }

  ordered_json text_object(const std::string& text) const {
    ordered_json j = head();
    if (generate) {
      j["response"] = text;
    } else {
      j["message"] = {{"role", "assistant"}, {"content", text}};
    }
    return j;
  }

  void emit(const ordered_json& line) { StreamRelay::emit(dump(line) + "\n"); }

  void emit_text(const std::string& text) {
    ordered_json j = text_object(text);
    j["done"] = false;
    emit(j);
  }

  bool on_token(const runtime::GeneratedToken& token, std::string_view text) {
    const Clock::time_point now = Clock::now();
    state->metrics.add_generated_token(now);
    std::lock_guard lock(mutex);
    if (!seen_token) {
      state->metrics.observe_time_to_first_token(
          std::chrono::duration<double>(now - submitted).count());
      seen_token = true;
    } else {
      state->metrics.observe_inter_token_latency(
          std::chrono::duration<double>(now - last_token).count());
    }
    last_token = now;
    if (client_gone.load()) return false;
    if (generate) context.push_back(token.id);
    if (!request.stream || text.empty()) return true;
    if (holding) {
      held_text += text;
      if (may_become_tool_call(held_text)) return true;
      holding = false;
      emit_text(held_text);
      held_text.clear();
      return true;
    }
    emit_text(std::string(text));
    return true;
  }

  std::optional<std::vector<ToolCall>> tool_calls(const runtime::RequestResult& result) const {
    if (generate || result.end != runtime::RequestEnd::kStop || !plan.detect_tool_calls) {
      return std::nullopt;
    }
    return parse_tool_calls(result.text, request.input.tools);
  }

  // The last object: the whole text when not streaming, statistics always.
  ordered_json final_object(const runtime::RequestResult& result, bool whole) {
    ordered_json j = text_object(whole ? result.text : "");
    if (!generate) {
      if (auto calls = tool_calls(result)) {
        if (whole) j["message"]["content"] = "";
        j["message"]["tool_calls"] = ollama_tool_calls(*calls);
      }
    }
    j["done"] = true;
    add_ollama_stats(j, result);
    if (generate) j["context"] = context;
    return j;
  }

  void on_done(const runtime::RequestResult& result) {
    state->metrics.add_prompt_tokens(result.prompt_tokens - result.cached_tokens);
    state->metrics.add_cached_prompt_tokens(result.cached_tokens);
    state->metrics.request_ended(end_name(result.end));
    std::lock_guard lock(mutex);
    if (client_gone.load()) return;
    const bool normal =
        result.end == runtime::RequestEnd::kStop || result.end == runtime::RequestEnd::kLength;
    if (!request.stream) {
      if (!normal) return send_ollama_error(*responder, abnormal_end_error(result));
      responder->send(200, kJson, dump(final_object(result, true)));
      return;
    }
    if (!normal) {
      emit(ollama_error_json(abnormal_end_error(result)));  // the status went out already
    } else {
      const bool calls = tool_calls(result).has_value();
      if (!calls && !held_text.empty()) emit_text(held_text);
      held_text.clear();
      emit(final_object(result, false));
    }
    finish();
  }
};

void run_generation(ServerState& state, const HttpRequest& http, ResponderPtr responder,
                    bool generate) {
  ApiResult<OllamaRequest> parsed =
      generate ? parse_ollama_generate(http.body) : parse_ollama_chat(http.body);
  if (!parsed) return send_ollama_error(*responder, parsed.error());
  if (state.shutting_down()) {
    return send_ollama_error(*responder,
                             ApiError{503, "the server is shutting down", "server_error", "", "shutting_down"});
  }
  ApiResult<std::shared_ptr<const ModelService>> model = find_model(state, parsed->input.model);
  if (!model) return send_ollama_error(*responder, model.error());
  const std::string model_name = parsed->input.model;

  if (parsed->load_only) {  // Ollama's "load the model" request: it is loaded
    ordered_json j = {{"model", model_name}, {"created_at", rfc3339(unix_now_ns())}};
    if (generate) {
      j["response"] = "";
    } else {
      j["message"] = {{"role", "assistant"}, {"content", ""}};
    }
    j["done_reason"] = "load";
    j["done"] = true;
    responder->send(200, kJson, dump(j));
    return;
  }

  parsed->input.model = "";  // checked above, tag and all
  ApiResult<PreparedGeneration> prepared = prepare_generation(parsed->input, (*model)->context);
  if (!prepared) return send_ollama_error(*responder, prepared.error());

  auto job = std::make_shared<Job>();
  job->generate = generate;
  job->responder = responder;
  job->model = *model;
  job->state = &state;
  job->request = std::move(*parsed);
  job->plan = prepared->plan;
  job->model_name = model_name;
  if (generate) job->context = prepared->request.prompt;
  job->holding = job->plan.detect_tool_calls;
  job->submitted = Clock::now();

  runtime::RequestCallbacks callbacks;
  callbacks.on_token = [job](const runtime::GeneratedToken& token, std::string_view text) {
    return job->on_token(token, text);
  };
  callbacks.on_done = [job](const runtime::RequestResult& result) { job->on_done(result); };
  responder->on_disconnect([job] { job->client_disconnected(); });

  Result<runtime::RequestId> id =
      job->model->engine->submit(std::move(prepared->request), std::move(callbacks));
  if (!id) {
    if (id.code() == runtime::kQueueFull) {
      ApiError e{429, "server busy, please try again. maximum pending requests exceeded",
                 "rate_limit_error", "", "queue_full"};
      e.retry_after_s = 1;
      return send_ollama_error(*responder, e);
    }
    return send_ollama_error(*responder, invalid_request(id.message()));
  }
  job->submitted_as(*id);
  if (job->request.stream) job->open_stream(kNdjson);
}

// The entry /api/tags and /api/ps share.
ordered_json model_entry(const ModelService& model) {
  const std::string name = ollama_tagged_name(model.context.id);
  ordered_json j = {{"name", name}, {"model", name}};
  if (const ModelDescription* d = model.description.get()) {
    j["modified_at"] = rfc3339(d->modified_unix_ns);
    j["size"] = d->size_bytes;
    j["digest"] = d->digest().substr(std::string_view("sha256:").size());
    j["details"] = ollama_details(*d);
  }
  return j;
}

void list_tags(ServerState& state, Responder& r) {
  ordered_json models = ordered_json::array();
  for (const std::shared_ptr<const ModelService>& model : state.models()) {
    models.push_back(model_entry(*model));
  }
  r.send(200, kJson, dump(ordered_json{{"models", std::move(models)}}));
}

void list_running(ServerState& state, Responder& r) {
  ordered_json models = ordered_json::array();
  for (const std::shared_ptr<const ModelService>& model : state.models()) {
    ordered_json j = model_entry(*model);
    j.erase("modified_at");
    // Loaded for the server's lifetime: it never expires.
    j["expires_at"] = "9999-12-31T23:59:59Z";
    j["size_vram"] = 0;  // weights live in host memory
    j["context_length"] = model->context.n_ctx;
    models.push_back(std::move(j));
  }
  r.send(200, kJson, dump(ordered_json{{"models", std::move(models)}}));
}

void show_model(ServerState& state, const HttpRequest& http, Responder& r) {
  ApiResult<ordered_json> body = parse_json_body(http.body);
  if (!body) return send_ollama_error(r, body.error());
  std::string name;
  for (const char* key : {"model", "name"}) {
    auto it = body->find(key);
    if (it != body->end() && it->is_string()) {
      name = it->get<std::string>();
      break;
    }
  }
  if (name.empty()) return send_ollama_error(r, invalid_request("model is required", "model"));
  ApiResult<std::shared_ptr<const ModelService>> model = find_model(state, name);
  if (!model) return send_ollama_error(r, model.error());
  const ModelService& m = **model;
  ordered_json j;
  const ModelDescription* d = m.description.get();
  j["modelfile"] = "# Modelfile of the model cove serves\nFROM " + (d ? d->path : m.context.id) +
                   "\n";
  j["parameters"] = "";
  j["template"] = d ? d->chat_template : "";
  if (d) {
    j["details"] = ollama_details(*d);
    j["model_info"] = d->model_info;
  }
  ordered_json capabilities = ordered_json::array({"completion"});
  if (d && d->chat_template.find("tools") != std::string::npos) capabilities.push_back("tools");
  j["capabilities"] = std::move(capabilities);
  if (d) j["modified_at"] = rfc3339(d->modified_unix_ns);
  r.send(200, kJson, dump(j));
}

}  // namespace

void register_ollama_routes(Router& router, ServerState& state) {
  router.add(Route{"POST", "/api/chat", "ollama_chat",
                   [&state](const HttpRequest& request, ResponderPtr responder) {
                     run_generation(state, request, std::move(responder), /*generate=*/false);
                   }});
  router.add(Route{"POST", "/api/generate", "ollama_generate",
                   [&state](const HttpRequest& request, ResponderPtr responder) {
                     run_generation(state, request, std::move(responder), /*generate=*/true);
                   }});
  router.add(Route{"GET", "/api/tags", "ollama_tags",
                   [&state](const HttpRequest&, ResponderPtr r) { list_tags(state, *r); }});
  router.add(Route{"GET", "/api/ps", "ollama_ps",
                   [&state](const HttpRequest&, ResponderPtr r) { list_running(state, *r); }});
  router.add(Route{"POST", "/api/show", "ollama_show",
                   [&state](const HttpRequest& request, ResponderPtr r) {
                     show_model(state, request, *r);
                   }});
  router.add(Route{"GET", "/api/version", "ollama_version",
                   [](const HttpRequest&, ResponderPtr r) {
                     r->send(200, kJson, dump(ordered_json{{"version", kOllamaApiVersion}}));
                   },
                   /*needs_auth=*/false});
}

}  // namespace cove::server
