// cove chat: the assistant in the terminal. Reads one message per line from standard input
// (a prompt "> " only when it is a terminal, so a script can drive it), streams each reply to
// standard output, shows tool calls on standard error, and keeps every conversation in the
// store (COVE_HOME/cove.db unless the config names another), so `--resume ID` carries on where
// a conversation stopped. Slash commands: /new /model /compact /tools /memory /help /quit.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "assistant/assistant.h"
#include "assistant/assistant_setup.h"
#include "assistant/config.h"
#include "assistant/mcp_hub.h"
#include "assistant/memory.h"
#include "assistant/plugin_host.h"
#include "assistant/store.h"
#include "assistant/tools.h"
#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "server/assistant_backend.h"

namespace cove::cli {
namespace {

namespace fs = std::filesystem;

struct ChatOptions {
  std::string config_path;
  std::string model_path;
  std::string resume;
  std::string model_name;
  int64_t max_tokens = 512;
  float temperature = 0.7f;
  std::optional<uint64_t> seed;
  int n_threads = 0;
};

constexpr const char* kHelp =
    "  /new            start a new conversation\n"
    "  /model [NAME]   show the models, or answer with NAME from now on (/model auto: routing)\n"
    "  /compact        fold the older turns of this conversation into its summary now\n"
    "  /tools          list the tools the model may call\n"
    "  /memory [TEXT]  list long-term memory, or search it for TEXT\n"
    "  /help           this list\n"
    "  /quit           leave (end of input does too)\n";

// The config file, or with -m and no config file an ad-hoc one holding that model.
Result<assistant::Config> chat_config(const ChatOptions& o) {
  std::error_code ec;
  const std::string file = o.config_path.empty() ? assistant::default_config_path() : o.config_path;
  assistant::Config config;
  if (!o.config_path.empty() || (o.model_path.empty() && fs::exists(file, ec))) {
    Result<assistant::Config> loaded = assistant::load_config(file);
    if (!loaded) return loaded.error();
    config = std::move(*loaded);
  } else if (o.model_path.empty()) {
    return Error("no configuration: " + file +
                 " does not exist (run `cove init`, or pass -m MODEL.gguf or --config FILE)");
  } else {
    config.file = "(command line)";
    config.storage.database = assistant::cove_home() + "/cove.db";
  }
  if (!o.model_path.empty()) {
    if (!fs::is_regular_file(o.model_path, ec)) return Error(o.model_path + ": file not found");
    assistant::ModelConfig m;
    m.name = fs::path(o.model_path).stem().string();
    m.path = fs::absolute(o.model_path, ec).string();
    if (config.find_model(m.name) == nullptr) config.models.push_back(m);
  }
  return config;
}

// Loads local models on first use and keeps them.
class ModelCache {
 public:
  ModelCache(const assistant::Config& config, int n_threads)
      : config_(config), n_threads_(n_threads) {}

  Result<std::shared_ptr<assistant::ModelBackend>> get(const std::string& name) {
    std::lock_guard lock(mutex_);
    if (auto it = loaded_.find(name); it != loaded_.end()) return it->second;
    const assistant::ModelConfig* m = config_.find_model(name);
    if (m == nullptr) return Error("unknown model '" + name + "'");
    if (m->kind != assistant::ModelConfig::Kind::kLocal) {
      return Error("model '" + name + "': remote endpoints are not supported by cove chat yet");
    }
    server::LocalModelOptions options;
    options.path = m->path;
    options.id = name;
    options.n_ctx = m->context;
    options.n_threads = n_threads_;
    Result<std::unique_ptr<server::LocalModel>> local = server::load_local_model(options);
    if (!local) return local.error();
    std::shared_ptr<assistant::ModelBackend> backend =
        server::make_local_backend(name, std::shared_ptr<server::LocalModel>(std::move(*local)));
    loaded_[name] = backend;
    return backend;
  }

 private:
  const assistant::Config& config_;
  int n_threads_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<assistant::ModelBackend>> loaded_;
};

// Ctrl-C at a terminal: cancels the reply being streamed; at the prompt it ends the chat.
std::atomic<bool> interrupted{false};

void on_interrupt(int) { interrupted.store(true); }

void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a read at the prompt returns, and the chat ends
  sigaction(SIGINT, &action, nullptr);
}

std::string one_line(std::string text, size_t max = 160) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.size() > max) text = text.substr(0, max) + "...";
  return text;
}

int chat(const ChatOptions& o) {
  Result<assistant::Config> config = chat_config(o);
  if (!config) return fail(config.message());
  if (!o.model_name.empty() && config->find_model(o.model_name) == nullptr) {
    return fail("unknown model '" + o.model_name + "'");
  }
  std::error_code ec;
  fs::create_directories(fs::path(config->storage.database).parent_path(), ec);
  Result<std::unique_ptr<assistant::Store>> store = assistant::Store::open(config->storage.database);
  if (!store) return fail(store.message());
  assistant::Memory memory((*store)->database());

  assistant::ToolRegistry tools;
  if (Status s = assistant::register_configured_tools(tools, *config, **store, memory); !s) {
    return fail(s.message());
  }
  assistant::PluginHost plugins(tools, [](const assistant::PluginReport& r) {
    if (r.is_error) std::fprintf(stderr, "cove: plugin %s: %s: %s\n", r.plugin.c_str(), r.hook.c_str(), r.message.c_str());
  });
  for (const assistant::PluginConfig& p : config->plugins) {
    if (!p.enabled) continue;
    if (Result<std::string> name = plugins.load(p.path); !name) {
      std::fprintf(stderr, "cove: plugin %s not loaded: %s\n", p.path.c_str(), name.message().c_str());
    }
  }
  assistant::McpHub mcp;
  for (const assistant::McpServerConfig& server : config->mcp_servers) {
    if (!server.enabled) continue;
    if (Status s = mcp.add_server(assistant::mcp_client_config_from(server, assistant::cove_home()));
        !s) {
      std::fprintf(stderr, "cove: MCP server %s: %s\n", server.name.c_str(), s.message().c_str());
    }
  }
  mcp.attach(tools);

  ModelCache models(*config, o.n_threads);
  assistant::AssistantParts parts;
  parts.config = &*config;
  parts.store = store->get();
  parts.memory = &memory;
  parts.tools = &tools;
  parts.plugins = &plugins;
  parts.models = [&models](const std::string& name) { return models.get(name); };
  assistant::Assistant assistant(std::move(parts));

  std::string conversation = o.resume;
  if (!conversation.empty()) {
    Result<assistant::Conversation> found = (*store)->get_conversation(conversation);
    if (!found) return fail(found.message());
    std::fprintf(stderr, "conversation %s (resumed, %lld messages)\n", conversation.c_str(),
                 static_cast<long long>(found->message_count));
    if (::isatty(STDIN_FILENO) != 0) {  // where it stopped: the last exchange
      Result<std::vector<assistant::Message>> history = (*store)->messages(conversation);
      if (history) {
        size_t from = history->size();
        int users = 0;
        while (from > 0 && users < 1) users += (*history)[--from].role == "user" ? 1 : 0;
        for (size_t i = from; i < history->size(); ++i) {
          const assistant::Message& m = (*history)[i];
          if (m.role == "tool" || (m.role == "assistant" && m.content.empty())) continue;
          std::fprintf(stderr, "%s %s\n", m.role == "user" ? ">" : " ", one_line(m.content, 300).c_str());
        }
      }
    }
  } else {
    Result<assistant::Conversation> created = (*store)->create_conversation();
    if (!created) return fail(created.message());
    conversation = created->id;
    std::fprintf(stderr, "conversation %s\n", conversation.c_str());
  }
  std::string model = o.model_name;
  if (model.empty() && !o.model_path.empty()) model = fs::path(o.model_path).stem().string();

  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  if (interactive) {
    catch_interrupts();
    std::fprintf(stderr, "type /help for commands; Ctrl-C stops a reply, Ctrl-D leaves\n");
  }
  std::string line;
  for (;;) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;

    if (line[0] == '/') {
      const size_t space = line.find(' ');
      const std::string command = line.substr(0, space);
      std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
      arg.erase(0, arg.find_first_not_of(" \t"));
      if (command == "/quit" || command == "/exit") break;
      if (command == "/help") {
        std::fputs(kHelp, stdout);
      } else if (command == "/new") {
        Result<assistant::Conversation> created = (*store)->create_conversation();
        if (!created) {
          std::fprintf(stderr, "error: %s\n", created.message().c_str());
          continue;
        }
        conversation = created->id;
        std::fprintf(stderr, "conversation %s\n", conversation.c_str());
      } else if (command == "/model") {
        if (arg.empty()) {
          for (const assistant::ModelConfig& m : config->models) {
            std::printf("%s %s (tool calls: %s)\n", m.name == model ? "*" : " ", m.name.c_str(),
                        assistant::tool_calls_name(m.tool_calls));
          }
          if (model.empty()) std::printf("(routing chooses per message)\n");
        } else if (arg == "auto") {
          model.clear();
          std::printf("routing chooses the model per message\n");
        } else if (config->find_model(arg) == nullptr) {
          std::fprintf(stderr, "error: unknown model '%s'\n", arg.c_str());
        } else {
          model = arg;
          std::printf("model: %s\n", model.c_str());
        }
      } else if (command == "/compact") {
        Result<std::optional<assistant::CompactionEvent>> event =
            assistant.compact_now(conversation, model);
        if (!event) {
          std::fprintf(stderr, "error: %s\n", event.message().c_str());
        } else if (!*event) {
          std::printf("nothing to compact\n");
        } else {
          std::printf("compacted %lld messages into the summary (%lld notes saved)\n",
                      static_cast<long long>((*event)->messages),
                      static_cast<long long>((*event)->notes_saved));
        }
      } else if (command == "/tools") {
        for (const assistant::ToolSpec& spec : tools.specs()) {
          std::printf("%-22s %s\n", spec.name.c_str(), one_line(spec.description, 100).c_str());
        }
      } else if (command == "/memory") {
        if (arg.empty()) {
          Result<std::vector<assistant::MemoryEntry>> entries = memory.list(20);
          if (!entries) {
            std::fprintf(stderr, "error: %s\n", entries.message().c_str());
            continue;
          }
          if (entries->empty()) std::printf("(no memory entries)\n");
          for (const auto& e : *entries) std::printf("%6lld  %s\n", static_cast<long long>(e.id), e.content.c_str());
        } else {
          Result<std::vector<assistant::MemoryHit>> hits = memory.search(arg, 10);
          if (!hits) {
            std::fprintf(stderr, "error: %s\n", hits.message().c_str());
            continue;
          }
          if (hits->empty()) std::printf("(nothing found)\n");
          for (const auto& h : *hits) std::printf("%6lld  %s\n", static_cast<long long>(h.entry.id), h.entry.content.c_str());
        }
      } else {
        std::fprintf(stderr, "error: unknown command %s (/help lists them)\n", command.c_str());
      }
      std::fflush(stdout);
      continue;
    }

    assistant::TurnRequest request;
    request.conversation_id = conversation;
    request.user_message = line;
    request.model = model;
    request.max_tokens = o.max_tokens;
    request.temperature = o.temperature;
    request.seed = o.seed;
    assistant::TurnEvents events;
    bool wrote = false;
    interrupted.store(false);
    events.on_text = [&wrote](std::string_view piece) {
      if (interrupted.load()) return false;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      wrote = wrote || !piece.empty();
      return true;
    };
    events.on_tool = [](const assistant::ToolLogEntry& call) {
      std::fprintf(stderr, "[tool] %s(%s) -> %s: %s\n", call.tool.c_str(),
                   one_line(assistant::dump_json_lenient(call.arguments), 120).c_str(),
                   std::string(assistant::outcome_name(call.outcome)).c_str(),
                   one_line(call.result.text).c_str());
    };
    Result<assistant::TurnResult> turn = assistant.run_turn(request, events);
    if (!turn) {
      std::fprintf(stderr, "error: %s\n", turn.message().c_str());
      continue;
    }
    if (!wrote) std::fputs(turn->reply.content.c_str(), stdout);
    std::fputs("\n", stdout);
    if (turn->cancelled) std::fprintf(stderr, "(stopped)\n");
    interrupted.store(false);
    std::fflush(stdout);
  }
  mcp.shutdown();
  return 0;
}

}  // namespace

Command add_chat_command(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  auto seed = std::make_shared<uint64_t>(0);
  CLI::App* sub = app.add_subcommand("chat", "Chat with the assistant in the terminal");
  sub->add_option("--config", o->config_path, "Config file (default: COVE_HOME/config.yaml)");
  sub->add_option("-m,--model-file", o->model_path,
                  "A GGUF model to chat with (without a config file: the only model)");
  sub->add_option("--resume", o->resume, "Continue the conversation with this id");
  sub->add_option("--model", o->model_name, "Answer with this configured model (default: routing)");
  sub->add_option("--max-tokens", o->max_tokens, "Most tokens per model step (default 512)");
  sub->add_option("--temp", o->temperature, "Sampling temperature (default 0.7)");
  CLI::Option* seed_option = sub->add_option("--seed", *seed, "Sampling seed (default: random)");
  sub->add_option("-t,--threads", o->n_threads, "Threads (default: physical cores)");
  return [o, seed, seed_option]() {
    if (seed_option->count() > 0) o->seed = *seed;
    return chat(*o);
  };
}

}  // namespace cove::cli
