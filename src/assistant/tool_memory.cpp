// memory_save, memory_search and conversation_search (tool_memory.h).
#include "assistant/tool_memory.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace cove::assistant {
namespace {

// The innermost ConversationScope's id on this thread (a pointer, so no heap memory hangs off
// thread-local storage).
thread_local const std::string* current_scope = nullptr;

const std::string& current_conversation_id() {
  static const std::string kNone;
  return current_scope != nullptr ? *current_scope : kNone;
}

int limit_from(const nlohmann::json& arguments, int max_results) {
  int limit = max_results;
  if (auto it = arguments.find("limit"); it != arguments.end() && it->is_number_integer()) {
    limit = static_cast<int>(std::clamp<int64_t>(it->get<int64_t>(), 1, max_results));
  }
  return limit;
}

std::string string_argument(const nlohmann::json& arguments, const char* key) {
  auto it = arguments.find(key);
  return it != arguments.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One line of text, at most `max` bytes (cut at a character boundary).
std::string one_line(std::string text, size_t max = 400) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

ToolDefinition make_memory_save_tool(Memory* memory) {
  ToolDefinition tool;
  tool.spec.name = "memory_save";
  tool.spec.description =
      "Save a short note to long-term memory (facts about the user, preferences, decisions) so "
      "it can be found in later conversations.";
  tool.spec.parameters = {
      {"type", "object"},
      {"properties",
       {{"content", {{"type", "string"}, {"description", "The note, one or two sentences"}}},
        {"tags", {{"type", "string"}, {"description", "Extra words that should find it"}}}}},
      {"required", {"content"}}};
  tool.handler = [memory](const nlohmann::json& arguments) {
    const std::string& current = current_conversation_id();
    const std::string source = current.empty() ? "assistant" : "conversation " + current;
    Result<MemoryEntry> saved = memory->save(string_argument(arguments, "content"),
                                             string_argument(arguments, "tags"), source);
    if (!saved) return ToolResult::error("memory_save: " + saved.message());
    return ToolResult::ok("saved as memory " + std::to_string(saved->id),
                          {{"id", saved->id}, {"content", saved->content}});
  };
  return tool;
}

ToolDefinition make_memory_search_tool(Memory* memory, int max_results) {
  ToolDefinition tool;
  tool.spec.name = "memory_search";
  tool.spec.description = "Search long-term memory for notes saved earlier.";
  tool.spec.parameters = {
      {"type", "object"},
      {"properties",
       {{"query", {{"type", "string"}, {"description", "Words to look for"}}},
        {"limit", {{"type", "integer"}, {"description", "At most this many notes"}}}}},
      {"required", {"query"}}};
  tool.handler = [memory, max_results](const nlohmann::json& arguments) {
    Result<std::vector<MemoryHit>> hits =
        memory->search(string_argument(arguments, "query"), limit_from(arguments, max_results));
    if (!hits) return ToolResult::error("memory_search: " + hits.message());
    if (hits->empty()) return ToolResult::ok("no memory entries match", nlohmann::json::array());
    std::ostringstream text;
    nlohmann::json structured = nlohmann::json::array();
    for (const MemoryHit& hit : *hits) {
      text << "[" << hit.entry.id << "] " << one_line(hit.entry.content) << "\n";
      structured.push_back({{"id", hit.entry.id}, {"content", hit.entry.content}});
    }
    return ToolResult::ok(text.str(), std::move(structured));
  };
  return tool;
}

// Every word first; when that finds nothing (a question phrased differently from the turn it
// looks for), each word of three letters or more on its own, ranked by how many of the words a
// message holds, then by the best single-word score.
Result<std::vector<MessageHit>> search_messages(Store& store, const std::string& query, int limit,
                                                const std::string& conversation_id) {
  Result<std::vector<MessageHit>> all = store.search(query, limit, conversation_id);
  if (!all || !all->empty()) return all;
  struct Candidate {
    MessageHit hit;
    int words = 0;
  };
  std::map<int64_t, Candidate> candidates;
  std::set<std::string> seen_words;
  std::istringstream words(query);
  std::string word;
  while (words >> word) {
    if (word.size() < 3 || !seen_words.insert(word).second) continue;
    Result<std::vector<MessageHit>> hits = store.search(word, 50, conversation_id);
    if (!hits) return hits;
    for (MessageHit& hit : *hits) {
      Candidate& c = candidates[hit.message.id];
      if (c.words == 0 || hit.score > c.hit.score) c.hit = hit;
      ++c.words;
    }
  }
  std::vector<Candidate> ranked;
  for (auto& [id, c] : candidates) ranked.push_back(std::move(c));
  std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate& a, const Candidate& b) {
    return a.words != b.words ? a.words > b.words : a.hit.score > b.hit.score;
  });
  std::vector<MessageHit> out;
  for (Candidate& c : ranked) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(std::move(c.hit));
  }
  return out;
}

ToolDefinition make_conversation_search_tool(Store* store, int max_results) {
  ToolDefinition tool;
  tool.spec.name = "conversation_search";
  tool.spec.description =
      "Search the stored messages of this conversation (or of all conversations) for earlier "
      "turns, including ones no longer in view.";
  tool.spec.parameters = {
      {"type", "object"},
      {"properties",
       {{"query", {{"type", "string"}, {"description", "Words to look for"}}},
        {"all_conversations",
         {{"type", "boolean"}, {"description", "Search every conversation, not only this one"}}},
        {"limit", {{"type", "integer"}, {"description", "At most this many messages"}}}}},
      {"required", {"query"}}};
  tool.handler = [store, max_results](const nlohmann::json& arguments) {
    const std::string& current = current_conversation_id();
    bool all = current.empty();
    if (auto it = arguments.find("all_conversations"); it != arguments.end() && it->is_boolean()) {
      all = all || it->get<bool>();
    }
    Result<std::vector<MessageHit>> hits =
        search_messages(*store, string_argument(arguments, "query"),
                        limit_from(arguments, max_results), all ? "" : current);
    if (!hits) return ToolResult::error("conversation_search: " + hits.message());
    if (hits->empty()) return ToolResult::ok("no messages match", nlohmann::json::array());
    std::ostringstream text;
    nlohmann::json structured = nlohmann::json::array();
    for (const MessageHit& hit : *hits) {
      const Message& m = hit.message;
      text << "[";
      if (all) text << m.conversation_id << " ";
      text << "#" << m.seq << " " << m.role << "] " << one_line(m.content) << "\n";
      structured.push_back({{"conversation_id", m.conversation_id},
                            {"seq", m.seq},
                            {"role", m.role},
                            {"content", m.content}});
    }
    return ToolResult::ok(text.str(), std::move(structured));
  };
  return tool;
}

}  // namespace

Status register_memory_tools(ToolRegistry& registry, const MemoryToolOptions& options) {
  std::vector<ToolDefinition> tools;
  const int max_results = std::max(1, options.max_results);
  if (options.memory != nullptr) {
    tools.push_back(make_memory_save_tool(options.memory));
    tools.push_back(make_memory_search_tool(options.memory, max_results));
  }
  if (options.store != nullptr) {
    tools.push_back(make_conversation_search_tool(options.store, max_results));
  }
  for (const ToolDefinition& tool : tools) {
    if (registry.contains(tool.spec.name)) {
      return Error("tool '" + tool.spec.name + "' is already registered");
    }
  }
  for (ToolDefinition& tool : tools) {
    if (Status s = registry.add(std::move(tool)); !s) return s;
  }
  return Status::ok();
}

ConversationScope::ConversationScope(std::string conversation_id)
    : id_(std::move(conversation_id)), previous_(std::exchange(current_scope, &id_)) {}

ConversationScope::~ConversationScope() { current_scope = previous_; }

const std::string& ConversationScope::current() { return current_conversation_id(); }

}  // namespace cove::assistant
