// Stored conversations over HTTP: turns through the assistant loop, and the listing routes
// (conversation_api.h).
//
// A turn's life: the handler checks the request (conversation known, last message a user
// message, model known) and posts a TurnJob to the ConversationService; a worker runs
// Assistant::run_turn, whose events drive the reply. Streamed, nothing goes out before the
// store has committed the user message, so the first chunk a client sees means "your message is
// on disk"; errors before that point are whole HTTP errors, errors after it an error event in
// the stream.
#include "server/conversation_api.h"

#include <atomic>
#include <charconv>
#include <ctime>
#include <mutex>

#include "assistant/tools.h"
#include "core/random_id.h"
#include "server/conversation_service.h"

namespace cove::server {
namespace {

using json = nlohmann::json;

constexpr size_t kToolResultExcerptBytes = 1000;
constexpr int kMaxListLimit = 1000;

void send_error(Responder& r, const ApiError& e) {
  HeaderList extra;
  if (e.retry_after_s > 0) extra.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  send_json(r, e.status, error_json(e), std::move(extra));
}

ApiError conversations_unavailable() {
  return ApiError{404,
                  "Stored conversations need a store: start the server with `cove serve --config "
                  "FILE` (or with a config.yaml in COVE_HOME and no -m)",
                  "invalid_request_error", "conversation_id", "conversations_unavailable"};
}

ApiError conversation_not_found(const std::string& id) {
  return not_found("No conversation with id '" + id + "'", "conversation_id",
                   "conversation_not_found");
}

// An error from the assistant or the store, as the HTTP error it maps to.
ApiError turn_error(const Error& e) {
  if (e.code == "not_found") {
    return not_found(e.message, "conversation_id", "conversation_not_found");
  }
  if (e.code == "bad_request") return invalid_request(e.message, "messages");
  if (e.code == "context_overflow") {
    return invalid_request(e.message, "messages", "context_length_exceeded");
  }
  if (e.code == "no_model_available") {
    ApiError out{503, e.message, "server_error", "model", "no_model_available"};
    out.retry_after_s = 1;
    return out;
  }
  if (e.code == "overloaded" || e.code == runtime::kQueueFull) {
    ApiError out{429, e.message, "rate_limit_error", "", "queue_full"};
    out.retry_after_s = 1;
    return out;
  }
  return server_error(e.message);
}

// The first `max_bytes` of `text`, cut at a character boundary, with "..." when cut.
std::string excerpt(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return assistant::to_valid_utf8(text);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return assistant::to_valid_utf8(std::string_view(text).substr(0, end)) + "...";
}

json tool_call_json(const assistant::ToolLogEntry& e) {
  return json{{"id", e.call_id},
              {"name", e.tool},
              {"arguments", e.arguments},
              {"outcome", std::string(assistant::outcome_name(e.outcome))},
              {"is_error", e.result.is_error},
              {"result", excerpt(e.result.text, kToolResultExcerptBytes)},
              {"duration_ms", e.duration_ms}};
}

json nullable(const std::string& s) {
  return s.empty() ? json() : json(s);
}

json message_json(const assistant::Message& m) {
  json tool_calls;
  if (!m.tool_calls.empty()) {
    tool_calls = json::parse(m.tool_calls, nullptr, /*allow_exceptions=*/false);
    if (tool_calls.is_discarded()) tool_calls = m.tool_calls;  // kept as text if not JSON
  }
  return json{{"id", m.id},
              {"seq", m.seq},
              {"role", m.role},
              {"content", m.content},
              {"tool_calls", std::move(tool_calls)},
              {"tool_call_id", nullable(m.tool_call_id)},
              {"name", nullable(m.name)},
              {"model", nullable(m.model)},
              {"tokens", {{"prompt", m.prompt_tokens}, {"completion", m.completion_tokens}}},
              {"created", m.created_at_ms / 1000}};
}

json conversation_json(const assistant::Conversation& c) {
  return json{{"id", c.id},
              {"object", "conversation"},
              {"title", c.title},
              {"created", c.created_at_ms / 1000},
              {"updated", c.updated_at_ms / 1000},
              {"message_count", c.message_count}};
}

// The text of a message's content: a string, or the text parts of an array.
std::optional<std::string> content_text(const nlohmann::ordered_json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return std::nullopt;
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      return std::nullopt;
    }
    text += part["text"].get<std::string>();
  }
  return text;
}

// One conversation turn in flight.
struct TurnJob {
  ServerState* state = nullptr;
  ConversationService* service = nullptr;
  ResponderPtr responder;
  bool stream = false;
  bool include_usage = false;
  std::string id;
  int64_t created = 0;
  std::string model_hint;  // the model named in chunks until the turn says which one answered
  assistant::TurnRequest turn;
  std::atomic<bool> client_gone{false};

  std::mutex mutex;      // guards what follows
  bool started = false;  // the stream's header and first chunk went out
  std::string conversation_id;
  json tool_calls = json::array();

  json chunk_base(const std::string& model) const {
    return json{{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created},
                {"model", model},
                {"conversation_id", conversation_id}};
  }

  json chunk_json(json delta, const json& finish_reason, const std::string& model) const {
    json c = chunk_base(model);
    c["choices"] = json::array({json{{"index", 0},
                                     {"delta", std::move(delta)},
                                     {"logprobs", nullptr},
                                     {"finish_reason", finish_reason}}});
    if (include_usage) c["usage"] = nullptr;
    return c;
  }

  std::string chat_chunk(json delta, const json& finish_reason, const std::string& model) const {
    return sse_event(dump_json(chunk_json(std::move(delta), finish_reason, model)));
  }

  // --- assistant events (worker thread) -------------------------------------------------------

  void on_stored(const assistant::Message& m) {
    std::lock_guard lock(mutex);
    if (m.role == "assistant" && !m.model.empty()) model_hint = m.model;  // the routed model
    if (m.role != "user" || !conversation_id.empty()) return;
    conversation_id = m.conversation_id;
    if (!stream) return;
    // The acknowledgement: the user message is committed.
    responder->begin_stream("text/event-stream");
    responder->write(chat_chunk({{"role", "assistant"}, {"content", ""}}, nullptr, model_hint));
    started = true;
  }

  bool on_text(std::string_view piece) {
    if (client_gone.load() || service->stopping()) return false;
    std::lock_guard lock(mutex);
    if (stream && started && !piece.empty()) {
      responder->write(chat_chunk({{"content", std::string(piece)}}, nullptr, model_hint));
    }
    return true;
  }

  void on_tool(const assistant::ToolLogEntry& entry) {
    json call = tool_call_json(entry);
    std::lock_guard lock(mutex);
    tool_calls.push_back(call);
    if (stream && started) {
      // Progress for clients that show it; an empty delta for those that do not.
      json c = chunk_json(json::object(), nullptr, model_hint);
      c["cove_tool_calls"] = json::array({std::move(call)});
      responder->write(sse_event(dump_json(c)));
    }
  }

  // --- the turn -------------------------------------------------------------------------------

  void run(bool run) {
    if (!run) {
      return send_error(*responder, ApiError{503, "The server is shutting down", "server_error", "",
                                             "shutting_down"});
    }
    assistant::TurnEvents events;
    events.on_stored = [this](const assistant::Message& m) { on_stored(m); };
    events.on_text = [this](std::string_view piece) { return on_text(piece); };
    events.on_tool = [this](const assistant::ToolLogEntry& e) { on_tool(e); };
    Result<assistant::TurnResult> result = service->assistant().run_turn(turn, events);

    std::lock_guard lock(mutex);
    if (client_gone.load()) return;
    if (!result) return fail(turn_error(result.error()));
    if (result->cancelled) {
      return fail(ApiError{503, "The turn was cancelled: the server is shutting down",
                           "server_error", "", "cancelled"});
    }
    if (conversation_id.empty()) conversation_id = result->conversation_id;
    const json usage = {{"prompt_tokens", result->prompt_tokens},
                        {"completion_tokens", result->completion_tokens},
                        {"total_tokens", result->prompt_tokens + result->completion_tokens}};
    if (!stream) {
      json body = {{"id", id},
                   {"object", "chat.completion"},
                   {"created", created},
                   {"model", result->model},
                   {"conversation_id", conversation_id}};
      body["choices"] = json::array(
          {json{{"index", 0},
                {"message",
                 {{"role", "assistant"}, {"content", result->reply.content}, {"refusal", nullptr}}},
                {"logprobs", nullptr},
                {"finish_reason", result->finish_reason}}});
      body["usage"] = usage;
      body["cove_tool_calls"] = tool_calls;
      body["cove_steps"] = result->steps;
      return send_json(*responder, 200, body);
    }
    if (!started) {  // cannot happen after a successful turn; answer anyway
      responder->begin_stream("text/event-stream");
      started = true;
    }
    json last = chunk_json(json::object(), result->finish_reason, result->model);
    last["cove_tool_calls"] = tool_calls;
    responder->write(sse_event(dump_json(last)));
    if (include_usage) {
      json c = chunk_base(result->model);
      c["choices"] = json::array();
      c["usage"] = usage;
      responder->write(sse_event(dump_json(c)));
    }
    responder->write(sse_event("[DONE]"));
    responder->end_stream();
  }

  // Under mutex. Before the acknowledgement a whole error response; after it, in the stream.
  void fail(const ApiError& e) {
    if (!started) return send_error(*responder, e);
    json err = error_json(e);
    err["conversation_id"] = conversation_id;
    responder->write(sse_event(dump_json(err)));
    responder->write(sse_event("[DONE]"));
    responder->end_stream();
  }
};

// --- listing routes -----------------------------------------------------------------------------

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes; in a query (`plus_is_space`) '+' is a space too.
std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The value of query parameter `name` in `target`, or nullopt.
std::optional<std::string> query_param(const std::string& target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string::npos) return std::nullopt;
  std::string_view query = std::string_view(target).substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) == name) {
      return eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// An integer query parameter in [lo, hi], `fallback` when absent.
ApiResult<int> int_param(const HttpRequest& request, std::string_view name, int lo, int hi,
                         int fallback) {
  std::optional<std::string> text = query_param(request.target, name);
  if (!text) return fallback;
  int value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || value < lo || value > hi) {
    return invalid_request("'" + std::string(name) + "' must be an integer between " +
                               std::to_string(lo) + " and " + std::to_string(hi) + ", got '" +
                               *text + "'",
                           std::string(name));
  }
  return value;
}

void list_conversations(ConversationService& service, const HttpRequest& request, Responder& r) {
  ApiResult<int> limit = int_param(request, "limit", 1, kMaxListLimit, 50);
  if (!limit) return send_error(r, limit.error());
  ApiResult<int> offset = int_param(request, "offset", 0, 1 << 30, 0);
  if (!offset) return send_error(r, offset.error());
  Result<std::vector<assistant::Conversation>> list =
      service.store().list_conversations(*limit, *offset);
  if (!list) return send_error(r, server_error(list.message()));
  json data = json::array();
  for (const assistant::Conversation& c : *list) data.push_back(conversation_json(c));
  send_json(
      r, 200,
      {{"object", "list"}, {"data", std::move(data)}, {"limit", *limit}, {"offset", *offset}});
}

void get_conversation(ConversationService& service, const std::string& id, Responder& r) {
  Result<assistant::Conversation> c = service.store().get_conversation(id);
  if (!c) {
    return send_error(
        r, c.code() == "not_found" ? conversation_not_found(id) : server_error(c.message()));
  }
  Result<std::vector<assistant::Message>> messages = service.store().messages(id);
  if (!messages) {
    return send_error(r, messages.code() == "not_found" ? conversation_not_found(id)
                                                        : server_error(messages.message()));
  }
  json body = conversation_json(*c);
  json list = json::array();
  for (const assistant::Message& m : *messages) list.push_back(message_json(m));
  body["messages"] = std::move(list);
  send_json(r, 200, body);
}

void delete_conversation(ConversationService& service, const std::string& id, Responder& r) {
  Status s = service.store().delete_conversation(id);
  if (!s) {
    return send_error(
        r, s.code() == "not_found" ? conversation_not_found(id) : server_error(s.message()));
  }
  send_json(r, 200, {{"id", id}, {"object", "conversation.deleted"}, {"deleted", true}});
}

constexpr std::string_view kConversationPrefix = "/v1/conversations/";

}  // namespace

void run_conversation_turn(ServerState& state, OpenAiRequest request, ResponderPtr responder) {
  ConversationService* service = state.conversations();
  if (service == nullptr) return send_error(*responder, conversations_unavailable());
  if (state.shutting_down()) {
    return send_error(*responder, ApiError{503, "The server is shutting down", "server_error", "",
                                           "shutting_down"});
  }
  if (!state.model()) {
    ApiError e{503, "The model is still loading", "server_error", "", "loading"};
    e.retry_after_s = 1;
    return send_error(*responder, e);
  }
  const GenerationInput& in = request.input;

  auto job = std::make_shared<TurnJob>();
  assistant::TurnRequest& turn = job->turn;
  // The new turn is the last message; the history is the store's.
  const nlohmann::ordered_json& last = in.messages.back();
  const std::string where = "messages[" + std::to_string(in.messages.size() - 1) + "]";
  if (last.value("role", "") != "user") {
    return send_error(*responder,
                      invalid_request("with conversation_id, the last message must be the "
                                      "user's new message (earlier ones come from the store); " +
                                          where + " has role '" + last.value("role", "") + "'",
                                      where + ".role"));
  }
  std::optional<std::string> text = content_text(last["content"]);
  if (!text) {
    return send_error(*responder, invalid_request(where + ".content must be text", where));
  }
  turn.user_message = std::move(*text);

  const std::string& id = *request.conversation_id;
  if (id != "new" && !id.empty()) {
    Result<assistant::Conversation> c = service->store().get_conversation(id);
    if (!c) {
      return send_error(*responder, c.code() == "not_found" ? conversation_not_found(id)
                                                            : server_error(c.message()));
    }
    turn.conversation_id = id;
  }

  if (!in.model.empty()) {
    // A served model by its id or alias (the config name is its id), or another configured
    // model (a remote one) by its config name.
    if (auto served = state.find_model(in.model)) {
      turn.model = served->context.id;
    } else if (service->config() != nullptr && service->config()->find_model(in.model)) {
      turn.model = in.model;
    } else {
      return send_error(*responder, *unknown_model_error(state, in.model));
    }
  }
  switch (in.tool_choice) {
    case ToolChoice::kNone:
      turn.tool_use = assistant::TurnToolUse::kNone;
      break;
    case ToolChoice::kAuto:
      turn.tool_use = assistant::TurnToolUse::kAuto;
      break;
    case ToolChoice::kRequired:
      turn.tool_use = assistant::TurnToolUse::kRequired;
      break;
    case ToolChoice::kFunction:
      turn.tool_use = assistant::TurnToolUse::kRequired;
      turn.forced_tool = in.tool_name;
      break;
  }
  turn.max_tokens = in.max_tokens;
  turn.temperature = in.sampling.temperature;
  turn.seed = in.seed;

  job->state = &state;
  job->service = service;
  job->responder = responder;
  job->stream = request.stream;
  job->include_usage = request.include_usage;
  job->id = random_id("chatcmpl-");
  job->created = static_cast<int64_t>(std::time(nullptr));
  job->model_hint = turn.model.empty() ? state.model()->context.id : turn.model;

  responder->on_disconnect([job] { job->client_gone.store(true); });
  const bool queued = service->post([job](bool run) {
    try {
      job->run(run);
    } catch (const std::exception& e) {  // a bug: answer rather than lose the worker
      std::lock_guard lock(job->mutex);
      job->fail(server_error(std::string("internal error: ") + e.what()));
    }
  });
  if (!queued) {
    ApiError e{429, "The server is busy: too many conversation turns are waiting. Retry shortly.",
               "rate_limit_error", "", "queue_full"};
    e.retry_after_s = 1;
    if (state.shutting_down())
      e = ApiError{503, "The server is shutting down", "server_error", "", "shutting_down"};
    send_error(*responder, e);
  }
}

void register_conversation_routes(Router& router, ServerState& state) {
  router.add(Route{"GET", "/v1/conversations", "conversations",
                   [&state](const HttpRequest& request, ResponderPtr r) {
                     ConversationService* service = state.conversations();
                     if (service == nullptr) return send_error(*r, conversations_unavailable());
                     list_conversations(*service, request, *r);
                   }});
  auto with_id = [&state](auto fn) {
    return [&state, fn](const HttpRequest& request, ResponderPtr r) {
      ConversationService* service = state.conversations();
      if (service == nullptr) return send_error(*r, conversations_unavailable());
      const std::string id = percent_decode(request.path.substr(kConversationPrefix.size()), false);
      fn(*service, id, *r);
    };
  };
  Route get{"GET", std::string(kConversationPrefix), "conversation",
            with_id([](ConversationService& s, const std::string& id, Responder& r) {
              get_conversation(s, id, r);
            })};
  get.prefix = true;
  router.add(std::move(get));
  Route del{"DELETE", std::string(kConversationPrefix), "conversation_delete",
            with_id([](ConversationService& s, const std::string& id, Responder& r) {
              delete_conversation(s, id, r);
            })};
  del.prefix = true;
  router.add(std::move(del));
}

}  // namespace cove::server
