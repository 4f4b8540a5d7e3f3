// GBNF parser: recursive descent over the text into draft rules, then a flat table, then two
// checks that the matcher relies on (every rule defined, no left recursion).
#include "runtime/grammar_parser.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace cove::runtime {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kUnbounded = UINT32_MAX;
constexpr uint32_t kNoRule = UINT32_MAX;
constexpr size_t kNoOffset = std::string_view::npos;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_surrogate(uint32_t cp) {
  return cp >= 0xD800 && cp <= 0xDFFF;
}

// Decodes the UTF-8 code point at text[pos] and advances pos; false on malformed input.
bool decode_utf8(std::string_view text, size_t& pos, uint32_t& cp) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  size_t length = 0;
  uint32_t min_value = 0;
  if (lead < 0x80) {
    cp = lead;
    pos += 1;
    return true;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, cp = lead & 0x1F, min_value = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, cp = lead & 0x0F, min_value = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, cp = lead & 0x07, min_value = 0x10000;
  } else {
    return false;
  }
  if (pos + length > text.size()) return false;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  if (cp < min_value || cp > kMaxCodePoint || is_surrogate(cp)) return false;
  pos += length;
  return true;
}

// Sorts and merges ranges; with `negate`, returns the complement over all scalar values.
std::vector<CharRange> normalize_ranges(std::vector<CharRange> ranges, bool negate) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CharRange& a, const CharRange& b) { return a.first < b.first; });
  std::vector<CharRange> merged;
  for (const CharRange& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  if (!negate) return merged;
  // The complement skips the surrogates, which no UTF-8 text can contain.
  std::vector<CharRange> complement;
  uint32_t next = 0;
  const auto add_gap = [&](uint32_t first, uint32_t last) {
    if (first > last) return;
    if (last < 0xD800 || first > 0xDFFF) {
      complement.push_back({first, last});
      return;
    }
    if (first < 0xD800) complement.push_back({first, 0xD7FF});
    if (last > 0xDFFF) complement.push_back({0xE000, last});
  };
  for (const CharRange& r : merged) {
    if (r.first > next) add_gap(next, r.first - 1);
    next = r.last + 1;
  }
  if (next <= kMaxCodePoint) add_gap(next, kMaxCodePoint);
  return complement;
}

struct RuleDraft {
  std::string name;  // empty for helper rules until flatten() names them
  std::vector<std::vector<GrammarElement>> alternatives;
  bool defined = false;
  size_t defined_at = kNoOffset;  // offset of the name in the definition
  size_t first_use = kNoOffset;   // offset of the first reference
  // Helper rules (groups and repetitions) remember where they came from, for error messages.
  uint32_t owner = kNoRule;
  bool is_repetition = false;
  size_t source = kNoOffset;
};

class Parser {
 public:
  Parser(std::string_view text, const GrammarLimits& limits) : text_(text), limits_(limits) {}

  Result<ParsedGrammar> run(std::string_view root) {
    while (true) {
      skip_space(/*newlines=*/true);
      if (at_end()) break;
      if (!parse_rule()) return Error{*error_};
    }
    if (!check_all_defined()) return Error{*error_};
    auto root_it = ids_.find(std::string(root));
    if (root_it == ids_.end()) {
      return Error{"grammar: no rule named '" + std::string(root) + "' to start from"};
    }
    ParsedGrammar grammar = flatten(root_it->second);
    if (!check_left_recursion(grammar)) return Error{*error_};
    return grammar;
  }

 private:
  // ---------------------------------------------------------------------------------------
  // Positions and errors

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  std::string where(size_t offset) const {
    offset = std::min(offset, text_.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset; ++i) {
      if (text_[i] == '\n') ++line, line_start = i + 1;
    }
    size_t column = 1;
    for (size_t i = line_start; i < offset; ++i) {
      if ((static_cast<uint8_t>(text_[i]) & 0xC0) != 0x80) ++column;
    }
    return "grammar " + std::to_string(line) + ":" + std::to_string(column);
  }

  bool fail(size_t offset, const std::string& message) {
    if (!error_) error_ = where(offset) + ": " + message;
    return false;
  }

  // Counts elements against the budget so that repetitions cannot blow up memory.
  bool spend(size_t n, size_t offset) {
    n_elements_ += n;
    if (n_elements_ > limits_.max_elements) {
      return fail(offset, "the grammar expands to more than " +
                              std::to_string(limits_.max_elements) +
                              " elements (repetition counts too large?)");
    }
    return true;
  }

  // Skips blanks and comments; newlines too when `newlines` (inside parentheses, after | or ::=).
  void skip_space(bool newlines) {
    while (!at_end()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string_view read_name() {
    const size_t start = pos_;
    while (!at_end() && is_name_char(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  std::string describe_char_at(size_t offset) const {
    if (offset >= text_.size()) return "the end of the grammar";
    const char c = text_[offset];
    if (c == '\n') return "a newline";
    if (static_cast<uint8_t>(c) < 0x20 || static_cast<uint8_t>(c) >= 0x7F) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "byte 0x%02X", static_cast<uint8_t>(c));
      return buf;
    }
    return std::string("'") + c + "'";
  }

  // ---------------------------------------------------------------------------------------
  // Rules

  uint32_t rule_id(std::string_view name) {
    auto [it, inserted] = ids_.try_emplace(std::string(name), static_cast<uint32_t>(rules_.size()));
    if (inserted) {
      rules_.emplace_back();
      rules_.back().name = std::string(name);
    }
    return it->second;
  }

  uint32_t new_helper(uint32_t owner, bool is_repetition, size_t source) {
    rules_.emplace_back();
    rules_.back().owner = owner;
    rules_.back().is_repetition = is_repetition;
    rules_.back().source = source;
    return static_cast<uint32_t>(rules_.size() - 1);
  }

  bool parse_rule() {
    const size_t name_at = pos_;
    const std::string_view name = read_name();
    if (name.empty()) return fail(name_at, "expected a rule name, found " + describe_char_at(pos_));
    skip_space(false);
    if (text_.substr(pos_, 3) != "::=") {
      return fail(pos_, "expected '::=' after the rule name '" + std::string(name) + "', found " +
                            describe_char_at(pos_));
    }
    pos_ += 3;
    const uint32_t id = rule_id(name);
    if (rules_[id].defined) {
      return fail(name_at, "rule '" + std::string(name) + "' is defined twice (first at " +
                               where(rules_[id].defined_at) + ")");
    }
    rules_[id].defined = true;
    rules_[id].defined_at = name_at;
    skip_space(true);
    std::vector<std::vector<GrammarElement>> alternatives;
    if (!parse_alternatives(id, /*nested=*/false, 0, alternatives)) return false;
    skip_space(false);
    if (!at_end() && peek() != '\n') {
      if (peek() == ')') return fail(pos_, "')' without a matching '('");
      return fail(pos_, "unexpected " + describe_char_at(pos_));
    }
    rules_[id].alternatives = std::move(alternatives);
    return true;
  }

  bool parse_alternatives(uint32_t owner, bool nested, uint32_t depth,
                          std::vector<std::vector<GrammarElement>>& out) {
    if (depth > limits_.max_nesting) {
      return fail(pos_, "parentheses nested deeper than " + std::to_string(limits_.max_nesting));
    }
    while (true) {
      std::vector<GrammarElement> sequence;
      if (!parse_sequence(owner, nested, depth, sequence)) return false;
      if (!spend(1, pos_)) return false;  // the alternative's kEnd
      out.push_back(std::move(sequence));
      skip_space(nested);
      if (peek() == '|') {
        ++pos_;
        skip_space(true);
        continue;
      }
      if (!nested && peek() == '\n') {
        // A following line that starts with '|' continues this rule.
        const size_t saved = pos_;
        skip_space(true);
        if (peek() == '|') {
          ++pos_;
          skip_space(true);
          continue;
        }
        pos_ = saved;
      }
      return true;
    }
  }

  bool parse_sequence(uint32_t owner, bool nested, uint32_t depth,
                      std::vector<GrammarElement>& out) {
    while (true) {
      skip_space(nested);
      if (at_end()) return true;
      const char c = peek();
      if (c == '|' || c == ')' || c == '\n') return true;
      const size_t item_at = pos_;
      const size_t item_start = out.size();
      if (c == '"') {
        if (!parse_literal(out)) return false;
      } else if (c == '[') {
        if (!parse_class(out)) return false;
      } else if (c == '.') {
        ++pos_;
        if (!spend(1, item_at)) return false;
        out.push_back({ElementKind::kAnyChar, 0});
      } else if (c == '(') {
        ++pos_;
        skip_space(true);
        std::vector<std::vector<GrammarElement>> group;
        if (!parse_alternatives(owner, /*nested=*/true, depth + 1, group)) return false;
        skip_space(true);
        if (peek() != ')') {
          return fail(item_at, "'(' is never closed (found " + describe_char_at(pos_) + ")");
        }
        ++pos_;
        if (group.size() == 1) {
          // A single alternative needs no rule of its own.
          out.insert(out.end(), group[0].begin(), group[0].end());
        } else {
          const uint32_t helper = new_helper(owner, false, item_at);
          rules_[helper].alternatives = std::move(group);
          if (!spend(1, item_at)) return false;
          out.push_back({ElementKind::kRuleRef, helper});
        }
      } else if (is_name_char(c)) {
        const std::string_view name = read_name();
        const uint32_t id = rule_id(name);
        if (rules_[id].first_use == kNoOffset) rules_[id].first_use = item_at;
        if (!spend(1, item_at)) return false;
        out.push_back({ElementKind::kRuleRef, id});
        const size_t saved = pos_;
        skip_space(nested);
        if (text_.substr(pos_, 3) == "::=") {
          return fail(item_at, "'" + std::string(name) +
                                   " ::=' inside a rule body: is the previous rule missing its "
                                   "body, or a newline missing before '" +
                                   std::string(name) + "'?");
        }
        pos_ = saved;
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        return fail(item_at, std::string("'") + c + "' has nothing to repeat");
      } else {
        return fail(item_at, "unexpected " + describe_char_at(item_at));
      }
      // Postfix operators apply to the item just parsed.
      while (true) {
        skip_space(nested);
        const size_t op_at = pos_;
        uint32_t min = 0, max = 0;
        if (peek() == '*') {
          ++pos_, min = 0, max = kUnbounded;
        } else if (peek() == '+') {
          ++pos_, min = 1, max = kUnbounded;
        } else if (peek() == '?') {
          ++pos_, min = 0, max = 1;
        } else if (peek() == '{') {
          if (!parse_braces(min, max)) return false;
        } else {
          break;
        }
        if (!apply_repetition(owner, out, item_start, min, max, op_at)) return false;
      }
    }
  }

  // Parses {m}, {m,}, {m,n} or {,n} at pos_.
  bool parse_braces(uint32_t& min, uint32_t& max) {
    const size_t open_at = pos_;
    ++pos_;
    const auto number = [&](uint32_t& value, bool& present) {
      skip_space(true);
      present = false;
      value = 0;
      const size_t start = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') {
        value = value * 10 + static_cast<uint32_t>(peek() - '0');
        ++pos_;
        if (value > limits_.max_repetition) {
          return fail(start, "repetition count is larger than the limit " +
                                 std::to_string(limits_.max_repetition));
        }
        present = true;
      }
      skip_space(true);
      return true;
    };
    bool has_min = false, has_max = false;
    if (!number(min, has_min)) return false;
    if (peek() == '}') {
      if (!has_min) return fail(open_at, "'{}' needs a count, as in {3} or {1,5}");
      ++pos_;
      max = min;
      return true;
    }
    if (peek() != ',') {
      return fail(pos_,
                  "expected a number, ',' or '}' in a repetition, found " + describe_char_at(pos_));
    }
    ++pos_;
    if (!number(max, has_max)) return false;
    if (peek() != '}') return fail(open_at, "repetition '{' is never closed");
    ++pos_;
    if (!has_min) min = 0;
    if (!has_max) {
      if (!has_min) return fail(open_at, "'{,}' needs at least one count");
      max = kUnbounded;
    }
    if (max < min) {
      return fail(open_at, "repetition {" + std::to_string(min) + "," + std::to_string(max) +
                               "} has its maximum below its minimum");
    }
    return true;
  }

  // Rewrites out[item_start..] (one item) as its repetition; see ParsedGrammar for the shapes.
  bool apply_repetition(uint32_t owner, std::vector<GrammarElement>& out, size_t item_start,
                        uint32_t min, uint32_t max, size_t op_at) {
    if (out.size() == item_start) return fail(op_at, "repetition of an empty item");
    if (out.size() - item_start > 1) {
      // Several elements (a literal or an inlined group): give them a rule so copies are small.
      const uint32_t group = new_helper(owner, false, op_at);
      rules_[group].alternatives.emplace_back(out.begin() + static_cast<ptrdiff_t>(item_start),
                                              out.end());
      out.resize(item_start);
      if (!spend(2, op_at)) return false;  // the reference and the group's kEnd
      out.push_back({ElementKind::kRuleRef, group});
    }
    const GrammarElement item = out.back();
    out.pop_back();
    const uint64_t optional_count = max == kUnbounded ? 1 : max - min;
    if (!spend(static_cast<size_t>(min + 6 * optional_count), op_at)) return false;
    out.insert(out.end(), min, item);
    if (max == kUnbounded) {
      const uint32_t star = new_helper(owner, true, op_at);
      rules_[star].alternatives = {{item, {ElementKind::kRuleRef, star}}, {}};
      out.push_back({ElementKind::kRuleRef, star});
    } else if (max > min) {
      uint32_t previous = kNoRule;
      for (uint32_t i = 0; i < max - min; ++i) {
        const uint32_t optional = new_helper(owner, true, op_at);
        std::vector<GrammarElement> first = {item};
        if (previous != kNoRule) first.push_back({ElementKind::kRuleRef, previous});
        rules_[optional].alternatives = {std::move(first), {}};
        previous = optional;
      }
      out.push_back({ElementKind::kRuleRef, previous});
    }
    return true;
  }

  bool parse_literal(std::vector<GrammarElement>& out) {
    const size_t open_at = pos_;
    ++pos_;
    while (true) {
      if (at_end() || peek() == '\n') return fail(open_at, "unterminated string literal");
      if (peek() == '"') {
        ++pos_;
        return true;
      }
      uint32_t cp = 0;
      if (!read_char(cp)) return false;
      if (!spend(1, open_at)) return false;
      out.push_back({ElementKind::kChar, cp});
    }
  }

  bool parse_class(std::vector<GrammarElement>& out) {
    const size_t open_at = pos_;
    ++pos_;
    const bool negate = peek() == '^';
    if (negate) ++pos_;
    std::vector<CharRange> ranges;
    while (true) {
      if (at_end() || peek() == '\n') return fail(open_at, "unterminated character class");
      if (peek() == ']') {
        ++pos_;
        break;
      }
      const size_t first_at = pos_;
      uint32_t first = 0, last = 0;
      if (!read_char(first)) return false;
      last = first;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        if (at_end() || peek() == '\n') return fail(open_at, "unterminated character class");
        if (!read_char(last)) return false;
        if (last < first) return fail(first_at, "character range ends before it starts");
      }
      ranges.push_back({first, last});
    }
    if (ranges.empty() && !negate) return fail(open_at, "empty character class");
    ranges = normalize_ranges(std::move(ranges), negate);
    if (ranges.empty()) return fail(open_at, "character class matches nothing");
    if (!spend(1, open_at)) return false;
    if (ranges.size() == 1 && ranges[0].first == ranges[0].last) {
      out.push_back({ElementKind::kChar, ranges[0].first});
      return true;
    }
    if (ranges.size() == 1 && ranges[0].first == 0 && ranges[0].last == kMaxCodePoint) {
      out.push_back({ElementKind::kAnyChar, 0});
      return true;
    }
    // Identical classes share one id.
    auto [it, inserted] = class_ids_.try_emplace(ranges, static_cast<uint32_t>(classes_.size()));
    if (inserted) classes_.push_back(ranges);
    out.push_back({ElementKind::kCharClass, it->second});
    return true;
  }

  // One character of a literal or class: an escape or a UTF-8 code point.
  bool read_char(uint32_t& cp) {
    const size_t at = pos_;
    if (peek() != '\\') {
      if (!decode_utf8(text_, pos_, cp)) return fail(at, "invalid UTF-8 in the grammar text");
      return true;
    }
    ++pos_;
    if (at_end()) return fail(at, "unterminated escape");
    const char c = text_[pos_++];
    int hex_digits = 0;
    switch (c) {
      case 'n':
        cp = '\n';
        return true;
      case 'r':
        cp = '\r';
        return true;
      case 't':
        cp = '\t';
        return true;
      case '\\':
      case '"':
      case '\'':
      case '/':
      case '[':
      case ']':
      case '-':
      case '^':
        cp = static_cast<uint8_t>(c);
        return true;
      case 'x':
        hex_digits = 2;
        break;
      case 'u':
        hex_digits = 4;
        break;
      case 'U':
        hex_digits = 8;
        break;
      default:
        pos_ = at;
        return fail(at, "unknown escape '\\" + std::string(1, c) + "'");
    }
    cp = 0;
    for (int i = 0; i < hex_digits; ++i) {
      const char h = peek();
      uint32_t digit = 0;
      if (h >= '0' && h <= '9') {
        digit = static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        digit = static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        digit = static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return fail(at, "escape '\\" + std::string(1, c) + "' needs " + std::to_string(hex_digits) +
                            " hex digits");
      }
      cp = cp * 16 + digit;
      ++pos_;
    }
    if (cp > kMaxCodePoint || is_surrogate(cp)) {
      return fail(at, "escape '" + std::string(text_.substr(at, pos_ - at)) +
                          "' is not a Unicode scalar value");
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Checks and the flat table

  bool check_all_defined() {
    // Rules are numbered in order of first mention, so this reports the earliest reference.
    for (const RuleDraft& rule : rules_) {
      if (rule.owner == kNoRule && !rule.defined) {
        return fail(rule.first_use, "undefined rule '" + rule.name + "'");
      }
    }
    return true;
  }

  ParsedGrammar flatten(uint32_t root) {
    ParsedGrammar g;
    g.root = root;
    // Helper rules are named after their owner: item_1, item_2, ... avoiding user names.
    std::set<std::string> taken;
    for (const RuleDraft& rule : rules_) {
      if (rule.owner == kNoRule) taken.insert(rule.name);
    }
    std::vector<uint32_t> counters(rules_.size(), 0);
    for (RuleDraft& rule : rules_) {
      if (rule.owner != kNoRule) {
        std::string name;
        do {
          name = rules_[rule.owner].name + "_" + std::to_string(++counters[rule.owner]);
        } while (taken.count(name));
        taken.insert(name);
        rule.name = name;
      }
    }
    g.rule_alternatives.push_back(0);
    for (RuleDraft& rule : rules_) {
      g.rule_names.push_back(rule.name);
      for (std::vector<GrammarElement>& alternative : rule.alternatives) {
        g.alternative_starts.push_back(static_cast<uint32_t>(g.elements.size()));
        g.elements.insert(g.elements.end(), alternative.begin(), alternative.end());
        g.elements.push_back({ElementKind::kEnd, 0});
      }
      g.rule_alternatives.push_back(static_cast<uint32_t>(g.alternative_starts.size()));
    }
    g.class_offsets.push_back(0);
    for (const std::vector<CharRange>& ranges : classes_) {
      g.class_ranges.insert(g.class_ranges.end(), ranges.begin(), ranges.end());
      g.class_offsets.push_back(static_cast<uint32_t>(g.class_ranges.size()));
    }
    return g;
  }

  // A rule that can begin with itself (through rules that can match nothing) would make the
  // matcher expand forever. Finds such a cycle and explains it.
  bool check_left_recursion(const ParsedGrammar& g) {
    const size_t n_rules = g.n_rules();
    const size_t n_alternatives = g.alternative_starts.size();
    std::vector<uint32_t> rule_of_alternative(n_alternatives);
    for (uint32_t r = 0; r < n_rules; ++r) {
      for (uint32_t a = g.rule_alternatives[r]; a < g.rule_alternatives[r + 1]; ++a) {
        rule_of_alternative[a] = r;
      }
    }
    // Nullable rules, in linear time: an alternative becomes nullable when every rule it
    // references is; each rule that turns nullable releases the alternatives that use it.
    constexpr uint32_t kNever = UINT32_MAX;
    std::vector<uint32_t> pending(n_alternatives, 0);
    std::vector<std::vector<uint32_t>> users(n_rules);
    for (uint32_t a = 0; a < n_alternatives; ++a) {
      for (uint32_t e = g.alternative_starts[a]; g.elements[e].kind != ElementKind::kEnd; ++e) {
        if (g.elements[e].kind == ElementKind::kRuleRef) {
          if (pending[a] != kNever) ++pending[a];
          users[g.elements[e].value].push_back(a);
        } else {
          pending[a] = kNever;
        }
      }
    }
    std::vector<bool> nullable(n_rules, false);
    std::vector<uint32_t> queue;
    for (uint32_t a = 0; a < n_alternatives; ++a) {
      const uint32_t r = rule_of_alternative[a];
      if (pending[a] == 0 && !nullable[r]) nullable[r] = true, queue.push_back(r);
    }
    while (!queue.empty()) {
      const uint32_t r = queue.back();
      queue.pop_back();
      for (uint32_t a : users[r]) {
        if (pending[a] == kNever || pending[a] == 0) continue;
        const uint32_t owner = rule_of_alternative[a];
        if (--pending[a] == 0 && !nullable[owner]) nullable[owner] = true, queue.push_back(owner);
      }
    }
    // Edges r -> t where r can begin with t.
    std::vector<std::vector<uint32_t>> starts_with(n_rules);
    for (uint32_t a = 0; a < n_alternatives; ++a) {
      for (uint32_t e = g.alternative_starts[a]; g.elements[e].kind == ElementKind::kRuleRef; ++e) {
        starts_with[rule_of_alternative[a]].push_back(g.elements[e].value);
        if (!nullable[g.elements[e].value]) break;
      }
    }
    // Iterative depth-first search for a cycle.
    enum : uint8_t { kWhite, kGray, kBlack };
    std::vector<uint8_t> color(n_rules, kWhite);
    struct Frame {
      uint32_t rule;
      size_t next_edge;
    };
    std::vector<Frame> path;
    for (uint32_t start = 0; start < n_rules; ++start) {
      if (color[start] != kWhite) continue;
      path.push_back({start, 0});
      color[start] = kGray;
      while (!path.empty()) {
        Frame& frame = path.back();
        if (frame.next_edge == starts_with[frame.rule].size()) {
          color[frame.rule] = kBlack;
          path.pop_back();
          continue;
        }
        const uint32_t target = starts_with[frame.rule][frame.next_edge++];
        if (color[target] == kWhite) {
          color[target] = kGray;
          path.push_back({target, 0});
        } else if (color[target] == kGray) {
          std::vector<uint32_t> cycle;
          size_t i = path.size();
          while (path[i - 1].rule != target) --i;
          for (; i <= path.size(); ++i) cycle.push_back(path[i - 1].rule);
          return explain_cycle(cycle);
        }
      }
    }
    return true;
  }

  bool explain_cycle(const std::vector<uint32_t>& cycle) {
    for (uint32_t r : cycle) {
      if (rules_[r].is_repetition) {
        return fail(rules_[r].source,
                    "the repeated item can match the empty string, so the repetition could "
                    "loop forever; make the item non-empty");
      }
    }
    const auto user_rule = [&](uint32_t r) {
      return rules_[r].owner == kNoRule ? r : rules_[r].owner;
    };
    std::vector<uint32_t> names;
    for (uint32_t r : cycle) {
      if (names.empty() || names.back() != user_rule(r)) names.push_back(user_rule(r));
    }
    if (names.size() > 1 && names.front() == names.back()) names.pop_back();
    const RuleDraft& first = rules_[names.front()];
    if (names.size() == 1) {
      return fail(first.defined_at,
                  "rule '" + first.name +
                      "' is left-recursive (it can begin with itself), which this matcher "
                      "does not support; rewrite it with repetition, e.g. "
                      "'expr ::= term (\"+\" term)*'");
    }
    std::string chain;
    for (uint32_t r : names) chain += "'" + rules_[r].name + "' -> ";
    chain += "'" + first.name + "'";
    return fail(first.defined_at, "rules " + chain +
                                      " are left-recursive (each can begin with the next), which "
                                      "this matcher does not support");
  }

  std::string_view text_;
  GrammarLimits limits_;
  size_t pos_ = 0;
  size_t n_elements_ = 0;
  std::optional<std::string> error_;
  std::vector<RuleDraft> rules_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::vector<CharRange>> classes_;
  std::map<std::vector<CharRange>, uint32_t,
           bool (*)(const std::vector<CharRange>&, const std::vector<CharRange>&)>
      class_ids_{[](const std::vector<CharRange>& a, const std::vector<CharRange>& b) {
        return std::lexicographical_compare(
            a.begin(), a.end(), b.begin(), b.end(), [](const CharRange& x, const CharRange& y) {
              return x.first != y.first ? x.first < y.first : x.last < y.last;
            });
      }};
};

// ---------------------------------------------------------------------------------------------
// Printing

void append_escaped(std::string& out, uint32_t cp, bool in_class) {
  switch (cp) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\\':
      out += "\\\\";
      return;
    default:
      break;
  }
  if (!in_class && cp == '"') {
    out += "\\\"";
    return;
  }
  if (in_class && (cp == ']' || cp == '[' || cp == '-' || cp == '^')) {
    out += '\\';
    out += static_cast<char>(cp);
    return;
  }
  if (cp >= 0x20 && cp < 0x7F) {
    out += static_cast<char>(cp);
    return;
  }
  char buf[16];
  if (cp < 0x80) {
    std::snprintf(buf, sizeof(buf), "\\x%02X", cp);
  } else if (cp < 0x10000) {
    std::snprintf(buf, sizeof(buf), "\\u%04X", cp);
  } else {
    std::snprintf(buf, sizeof(buf), "\\U%08X", cp);
  }
  out += buf;
}

}  // namespace

Result<ParsedGrammar> parse_gbnf(std::string_view text, std::string_view root,
                                 const GrammarLimits& limits) {
  return Parser(text, limits).run(root);
}

std::string format_gbnf(const ParsedGrammar& g) {
  std::vector<uint32_t> order;
  for (uint32_t r = 0; r < g.n_rules(); ++r) {
    if (r != g.root) order.push_back(r);
  }
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return g.rule_names[a] < g.rule_names[b]; });
  order.insert(order.begin(), g.root);

  std::string out;
  for (uint32_t r : order) {
    out += g.rule_names[r] + " ::=";
    for (uint32_t a = g.rule_alternatives[r]; a < g.rule_alternatives[r + 1]; ++a) {
      if (a != g.rule_alternatives[r]) out += " |";
      uint32_t e = g.alternative_starts[a];
      if (g.elements[e].kind == ElementKind::kEnd) out += " \"\"";
      while (g.elements[e].kind != ElementKind::kEnd) {
        const GrammarElement& element = g.elements[e];
        out += ' ';
        switch (element.kind) {
          case ElementKind::kRuleRef:
            out += g.rule_names[element.value];
            ++e;
            break;
          case ElementKind::kChar:
            out += '"';
            while (g.elements[e].kind == ElementKind::kChar) {
              append_escaped(out, g.elements[e].value, false);
              ++e;
            }
            out += '"';
            break;
          case ElementKind::kCharClass:
            out += '[';
            for (uint32_t i = g.class_offsets[element.value];
                 i < g.class_offsets[element.value + 1]; ++i) {
              append_escaped(out, g.class_ranges[i].first, true);
              if (g.class_ranges[i].last != g.class_ranges[i].first) {
                out += '-';
                append_escaped(out, g.class_ranges[i].last, true);
              }
            }
            out += ']';
            ++e;
            break;
          case ElementKind::kAnyChar:
            out += '.';
            ++e;
            break;
          case ElementKind::kEnd:
            break;
        }
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace cove::runtime
