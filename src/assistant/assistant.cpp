// The assistant loop (assistant.h): store the user message, route, build the prompt, run model
// steps and tool calls until the model answers, store everything on the way.
#include "assistant/assistant.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "assistant/plugin_host.h"
#include "assistant/router.h"
#include "assistant/tool_memory.h"
#include "core/random_id.h"

namespace cove::assistant {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kSummaryInstruction =
    "You write the running summary of a conversation between a user and an assistant. Fold the "
    "previous summary and the new turns below into one short summary (at most 150 words). Keep "
    "names, numbers, facts, decisions and open questions; leave out greetings. Write only the "
    "summary.";
constexpr const char* kNotesInstruction =
    "Below are turns of a conversation. List the durable facts about the user worth remembering "
    "in later conversations (preferences, names, plans), one per line, each line starting with "
    "\"NOTE: \". Write nothing else; write \"NONE\" when there are none.";
constexpr int64_t kSummaryMaxTokens = 200;
constexpr int64_t kNotesMaxTokens = 120;
constexpr int64_t kMinPromptTokens = 64;  // less room than this for the prompt is an error
constexpr size_t kTranscriptMessageChars = 600;  // each folded message's share of the transcript
constexpr auto kFailedModelRetry = std::chrono::seconds(30);

std::string cut(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t at = max;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return text.substr(0, at) + "...";
}

// The turns as plain text for a summarization step, the newest kept when it must be cut to
// `max_tokens`.
std::string transcript(const std::vector<Message>& turns, const ModelBackend& model,
                       int64_t max_tokens) {
  std::vector<std::string> lines;
  for (const Message& m : turns) {
    std::string who = m.role;
    if (m.role == "tool") who = "tool " + m.name + " result";
    std::string text = m.content;
    if (!m.tool_calls.empty()) text += (text.empty() ? "" : " ") + ("[calls " + m.tool_calls + "]");
    lines.push_back(who + ": " + cut(text, kTranscriptMessageChars));
  }
  std::string out;
  int64_t used = 0;
  size_t first = lines.size();
  while (first > 0) {
    const int64_t n = model.count_tokens(lines[first - 1]) + 1;
    if (used + n > max_tokens) break;
    used += n;
    --first;
  }
  for (size_t i = first; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

// The OpenAI tool_calls array of an assistant message.
nlohmann::ordered_json tool_calls_json(const std::vector<StepToolCall>& calls) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const StepToolCall& c : calls) {
    out.push_back({{"id", c.id},
                   {"type", "function"},
                   {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  }
  return out;
}

}  // namespace

struct Assistant::Impl {
  explicit Impl(AssistantParts p) : parts(std::move(p)) {}

  AssistantParts parts;
  std::atomic<int64_t> compactions{0};

  std::mutex mutex;  // guards the maps below
  std::map<std::string, std::weak_ptr<std::mutex>> conversation_locks;
  std::map<std::string, int> active;                    // turns in flight per model
  std::map<std::string, Clock::time_point> failed_at;   // models whose resolver failed
  std::map<std::string, std::shared_ptr<ContextManager>> contexts;  // by model and budget
  std::set<std::string> noted;                                      // see note_once

  // Per-thread: the turn whose tool calls are running here (gets their log entries).
  static thread_local std::vector<ToolLogEntry>* turn_log;

  std::shared_ptr<std::mutex> lock_for(const std::string& conversation_id) {
    std::lock_guard lock(mutex);
    std::shared_ptr<std::mutex> m = conversation_locks[conversation_id].lock();
    if (!m) {
      m = std::make_shared<std::mutex>();
      conversation_locks[conversation_id] = m;
    }
    for (auto it = conversation_locks.begin(); it != conversation_locks.end();) {
      it = it->second.expired() ? conversation_locks.erase(it) : std::next(it);
    }
    return m;
  }

  ModelLoads loads() {
    std::lock_guard lock(mutex);
    ModelLoads out;
    for (const auto& [name, n] : active) out[name].active = n;
    const Clock::time_point now = Clock::now();
    for (const auto& [name, at] : failed_at) {
      if (now - at < kFailedModelRetry) {
        out[name].failed = true;
        out[name].error = "could not be loaded a moment ago";
      }
    }
    return out;
  }

  // Routes and resolves: the chosen model, or the first of its fallbacks that resolves.
  struct Chosen {
    std::shared_ptr<ModelBackend> backend;
    const ModelConfig* config = nullptr;
    std::string route;
    std::vector<std::string> fallbacks;  // the candidates after this one, in order
  };
  Result<Chosen> choose(const std::string& text, const std::string& explicit_model,
                        bool tools_offered) {
    if (!parts.models) return Error("no model resolver configured", "no_model_available");
    Result<RouteDecision> decision =
        route(extract_features(text, explicit_model, tools_offered), *parts.config, loads());
    if (!decision) return decision.error();
    std::vector<std::string> candidates = {decision->model};
    candidates.insert(candidates.end(), decision->fallbacks.begin(), decision->fallbacks.end());
    std::string reasons;
    for (const std::string& r : decision->reasons) reasons += (reasons.empty() ? "" : "; ") + r;
    return resolve_first(candidates, reasons);
  }

  void mark_failed(const std::string& name) {
    std::lock_guard lock(mutex);
    failed_at[name] = Clock::now();
  }

  // The first of `candidates` the resolver can give; the others stay as fallbacks.
  Result<Chosen> resolve_first(const std::vector<std::string>& candidates, std::string reasons) {
    std::string why;
    for (size_t i = 0; i < candidates.size(); ++i) {
      const std::string& name = candidates[i];
      Result<std::shared_ptr<ModelBackend>> backend = parts.models(name);
      if (backend && *backend) {
        if (i > 0) reasons += "; '" + candidates[0] + "' failed, using '" + name + "'";
        return Chosen{*backend, parts.config->find_model(name), reasons,
                      std::vector<std::string>(candidates.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                               candidates.end())};
      }
      const std::string message = backend ? "no backend" : backend.message();
      why += (why.empty() ? "" : "; ") + name + ": " + message;
      mark_failed(name);
    }
    return Error("no model available (" + why + ")", "no_model_available");
  }

  Result<std::string> summarize_with(ModelBackend& model, const std::string& previous,
                                     const std::vector<Message>& turns) {
    StepRequest step;
    const int64_t room = std::max<int64_t>(
        64, model.context_tokens() - kSummaryMaxTokens - model.count_tokens(kSummaryInstruction) -
                model.count_tokens(previous) - 64);
    std::string user = previous.empty() ? "" : "Previous summary:\n" + previous + "\n\n";
    user += "New turns:\n" + transcript(turns, model, room);
    step.messages.push_back({{"role", "system"}, {"content", kSummaryInstruction}});
    step.messages.push_back({{"role", "user"}, {"content", user}});
    step.max_tokens = kSummaryMaxTokens;
    step.temperature = 0.2f;
    step.seed = 0;
    Result<StepResult> out = model.generate(step, nullptr);
    if (!out) return out.error();
    std::string text = out->text;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text.empty()) return Error("the summarization step returned no text");
    return text;
  }

  Result<std::vector<std::string>> notes_with(ModelBackend& model,
                                              const std::vector<Message>& turns) {
    StepRequest step;
    const int64_t room = std::max<int64_t>(
        64, model.context_tokens() - kNotesMaxTokens - model.count_tokens(kNotesInstruction) - 64);
    step.messages.push_back({{"role", "system"}, {"content", kNotesInstruction}});
    step.messages.push_back({{"role", "user"}, {"content", transcript(turns, model, room)}});
    step.max_tokens = kNotesMaxTokens;
    step.temperature = 0.2f;
    step.seed = 0;
    Result<StepResult> out = model.generate(step, nullptr);
    if (!out) return out.error();
    std::vector<std::string> notes;
    std::istringstream lines(out->text);
    std::string line;
    while (std::getline(lines, line)) {
      const size_t at = line.find("NOTE:");
      if (at == std::string::npos || line.find_first_not_of(" \t-*") != at) continue;
      std::string note = line.substr(at + 5);
      note.erase(0, note.find_first_not_of(" \t"));
      while (!note.empty() && std::isspace(static_cast<unsigned char>(note.back()))) note.pop_back();
      if (!note.empty()) notes.push_back(cut(note, 500));
    }
    return notes;
  }

  // The prompt's budget: the context minus the reply's reserve and the tool list. Errors
  // ("context_overflow") when the tool list leaves no useful room.
  Result<int64_t> prompt_budget(const ModelBackend& model, int64_t reply_tokens,
                                int64_t tools_tokens) const {
    const int64_t context = model.context_tokens();
    int64_t reserve = reply_tokens > 0 ? reply_tokens : parts.config->context.reply_reserve;
    reserve = std::min(reserve, context / 2);
    const int64_t budget = context - reserve - tools_tokens;
    if (budget < kMinPromptTokens) {
      return Error("the tool descriptions take " + std::to_string(tools_tokens) + " tokens of the " +
                       std::to_string(context) + "-token context of model '" + model.name() +
                       "', leaving no room for the conversation (" +
                       std::to_string(reserve) + " kept for the reply); enable fewer tools or "
                       "use a larger context",
                   "context_overflow");
    }
    return budget;
  }

  // One context manager per model and budget, kept (its compaction count and log lines run on).
  std::shared_ptr<ContextManager> context_for(const std::shared_ptr<ModelBackend>& model,
                                              int64_t budget) {
    std::lock_guard lock(mutex);
    const std::string key = model->name() + "\n" + std::to_string(budget);
    if (contexts.size() >= 32 && contexts.count(key) == 0) contexts.clear();  // turns keep theirs
    std::shared_ptr<ContextManager>& slot = contexts[key];
    if (!slot) slot = make_context(model, budget);
    return slot;
  }

  std::unique_ptr<ContextManager> make_context(const std::shared_ptr<ModelBackend>& model,
                                               int64_t budget) {
    const Config& config = *parts.config;
    ContextOptions options;
    options.system_prompt = config.context.system_prompt;
    options.memory_results = config.context.memory_results;
    options.budget_tokens = budget;
    TokenCounter count = [model](std::string_view text) { return model->count_tokens(text); };
    Summarizer summarize = parts.summarize;
    if (!summarize) {
      summarize = [this, model](const std::string& previous, const std::vector<Message>& turns) {
        return summarize_with(*model, previous, turns);
      };
    }
    NotesHook notes = parts.notes;
    if (!notes) {
      notes = [this, model](const std::vector<Message>& turns) { return notes_with(*model, turns); };
    }
    return std::make_unique<ContextManager>(*parts.store, *parts.memory, options, std::move(count),
                                            std::move(summarize), std::move(notes));
  }

  Result<Message> store(const std::string& conversation_id, Message m, const TurnEvents& events,
                        TurnResult& result) {
    Result<Message> stored = parts.store->append_message(conversation_id, std::move(m));
    if (!stored) return stored;
    result.messages.push_back(*stored);
    if (events.on_stored) events.on_stored(*stored);
    return stored;
  }

  Result<TurnResult> run_turn(const TurnRequest& request, const TurnEvents& events);

  // True the first time `key` is seen (for notes that would repeat every turn).
  bool note_once(const std::string& key) {
    std::lock_guard lock(mutex);
    return noted.insert(key).second;
  }

  void log(const std::string& line) const {
    if (parts.log) {
      parts.log(line);
    } else {
      std::fprintf(stderr, "cove: assistant: %s\n", line.c_str());
    }
  }
};

thread_local std::vector<ToolLogEntry>* Assistant::Impl::turn_log = nullptr;

Result<TurnResult> Assistant::Impl::run_turn(const TurnRequest& request,
                                             const TurnEvents& events) {
  const Config& config = *parts.config;
  if (request.user_message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error("the message is empty", "bad_request");
  }
  TurnResult result;
  result.conversation_id = request.conversation_id;
  if (result.conversation_id.empty()) {
    Result<Conversation> created = parts.store->create_conversation();
    if (!created) return created.error();
    result.conversation_id = created->id;
  } else if (Result<Conversation> found = parts.store->get_conversation(request.conversation_id);
             !found) {
    return found.error();
  }
  const std::string& conversation_id = result.conversation_id;
  std::shared_ptr<std::mutex> conversation_lock = lock_for(conversation_id);
  std::lock_guard turn_lock(*conversation_lock);

  // 1. The user message, durably.
  Message user;
  user.role = "user";
  user.content = request.user_message;
  if (Result<Message> s = store(conversation_id, std::move(user), events, result); !s) {
    return s.error();
  }

  // 2. The model, and what follows from it: the tools it is offered, the prompt's budget.
  const bool tools_available = request.tool_use != TurnToolUse::kNone && !parts.tools->specs().empty();
  Result<Chosen> chosen = choose(request.user_message, request.model, tools_available);
  if (!chosen) return chosen.error();
  std::shared_ptr<ModelBackend> model;
  ModelConfig::ToolCalls model_mode = ModelConfig::ToolCalls::kAuto;
  bool offer_tools = false;
  nlohmann::ordered_json tools;
  std::shared_ptr<ContextManager> context;
  struct Active {  // counts this turn against its model's load while it runs
    Impl* impl;
    std::string name;
    void set(const std::string& next) {
      std::lock_guard lock(impl->mutex);
      if (!name.empty() && --impl->active[name] <= 0) impl->active.erase(name);
      name = next;
      if (!name.empty()) ++impl->active[name];
    }
    ~Active() { set(""); }
  } active_model{this, ""};
  auto use = [&](const Chosen& c) -> Status {
    model = c.backend;
    model_mode = c.config ? c.config->tool_calls : ModelConfig::ToolCalls::kAuto;
    result.model = model->name();
    result.route = c.route;
    active_model.set(result.model);
    // Tools the model may see: none when the turn or the model's config says so.
    offer_tools = tools_available && (model_mode != ModelConfig::ToolCalls::kOff ||
                                      request.tool_use == TurnToolUse::kRequired);
    tools = offer_tools ? parts.tools->openai_tools() : nlohmann::ordered_json();
    const int64_t tools_tokens = offer_tools ? model->count_tokens(tools.dump()) : 0;
    Result<int64_t> budget = prompt_budget(*model, request.max_tokens, tools_tokens);
    if (!budget && offer_tools && request.tool_use != TurnToolUse::kRequired) {
      // The tool list does not fit this model's context: answer without tools, and say so.
      if (note_once("tools-do-not-fit\n" + model->name() + "\n" + std::to_string(tools_tokens))) {
        log("tools not offered to '" + model->name() + "': " + budget.message());
      }
      offer_tools = false;
      tools = nullptr;
      budget = prompt_budget(*model, request.max_tokens, 0);
    }
    if (!budget) return budget.status();
    context = context_for(model, *budget);
    return Status::ok();
  };
  if (Status s = use(*chosen); !s) return Error(s.message(), s.code());
  std::vector<std::string> fallbacks = chosen->fallbacks;
  const int max_steps = std::max(1, config.tools.max_steps);

  int tool_steps = 0;
  for (;;) {
    // 3. The prompt.
    Result<BuiltPrompt> prompt = context->build(conversation_id);
    if (!prompt) return prompt.error();
    compactions += static_cast<int64_t>(prompt->compactions.size());
    nlohmann::ordered_json messages = std::move(prompt->messages);
    if (parts.plugins != nullptr) {
      nlohmann::json hooked = parts.plugins->before_prompt(nlohmann::json(messages));
      messages = nlohmann::ordered_json(hooked);
    }

    // 4. One step.
    StepRequest step;
    step.messages = std::move(messages);
    step.max_tokens = request.max_tokens;
    step.temperature = request.temperature;
    step.seed = request.seed;
    const bool first = tool_steps == 0;
    if (offer_tools && tool_steps < max_steps) {
      step.tools = tools;
      if (first && request.tool_use == TurnToolUse::kRequired) {
        step.tool_mode = StepToolMode::kForced;
        step.forced_tool = request.forced_tool;
      } else if (model_mode == ModelConfig::ToolCalls::kForced) {
        step.tool_mode = first ? StepToolMode::kForced : StepToolMode::kNone;
      } else {
        step.tool_mode = StepToolMode::kAuto;
      }
      if (step.tool_mode == StepToolMode::kNone) step.tools = nullptr;
    }
    bool cancelled = false;
    StepTextSink sink = [&](std::string_view piece) {
      if (!events.on_text) return true;
      if (!events.on_text(piece)) cancelled = true;
      return !cancelled;
    };
    Result<StepResult> out = model->generate(step, sink);
    if (!out && result.steps == 0 && !fallbacks.empty() && out.code() != "context_overflow" &&
        out.code() != "bad_request") {
      // The model failed before it did anything: the router's next candidate takes the turn.
      log("model '" + model->name() + "' failed (" + out.message() + "); falling back");
      mark_failed(model->name());
      Result<Chosen> next = resolve_first(fallbacks, result.route + "; '" + model->name() +
                                                         "' failed during generation");
      if (!next) return out.error();
      fallbacks = next->fallbacks;
      if (Status s = use(*next); !s) return Error(s.message(), s.code());
      continue;
    }
    if (!out) return out.error();
    ++result.steps;
    result.prompt_tokens += out->prompt_tokens;
    result.completion_tokens += out->completion_tokens;
    cancelled = cancelled || out->finish_reason == "cancelled";

    // 5. Tool calls: store the call, run each, store each result, go again.
    if (!out->tool_calls.empty() && !cancelled) {
      for (StepToolCall& call : out->tool_calls) {
        if (call.id.empty()) call.id = random_id("call_");
      }
      Message assistant;
      assistant.role = "assistant";
      assistant.content = out->text;
      assistant.tool_calls = tool_calls_json(out->tool_calls).dump();
      assistant.model = model->name();
      assistant.prompt_tokens = out->prompt_tokens;
      assistant.completion_tokens = out->completion_tokens;
      if (Result<Message> s = store(conversation_id, std::move(assistant), events, result); !s) {
        return s.error();
      }
      for (const StepToolCall& call : out->tool_calls) {
        std::vector<ToolLogEntry> log;
        ToolResult answer;
        {
          ConversationScope scope(conversation_id);
          turn_log = &log;
          answer = parts.tools->call_json(call.name, call.arguments, call.id);
          turn_log = nullptr;
        }
        Message tool;
        tool.role = "tool";
        tool.content = answer.is_error ? "error: " + answer.text : answer.text;
        tool.tool_call_id = call.id;
        tool.name = call.name;
        if (Result<Message> s = store(conversation_id, std::move(tool), events, result); !s) {
          return s.error();
        }
        if (events.on_tool) {
          if (log.empty()) {  // (the registry always logs; keep the event whatever happens)
            ToolLogEntry entry;
            entry.call_id = call.id;
            entry.tool = call.name;
            entry.arguments = call.arguments;
            entry.outcome = answer.is_error ? ToolOutcome::kToolError : ToolOutcome::kOk;
            entry.result = answer;
            log.push_back(std::move(entry));
          }
          for (const ToolLogEntry& entry : log) events.on_tool(entry);
        }
      }
      ++tool_steps;
      continue;
    }

    // 6. The answer.
    Message reply;
    reply.role = "assistant";
    reply.content = out->text;
    if (cancelled) {
      reply.content += " [cut short]";
    } else if (parts.plugins != nullptr) {
      reply.content = parts.plugins->after_reply(reply.content);
    }
    reply.model = model->name();
    reply.prompt_tokens = out->prompt_tokens;
    reply.completion_tokens = out->completion_tokens;
    Result<Message> stored = store(conversation_id, std::move(reply), events, result);
    if (!stored) return stored.error();
    result.reply = *stored;
    result.cancelled = cancelled;
    result.finish_reason = cancelled ? "cancelled" : out->finish_reason == "length" ? "length" : "stop";
    return result;
  }
}

Assistant::Assistant(AssistantParts parts) : impl_(std::make_unique<Impl>(std::move(parts))) {
  Impl* impl = impl_.get();
  impl->parts.tools->set_log_sink([impl](const ToolLogEntry& entry) {
    if (Impl::turn_log != nullptr) Impl::turn_log->push_back(entry);
    if (impl->parts.tool_log) impl->parts.tool_log(entry);
  });
}

Assistant::~Assistant() { impl_->parts.tools->set_log_sink(nullptr); }

Result<TurnResult> Assistant::run_turn(const TurnRequest& request, const TurnEvents& events) {
  return impl_->run_turn(request, events);
}

Result<std::optional<CompactionEvent>> Assistant::compact_now(const std::string& conversation_id,
                                                              const std::string& model_name) {
  Impl& impl = *impl_;
  if (Result<Conversation> found = impl.parts.store->get_conversation(conversation_id); !found) {
    return found.error();
  }
  std::shared_ptr<std::mutex> conversation_lock = impl.lock_for(conversation_id);
  std::lock_guard turn_lock(*conversation_lock);
  Result<std::optional<Summary>> previous = impl.parts.store->latest_summary(conversation_id);
  if (!previous) return previous.error();
  const int64_t through = *previous ? (*previous)->through_seq : 0;
  Result<std::vector<Message>> messages = impl.parts.store->messages(conversation_id, through);
  if (!messages) return messages.error();
  // Everything before the latest turn.
  size_t end = messages->size();
  while (end > 0 && (*messages)[end - 1].role != "user") --end;
  if (end > 0) --end;
  if (end == 0) return std::optional<CompactionEvent>();
  std::vector<Message> turns(messages->begin(), messages->begin() + static_cast<std::ptrdiff_t>(end));

  Result<Impl::Chosen> chosen = impl.choose("", model_name, false);
  if (!chosen) return chosen.error();
  ModelBackend& model = *chosen->backend;
  CompactionEvent event;
  event.conversation_id = conversation_id;
  event.through_seq = turns.back().seq;
  event.messages = static_cast<int64_t>(turns.size());
  for (const Message& m : turns) event.tokens_folded += model.count_tokens(m.content + m.tool_calls);

  Result<std::vector<std::string>> notes =
      impl.parts.notes ? impl.parts.notes(turns) : impl.notes_with(model, turns);
  if (notes) {
    for (const std::string& note : *notes) {
      if (impl.parts.memory->save(note, "", "conversation " + conversation_id)) ++event.notes_saved;
    }
  }
  const std::string previous_text = *previous ? (*previous)->text : "";
  Result<std::string> summary = impl.parts.summarize
                                    ? impl.parts.summarize(previous_text, turns)
                                    : impl.summarize_with(model, previous_text, turns);
  if (!summary) return Error("compaction failed: " + summary.message());
  if (Status s = impl.parts.store->save_summary(conversation_id, event.through_seq, *summary); !s) {
    return Error(s.message(), s.code());
  }
  event.summary_tokens = model.count_tokens(*summary);
  ++impl.compactions;
  return std::optional<CompactionEvent>(event);
}

Status Assistant::compact(const std::string& conversation_id) {
  Result<std::optional<CompactionEvent>> event = compact_now(conversation_id);
  return event ? Status::ok() : event.status();
}

int64_t Assistant::compactions() const { return impl_->compactions.load(); }

}  // namespace cove::assistant
