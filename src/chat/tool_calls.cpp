// Tool-call text formats: parsers for Llama 3.x JSON, Hermes <tool_call>, Mistral [TOOL_CALLS],
// and the GBNF grammar that forces a call (tool_calls.h).
#include "chat/tool_calls.h"

#include <algorithm>
#include <random>

#include "runtime/json_schema.h"

namespace cove::chat {

using OrderedJson = nlohmann::ordered_json;

namespace {

constexpr size_t kMaxJsonDepth = 256;

std::string_view trim(std::string_view text) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(start, end - start + 1);
}

// The end (exclusive) of the JSON object or array that starts at text[start], found by
// balancing brackets outside strings; npos when it never closes or nests too deeply.
size_t json_value_end(std::string_view text, size_t start) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return std::string_view::npos;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return std::string_view::npos;
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

OrderedJson parse_json(std::string_view text) {
  // Bracket depth is checked first so a hostile input cannot make the parser recurse deeply.
  const std::string_view body = trim(text);
  if (!body.empty() && (body.front() == '{' || body.front() == '[') &&
      json_value_end(body, 0) == std::string_view::npos) {
    return OrderedJson(OrderedJson::value_t::discarded);
  }
  return OrderedJson::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string random_id(size_t length) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 engine{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string id;
  for (size_t i = 0; i < length; ++i) id += kAlphabet[pick(engine)];
  return id;
}

class CallCollector {
 public:
  CallCollector(ParsedToolCalls& out, ToolCallFormat format) : out_(out), format_(format) {}

  // Adds the call that `value` describes; false (with a problem noted) when it is not one.
  bool add(const OrderedJson& value, std::string_view where, std::string id = "") {
    if (!value.is_object()) {
      out_.problems.push_back(std::string(where) + ": not a JSON object");
      return false;
    }
    const OrderedJson* call = &value;
    // {"type": "function", "function": {...}} (OpenAI's own shape, which some models copy).
    if (const auto it = value.find("function"); it != value.end() && it->is_object()) call = &*it;
    const auto name = call->find("name");
    if (name == call->end() || !name->is_string() || name->get<std::string>().empty()) {
      out_.problems.push_back(std::string(where) + ": no \"name\" string");
      return false;
    }
    auto arguments = call->find("arguments");
    if (arguments == call->end()) arguments = call->find("parameters");
    std::string arguments_text = "{}";
    if (arguments != call->end()) {
      if (arguments->is_object()) {
        arguments_text = arguments->dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
      } else if (arguments->is_string() && parse_json(arguments->get<std::string>()).is_object()) {
        arguments_text = arguments->get<std::string>();
      } else {
        out_.problems.push_back(std::string(where) + ": arguments of '" +
                                name->get<std::string>() + "' are not a JSON object");
        return false;
      }
    }
    if (id.empty()) {
      if (const auto given = value.find("id"); given != value.end() && given->is_string()) {
        id = given->get<std::string>();
      }
    }
    if (id.empty()) id = format_ == ToolCallFormat::kMistral ? random_id(9) : "call_" + random_id(24);
    OrderedJson function;
    function["name"] = name->get<std::string>();
    function["arguments"] = std::move(arguments_text);
    OrderedJson entry;
    entry["id"] = std::move(id);
    entry["type"] = "function";
    entry["function"] = std::move(function);
    out_.tool_calls.push_back(std::move(entry));
    return true;
  }

 private:
  ParsedToolCalls& out_;
  ToolCallFormat format_;
};

std::string join_content(const std::string& a, std::string_view b) {
  const std::string_view left = trim(a), right = trim(b);
  if (left.empty()) return std::string(right);
  if (right.empty()) return std::string(left);
  return std::string(left) + "\n" + std::string(right);
}

void parse_hermes(std::string_view text, ParsedToolCalls& out) {
  static constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";
  CallCollector collector(out, ToolCallFormat::kHermes);
  std::string content;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) break;
    content += text.substr(pos, open - pos);
    const size_t body_start = open + kOpen.size();
    size_t close = text.find(kClose, body_start);
    const size_t body_end = close == std::string_view::npos ? text.size() : close;
    const size_t block_end = close == std::string_view::npos ? text.size() : close + kClose.size();
    const OrderedJson value = parse_json(text.substr(body_start, body_end - body_start));
    const std::string where = "<tool_call> " + std::to_string(out.tool_calls.size() + out.problems.size() + 1);
    if (value.is_discarded()) {
      out.problems.push_back(where + ": malformed JSON");
      content += text.substr(open, block_end - open);
    } else if (!collector.add(value, where)) {
      content += text.substr(open, block_end - open);
    }
    pos = block_end;
  }
  if (pos < text.size()) content += text.substr(pos);
  out.content = std::string(trim(content));
}

void parse_mistral(std::string_view text, ParsedToolCalls& out) {
  static constexpr std::string_view kMarker = "[TOOL_CALLS]", kArgs = "[ARGS]",
                                    kCallId = "[CALL_ID]";
  CallCollector collector(out, ToolCallFormat::kMistral);
  const size_t first = text.find(kMarker);
  std::string content(text.substr(0, first));
  size_t pos = first;
  while (pos != std::string_view::npos && pos < text.size()) {
    size_t at = pos + kMarker.size();
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) ++at;
    const std::string where = "[TOOL_CALLS] " + std::to_string(out.tool_calls.size() + out.problems.size() + 1);
    size_t next = text.find(kMarker, at);
    if (at < text.size() && (text[at] == '[' || text[at] == '{')) {
      // v1-v3: a JSON array of calls (or one object).
      const size_t end = json_value_end(text, at);
      const OrderedJson value =
          end == std::string_view::npos ? OrderedJson(OrderedJson::value_t::discarded)
                                        : parse_json(text.substr(at, end - at));
      if (value.is_discarded()) {
        out.problems.push_back(where + ": malformed JSON");
        content += text.substr(pos, (next == std::string_view::npos ? text.size() : next) - pos);
      } else {
        bool all = true;
        if (value.is_array()) {
          for (const auto& item : value) all = collector.add(item, where) && all;
        } else {
          all = collector.add(value, where);
        }
        if (!all) content += text.substr(pos, end - pos);
        content += text.substr(end, (next == std::string_view::npos ? text.size() : next) - end);
      }
    } else {
      // v11+: name[ARGS]{...}, optionally name[CALL_ID]id[ARGS]{...}.
      const size_t args = text.find(kArgs, at);
      const size_t segment_end = next == std::string_view::npos ? text.size() : next;
      bool ok = false;
      size_t end = segment_end;
      if (args != std::string_view::npos && args < segment_end) {
        std::string_view name = text.substr(at, args - at);
        std::string id;
        if (const size_t id_at = name.find(kCallId); id_at != std::string_view::npos) {
          id = std::string(trim(name.substr(id_at + kCallId.size())));
          name = name.substr(0, id_at);
        }
        const size_t json_at = text.find_first_not_of(" \n", args + kArgs.size());
        end = json_at == std::string_view::npos ? std::string_view::npos : json_value_end(text, json_at);
        const OrderedJson arguments =
            end == std::string_view::npos ? OrderedJson(OrderedJson::value_t::discarded)
                                          : parse_json(text.substr(json_at, end - json_at));
        if (arguments.is_discarded()) {
          out.problems.push_back(where + ": malformed JSON arguments");
          end = segment_end;
        } else {
          OrderedJson call;
          call["name"] = std::string(trim(name));
          call["arguments"] = arguments;
          ok = collector.add(call, where, id);
        }
      } else {
        out.problems.push_back(where + ": no [ARGS] after the tool name");
      }
      if (!ok) content += text.substr(pos, end - pos);
      if (end < segment_end) content += text.substr(end, segment_end - end);
    }
    pos = next;
  }
  out.content = std::string(trim(content));
}

// Llama 3.x: JSON after <|python_tag|>, or a reply that is nothing but JSON calls.
void parse_llama(std::string_view text, const ToolCallParseOptions& options, ParsedToolCalls& out) {
  static constexpr std::string_view kTag = "<|python_tag|>";
  const size_t tag = text.find(kTag);
  const bool tagged = tag != std::string_view::npos;
  std::string_view body = tagged ? text.substr(tag + kTag.size()) : trim(text);
  std::string content = tagged ? std::string(text.substr(0, tag)) : "";
  if (!tagged) {
    // A reply wholly inside one ```json fence.
    if (body.size() > 6 && body.substr(0, 3) == "```" && body.substr(body.size() - 3) == "```") {
      const size_t newline = body.find('\n');
      if (newline != std::string_view::npos && newline < body.size() - 3) {
        body = trim(body.substr(newline + 1, body.size() - 3 - newline - 1));
      }
    }
    if (body.empty() || (body.front() != '{' && body.front() != '[')) {
      out.content = std::string(trim(text));
      return;
    }
  }
  // Split into JSON values separated by ';', ',' or whitespace.
  std::vector<OrderedJson> values;
  size_t pos = 0;
  bool clean = true;
  while (true) {
    pos = body.find_first_not_of(" \t\r\n;,", pos);
    if (pos == std::string_view::npos) break;
    if (body[pos] != '{' && body[pos] != '[') {
      clean = false;
      break;
    }
    const size_t end = json_value_end(body, pos);
    if (end == std::string_view::npos) {
      clean = false;
      break;
    }
    OrderedJson value = parse_json(body.substr(pos, end - pos));
    if (value.is_discarded()) {
      clean = false;
      break;
    }
    values.push_back(std::move(value));
    pos = end;
  }
  std::vector<OrderedJson> calls;
  for (OrderedJson& value : values) {
    if (value.is_array()) {
      for (auto& item : value) calls.push_back(std::move(item));
    } else {
      calls.push_back(std::move(value));
    }
  }
  auto names_known_tool = [&](const OrderedJson& call) {
    if (options.tool_names.empty()) return true;
    const OrderedJson& inner =
        call.contains("function") && call["function"].is_object() ? call["function"] : call;
    if (!inner.is_object() || !inner.contains("name") || !inner["name"].is_string()) return false;
    return std::find(options.tool_names.begin(), options.tool_names.end(),
                     inner["name"].get<std::string>()) != options.tool_names.end();
  };
  const bool looks_like_calls =
      clean && !calls.empty() && std::all_of(calls.begin(), calls.end(), [&](const OrderedJson& c) {
        return c.is_object() && (c.contains("name") || c.contains("function")) &&
               (tagged || names_known_tool(c));
      });
  if (!looks_like_calls) {
    if (tagged) out.problems.push_back("<|python_tag|>: not a JSON tool call");
    out.content = std::string(trim(text));
    return;
  }
  CallCollector collector(out, ToolCallFormat::kJson);
  bool all = true;
  for (size_t i = 0; i < calls.size(); ++i) {
    all = collector.add(calls[i], "JSON call " + std::to_string(i + 1)) && all;
  }
  if (!all) {
    // Partly malformed: report, but keep the text for the user rather than half of it.
    out.tool_calls = OrderedJson::array();
    out.content = std::string(trim(text));
    return;
  }
  out.content = std::string(trim(content));
}

}  // namespace

ParsedToolCalls parse_tool_calls(std::string_view text, const ToolCallParseOptions& options) {
  ParsedToolCalls out;
  ToolCallFormat format = options.format;
  if (format == ToolCallFormat::kAuto) {
    if (text.find("<tool_call>") != std::string_view::npos) {
      format = ToolCallFormat::kHermes;
    } else if (text.find("[TOOL_CALLS]") != std::string_view::npos) {
      format = ToolCallFormat::kMistral;
    } else {
      format = ToolCallFormat::kJson;
    }
  }
  switch (format) {
    case ToolCallFormat::kHermes: parse_hermes(text, out); break;
    case ToolCallFormat::kMistral: parse_mistral(text, out); break;
    default: parse_llama(text, options, out); break;
  }
  return out;
}

ToolCallFormat tool_call_format_from_template(std::string_view chat_template) {
  if (chat_template.find("<tool_call>") != std::string_view::npos) return ToolCallFormat::kHermes;
  if (chat_template.find("[TOOL_CALLS]") != std::string_view::npos) return ToolCallFormat::kMistral;
  return ToolCallFormat::kJson;
}

// ---------------------------------------------------------------------------------------------
// Grammar

namespace {

// Prefixes every rule name in a GBNF text (definitions and references) so several converted
// schemas can live in one grammar. Literals, character classes, repetition braces and comments
// are copied unchanged.
std::string prefix_rules(std::string_view gbnf, const std::string& prefix) {
  std::string out;
  out.reserve(gbnf.size() * 2);
  auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  };
  for (size_t i = 0; i < gbnf.size();) {
    const char c = gbnf[i];
    if (c == '"' || c == '[') {
      const char close = c == '"' ? '"' : ']';
      size_t j = i + 1;
      while (j < gbnf.size() && gbnf[j] != close) j += gbnf[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, gbnf.size());
      out.append(gbnf.substr(i, j - i));
      i = j;
    } else if (c == '{') {
      const size_t j = std::min(gbnf.find('}', i), gbnf.size() - 1) + 1;
      out.append(gbnf.substr(i, j - i));
      i = j;
    } else if (c == '#') {
      const size_t j = std::min(gbnf.find('\n', i), gbnf.size());
      out.append(gbnf.substr(i, j - i));
      i = j;
    } else if (is_name_char(c)) {
      size_t j = i;
      while (j < gbnf.size() && is_name_char(gbnf[j])) ++j;
      out += prefix;
      out.append(gbnf.substr(i, j - i));
      i = j;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// A GBNF literal for `text` (only " and \ need escaping inside "...").
std::string gbnf_literal(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string tool_call_grammar(const nlohmann::ordered_json& tools,
                              const ToolCallGrammarOptions& options) {
  if (!tools.is_array()) return "";
  std::string rules;
  std::string alternatives;
  size_t index = 0;
  for (const auto& tool : tools) {
    if (!tool.is_object()) continue;
    const OrderedJson& function =
        tool.contains("function") && tool["function"].is_object() ? tool["function"] : tool;
    if (!function.contains("name") || !function["name"].is_string()) continue;
    const std::string name = function["name"].get<std::string>();
    if (name.empty()) continue;
    OrderedJson schema = {{"type", "object"}};
    if (function.contains("parameters") && function["parameters"].is_object()) {
      schema = function["parameters"];
    }
    Result<std::string> arguments = runtime::json_schema_to_gbnf(schema);
    const std::string arguments_gbnf = arguments ? *arguments : runtime::json_object_gbnf();
    const std::string prefix = "t" + std::to_string(index) + "-";
    rules += prefix_rules(arguments_gbnf, prefix) + "\n";
    const std::string call_rule = "call-" + std::to_string(index);
    // The name's JSON spelling, inside a GBNF literal.
    const std::string name_json = OrderedJson(name).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
    rules += call_rule + " ::= \"{\" sp \"\\\"name\\\"\" sp \":\" sp " + gbnf_literal(name_json) +
             " sp \",\" sp \"\\\"arguments\\\"\" sp \":\" sp " + prefix + "root sp \"}\"\n";
    alternatives += (alternatives.empty() ? "" : " | ") + call_rule;
    ++index;
  }
  if (index == 0) return "";
  std::string root;
  switch (options.format) {
    case ToolCallFormat::kHermes:
      root = options.parallel
                 ? "block (\"\\n\" block)*"
                 : "block";
      rules += "block ::= \"<tool_call>\\n\" call \"\\n</tool_call>\"\n";
      break;
    case ToolCallFormat::kMistral:
      root = options.parallel ? "\"[TOOL_CALLS][\" call (\",\" sp call)* \"]\""
                              : "\"[TOOL_CALLS][\" call \"]\"";
      break;
    default:
      root = options.parallel ? "\"[\" call (\",\" sp call)* \"]\"" : "call";
      break;
  }
  return "root ::= " + root + "\ncall ::= " + alternatives + "\nsp ::= \" \"?\n" + rules;
}

}  // namespace cove::chat
