// cove memory list|search|save|forget: the assistant's long-term memory from the command line.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "assistant/config.h"
#include "assistant/memory.h"
#include "assistant/store.h"
#include "cli/commands.h"
#include "cli/loaded_model.h"

namespace cove::cli {

namespace {

// The database the config names; COVE_HOME/cove.db when there is no config file at all.
Result<std::string> database_path(const std::string& config_path) {
  std::error_code ec;
  const std::string file = config_path.empty() ? assistant::default_config_path() : config_path;
  if (config_path.empty() && !std::filesystem::exists(file, ec)) {
    return assistant::cove_home() + "/cove.db";
  }
  Result<assistant::Config> config = assistant::load_config(file);
  if (!config) return config.error();
  return config->storage.database;
}

std::string format_time(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
  return buf;
}

void print_entry(const assistant::MemoryEntry& e, const std::string& extra = "") {
  std::printf("%6lld  %s  %s%s%s\n", static_cast<long long>(e.id),
              format_time(e.created_at_ms).c_str(), e.content.c_str(),
              e.tags.empty() ? "" : ("  [" + e.tags + "]").c_str(), extra.c_str());
}

}  // namespace

Command add_memory_command(CLI::App& app) {
  struct Options {
    std::string config_path;
    std::string query;
    std::string text;
    std::string tags;
    int64_t id = 0;
    int limit = 50;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("memory", "List, search, save or forget long-term memory");
  sub->require_subcommand(1);
  sub->add_option("--config", o->config_path, "Config file (default: COVE_HOME/config.yaml)");
  CLI::App* list = sub->add_subcommand("list", "Every entry, newest first");
  list->add_option("-n,--limit", o->limit, "At most this many")->check(CLI::PositiveNumber);
  CLI::App* search = sub->add_subcommand("search", "Entries relevant to a query, best first");
  search->add_option("query", o->query, "What to look for")->required();
  search->add_option("-n,--limit", o->limit, "At most this many")->check(CLI::PositiveNumber);
  CLI::App* save = sub->add_subcommand("save", "Save a note");
  save->add_option("text", o->text, "The note")->required();
  save->add_option("--tags", o->tags, "Words that also find it");
  CLI::App* forget = sub->add_subcommand("forget", "Delete an entry by id");
  forget->add_option("id", o->id, "The entry's id (from list or search)")->required();
  return [o, list, search, save, forget]() {
    Result<std::string> db_path = database_path(o->config_path);
    if (!db_path) return fail(db_path.message());
    Result<std::unique_ptr<assistant::Store>> store = assistant::Store::open(*db_path);
    if (!store) return fail(store.message());
    assistant::Memory memory((*store)->database());
    if (list->parsed()) {
      Result<std::vector<assistant::MemoryEntry>> entries = memory.list(o->limit);
      if (!entries) return fail(entries.message());
      if (entries->empty()) std::printf("(no memory entries)\n");
      for (const assistant::MemoryEntry& e : *entries) print_entry(e);
    } else if (search->parsed()) {
      Result<std::vector<assistant::MemoryHit>> hits = memory.search(o->query, o->limit);
      if (!hits) return fail(hits.message());
      if (hits->empty()) std::printf("(nothing found)\n");
      for (const assistant::MemoryHit& h : *hits) {
        char score[32];
        std::snprintf(score, sizeof(score), "  (score %.2f)", h.score);
        print_entry(h.entry, score);
      }
    } else if (save->parsed()) {
      Result<assistant::MemoryEntry> e = memory.save(o->text, o->tags, "cli");
      if (!e) return fail(e.message());
      std::printf("saved %lld\n", static_cast<long long>(e->id));
    } else if (forget->parsed()) {
      Status s = memory.forget(o->id);
      if (!s) return fail(s.message());
      std::printf("forgot %lld\n", static_cast<long long>(o->id));
    }
    return 0;
  };
}

}  // namespace cove::cli
