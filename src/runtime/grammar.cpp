// Grammar matcher: parse-stack sets advanced one code point at a time, and the token-trie walk
// that turns a state into a token mask. See grammar.h for the model and the guarantees.
#include "runtime/grammar.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <unordered_map>

namespace cove::runtime {
namespace detail {

constexpr uint32_t kNoNode = UINT32_MAX;  // the bottom of a chain; as a top: "root finished"
constexpr uint32_t kMaxCodePoint = 0x10FFFF;

struct CompiledGrammar {
  ParsedGrammar parsed;
  // Per class, a bitmap of its ASCII members: most text is ASCII, and this skips the search.
  std::vector<std::array<uint64_t, 2>> class_ascii;
};

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

constexpr uint64_t kBottomHash = 0x2545F4914F6CDD1Dull;
constexpr uint64_t kFinishedHash = 0x9E3779B97F4A7C15ull;

// An open-addressing table from 64-bit keys to 32-bit values that clears in O(1): entries
// belong to the current round only when their stamp matches. Used twice per step, so clearing
// must not cost a pass over the table.
class RoundTable {
 public:
  void new_round() {
    if (++stamp_ == 0) {
      std::fill(stamps_.begin(), stamps_.end(), 0);
      stamp_ = 1;
    }
    size_ = 0;
  }

  // Inserts key -> value unless present; returns the stored value's slot and whether it is new.
  std::pair<uint32_t*, bool> insert(uint64_t key, uint32_t value) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    const size_t mask = keys_.size() - 1;
    size_t i = mix64(key) & mask;
    while (stamps_[i] == stamp_) {
      if (keys_[i] == key) return {&values_[i], false};
      i = (i + 1) & mask;
    }
    stamps_[i] = stamp_;
    keys_[i] = key;
    values_[i] = value;
    ++size_;
    return {&values_[i], true};
  }

 private:
  void grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<uint32_t> old_values = std::move(values_);
    std::vector<uint32_t> old_stamps = std::move(stamps_);
    const size_t capacity = std::max<size_t>(64, old_keys.size() * 2);
    keys_.assign(capacity, 0);
    values_.assign(capacity, 0);
    stamps_.assign(capacity, 0);
    const uint32_t live = stamp_;
    stamp_ = 1;
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_stamps[i] == live) insert(old_keys[i], old_values[i]);
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<uint32_t> values_;
  std::vector<uint32_t> stamps_;
  uint32_t stamp_ = 1;
  size_t size_ = 0;
};

// One depth of the trie walk (or one step of accept_bytes): which stacks are live and how far
// the buffers had grown when they were made, so that backtracking is a truncation.
struct Level {
  uint32_t tops_begin = 0;
  uint32_t tops_end = 0;
  uint32_t tops_mark = 0;
  uint32_t arena_mark = 0;
  PartialUtf8 partial;
  // Kept by the trie walk only: the stack set's hash (order-independent) and its SetInfo.
  uint64_t set_hash = 0;
  uint32_t set_info = 0;
};

// Remembers, per (stack set, code point), whether the step leaves the set unchanged or kills
// it. Stack hashes depend only on grammar positions, never on where nodes sit in the arena, so
// entries stay valid across steps and calls for the matcher's grammar. Inside a JSON string
// almost every character maps the set to itself; this turns most of a mask walk into lookups.
class StepMemo {
 public:
  enum Kind : uint8_t { kUnknown = 0, kIdentity, kDead, kOther };

  Kind find(uint64_t set_hash, uint32_t cp) const {
    if (entries_.empty()) return kUnknown;
    const size_t mask = entries_.size() - 1;
    for (size_t i = slot(set_hash, cp) & mask;; i = (i + 1) & mask) {
      const Entry& e = entries_[i];
      if (e.kind == kUnknown) return kUnknown;
      if (e.set_hash == set_hash && e.code_point == cp) return static_cast<Kind>(e.kind);
    }
  }

  void put(uint64_t set_hash, uint32_t cp, Kind kind) {
    if (size_ >= kMaxEntries) clear();
    if ((size_ + 1) * 2 > entries_.size()) grow();
    const size_t mask = entries_.size() - 1;
    size_t i = slot(set_hash, cp) & mask;
    while (entries_[i].kind != kUnknown) {
      if (entries_[i].set_hash == set_hash && entries_[i].code_point == cp) break;
      i = (i + 1) & mask;
    }
    if (entries_[i].kind == kUnknown) ++size_;
    entries_[i] = {set_hash, cp, kind};
  }

  void clear() {
    entries_.clear();
    size_ = 0;
  }

 private:
  static constexpr size_t kMaxEntries = 1u << 20;
  struct Entry {
    uint64_t set_hash;
    uint32_t code_point;
    uint8_t kind;
  };
  static size_t slot(uint64_t set_hash, uint32_t cp) {
    return static_cast<size_t>(mix64(set_hash ^ (static_cast<uint64_t>(cp) << 17)));
  }
  void grow() {
    std::vector<Entry> old = std::move(entries_);
    entries_.assign(std::max<size_t>(1024, old.size() * 2), Entry{0, 0, kUnknown});
    size_ = 0;
    for (const Entry& e : old) {
      if (e.kind != kUnknown) put(e.set_hash, e.code_point, static_cast<Kind>(e.kind));
    }
  }
  std::vector<Entry> entries_;
  size_t size_ = 0;
};

// The memo's answers for ASCII steps out of one stack set, in a flat array: the common case
// then costs an L1 load instead of a hash probe.
struct SetInfo {
  uint64_t set_hash;
  std::array<uint8_t, 128> ascii;  // StepMemo::Kind per code point
};

struct MatcherScratch {
  std::vector<StackNode> arena;  // nodes: the matcher's own, then those made while stepping
  std::vector<uint32_t> tops;    // stack tops of every level, level after level
  std::vector<Level> levels;
  std::vector<std::pair<uint32_t, uint32_t>> work;  // (position, parent) still to expand
  RoundTable visited;  // (position, parent) pairs expanded during this step
  RoundTable merged;   // stack hash -> index in tops, during this step
  std::vector<uint32_t> remap;
  std::vector<uint32_t> chain;
  // Trie walk only; valid for the matcher's grammar across calls (see StepMemo).
  StepMemo memo;
  std::vector<SetInfo> set_infos;
  std::unordered_map<uint64_t, uint32_t> set_info_of;  // set hash -> index in set_infos
};

ScratchHolder::ScratchHolder() = default;
ScratchHolder::~ScratchHolder() = default;
ScratchHolder::ScratchHolder(const ScratchHolder&) {}
// Assignment may bring another grammar, so the memo (and everything else) starts afresh.
ScratchHolder& ScratchHolder::operator=(const ScratchHolder&) {
  scratch_.reset();
  return *this;
}
ScratchHolder::ScratchHolder(ScratchHolder&&) noexcept = default;
ScratchHolder& ScratchHolder::operator=(ScratchHolder&&) noexcept = default;
MatcherScratch& ScratchHolder::get() const {
  if (!scratch_) scratch_ = std::make_unique<MatcherScratch>();
  return *scratch_;
}

namespace {

enum class StepStatus : uint8_t {
  kOk,
  kRejected,       // no stack takes the code point
  kInvalidUtf8,    // the bytes cannot be UTF-8
  kTooManyStacks,  // MatcherLimits::max_stacks
  kTooDeep,        // every surviving path passed MatcherLimits::max_stack_depth
  kTooMuchWork,    // MatcherLimits::max_expansions
};

// Advances stack sets held in a MatcherScratch. Nodes are appended to scratch.arena, new stack
// tops to scratch.tops; nothing else is touched, so callers undo a step by truncating both.
class Stepper {
 public:
  // With `memo`, steps consult and fill it (the trie walk); without, they always compute.
  Stepper(const CompiledGrammar& grammar, const MatcherLimits& limits, MatcherScratch& scratch,
          StepMemo* memo = nullptr)
      : g_(grammar.parsed), ascii_(grammar.class_ascii), limits_(limits), s_(scratch),
        memo_(memo) {}

  uint64_t set_hash(uint32_t begin, uint32_t end) const {
    uint64_t sum = 0;
    for (uint32_t i = begin; i < end; ++i) {
      const uint32_t top = s_.tops[i];
      sum += mix64(top == kNoNode ? kFinishedHash : s_.arena[top].hash);
    }
    return sum;
  }

  // Appends the stacks that start the root rule.
  StepStatus start() {
    begin_step();
    const uint32_t root = g_.root;
    for (uint32_t a = g_.rule_alternatives[root]; a < g_.rule_alternatives[root + 1]; ++a) {
      if (!expand(g_.alternative_starts[a], kNoNode)) break;
    }
    return end_step();
  }

  // The starting level of a trie walk over tops[0, n).
  Level first_level(uint32_t n, PartialUtf8 partial) {
    Level level;
    level.tops_begin = 0;
    level.tops_end = level.tops_mark = n;
    level.arena_mark = static_cast<uint32_t>(s_.arena.size());
    level.partial = partial;
    level.set_hash = set_hash(0, n);
    level.set_info = set_info_for(level.set_hash);
    return level;
  }

  // Feeds one byte to the level `from`; on kOk, `to` describes the level after it.
  StepStatus advance_byte(const Level& from, uint8_t byte, Level& to) {
    PartialUtf8 partial = from.partial;
    uint32_t code_point = 0;
    if (partial.remaining == 0) {
      if (byte < 0x80) {
        return step(from, byte, to);
      } else if (byte >= 0xC2 && byte <= 0xDF) {
        partial = {static_cast<uint32_t>(byte & 0x1F), 1, 2};
      } else if (byte >= 0xE0 && byte <= 0xEF) {
        partial = {static_cast<uint32_t>(byte & 0x0F), 2, 3};
      } else if (byte >= 0xF0 && byte <= 0xF4) {
        partial = {static_cast<uint32_t>(byte & 0x07), 3, 4};
      } else {
        return StepStatus::kInvalidUtf8;
      }
    } else {
      if ((byte & 0xC0) != 0x80) return StepStatus::kInvalidUtf8;
      partial.bits = (partial.bits << 6) | (byte & 0x3F);
      --partial.remaining;
      if (partial.remaining == 0) {
        code_point = partial.bits;
        if (code_point < min_code_point(partial.length) || code_point > kMaxCodePoint ||
            (code_point >= 0xD800 && code_point <= 0xDFFF)) {
          return StepStatus::kInvalidUtf8;
        }
        return step(from, code_point, to);
      }
    }
    // Inside a code point: the bytes so far fix a range of code points it can still become.
    const uint32_t shift = 6u * partial.remaining;
    uint32_t lo = partial.bits << shift;
    uint32_t hi = lo | ((1u << shift) - 1);
    lo = std::max(lo, min_code_point(partial.length));
    hi = std::min(hi, max_code_point(partial.length));
    if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF)) return StepStatus::kInvalidUtf8;
    bool possible = false;
    if (lo < 0xD800) possible = any_top_intersects(from, lo, std::min(hi, 0xD7FFu));
    if (!possible && hi > 0xDFFF) possible = any_top_intersects(from, std::max(lo, 0xE000u), hi);
    if (!possible) return StepStatus::kRejected;
    to = from;
    to.tops_mark = static_cast<uint32_t>(s_.tops.size());
    to.arena_mark = static_cast<uint32_t>(s_.arena.size());
    to.partial = partial;
    return StepStatus::kOk;
  }

  bool matches(uint32_t position, uint32_t cp) const {
    const GrammarElement& e = g_.elements[position];
    switch (e.kind) {
      case ElementKind::kChar: return e.value == cp;
      case ElementKind::kAnyChar: return true;
      case ElementKind::kCharClass: {
        if (cp < 128) return (ascii_[e.value][cp >> 6] >> (cp & 63)) & 1;
        const CharRange* begin = g_.class_ranges.data() + g_.class_offsets[e.value];
        const CharRange* end = g_.class_ranges.data() + g_.class_offsets[e.value + 1];
        const CharRange* it = std::upper_bound(
            begin, end, cp, [](uint32_t value, const CharRange& r) { return value < r.first; });
        return it != begin && (it - 1)->last >= cp;
      }
      default: return false;
    }
  }

 private:
  static uint32_t min_code_point(uint8_t length) {
    return length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
  }
  static uint32_t max_code_point(uint8_t length) {
    return length == 2 ? 0x7FF : length == 3 ? 0xFFFF : kMaxCodePoint;
  }

  bool intersects(uint32_t position, uint32_t lo, uint32_t hi) const {
    const GrammarElement& e = g_.elements[position];
    switch (e.kind) {
      case ElementKind::kChar: return e.value >= lo && e.value <= hi;
      case ElementKind::kAnyChar: return true;
      case ElementKind::kCharClass: {
        const CharRange* begin = g_.class_ranges.data() + g_.class_offsets[e.value];
        const CharRange* end = g_.class_ranges.data() + g_.class_offsets[e.value + 1];
        const CharRange* it = std::lower_bound(
            begin, end, lo, [](const CharRange& r, uint32_t value) { return r.last < value; });
        return it != end && it->first <= hi;
      }
      default: return false;
    }
  }

  bool any_top_intersects(const Level& level, uint32_t lo, uint32_t hi) const {
    for (uint32_t i = level.tops_begin; i < level.tops_end; ++i) {
      const uint32_t top = s_.tops[i];
      if (top != kNoNode && intersects(s_.arena[top].position, lo, hi)) return true;
    }
    return false;
  }

  StepStatus step(const Level& from, uint32_t cp, Level& to) {
    if (!memo_) return compute_step(from, cp, to);
    const StepMemo::Kind known =
        cp < 128 ? static_cast<StepMemo::Kind>(s_.set_infos[from.set_info].ascii[cp])
                 : memo_->find(from.set_hash, cp);
    switch (known) {
      case StepMemo::kIdentity:
        to = from;
        to.tops_mark = static_cast<uint32_t>(s_.tops.size());
        to.arena_mark = static_cast<uint32_t>(s_.arena.size());
        to.partial = {};
        return StepStatus::kOk;
      case StepMemo::kDead: return StepStatus::kRejected;
      default: break;
    }
    const StepStatus status = compute_step(from, cp, to);
    StepMemo::Kind kind = StepMemo::kDead;
    if (status == StepStatus::kOk) {
      to.set_hash = set_hash(to.tops_begin, to.tops_end);
      const bool identity = to.set_hash == from.set_hash && same_set(from, to);
      kind = identity ? StepMemo::kIdentity : StepMemo::kOther;
      to.set_info = identity ? from.set_info : set_info_for(to.set_hash);
    }
    if (known == StepMemo::kUnknown) {
      if (cp < 128) {
        s_.set_infos[from.set_info].ascii[cp] = kind;
      } else {
        memo_->put(from.set_hash, cp, kind);
      }
    }
    return status;
  }

  uint32_t set_info_for(uint64_t hash) {
    auto [it, inserted] =
        s_.set_info_of.try_emplace(hash, static_cast<uint32_t>(s_.set_infos.size()));
    if (inserted) s_.set_infos.push_back({hash, {}});
    return it->second;
  }

  // Both sets are free of duplicates, so equal sizes and inclusion mean equality.
  bool same_set(const Level& a, const Level& b) const {
    if (a.tops_end - a.tops_begin != b.tops_end - b.tops_begin) return false;
    for (uint32_t i = b.tops_begin; i < b.tops_end; ++i) {
      bool found = false;
      for (uint32_t j = a.tops_begin; j < a.tops_end && !found; ++j) {
        found = s_.tops[i] == kNoNode ? s_.tops[j] == kNoNode
                                      : s_.tops[j] != kNoNode && same_chain(s_.tops[i], s_.tops[j]);
      }
      if (!found) return false;
    }
    return true;
  }

  StepStatus compute_step(const Level& from, uint32_t cp, Level& to) {
    begin_step();
    for (uint32_t i = from.tops_begin; i < from.tops_end; ++i) {
      const uint32_t top = s_.tops[i];
      if (top == kNoNode) continue;
      const StackNode node = s_.arena[top];
      if (!matches(node.position, cp)) continue;
      if (!expand(node.position + 1, node.parent)) break;
    }
    const StepStatus status = end_step();
    to.tops_begin = step_begin_;
    to.tops_end = static_cast<uint32_t>(s_.tops.size());
    to.tops_mark = to.tops_end;
    to.arena_mark = static_cast<uint32_t>(s_.arena.size());
    to.partial = {};
    return status;
  }

  void begin_step() {
    s_.visited.new_round();
    s_.merged.new_round();
    step_begin_ = static_cast<uint32_t>(s_.tops.size());
    expansions_ = 0;
    status_ = StepStatus::kOk;
    dropped_deep_ = false;
  }

  StepStatus end_step() {
    if (status_ != StepStatus::kOk) return status_;
    if (s_.tops.size() == step_begin_) {
      return dropped_deep_ ? StepStatus::kTooDeep : StepStatus::kRejected;
    }
    return StepStatus::kOk;
  }

  uint64_t chain_hash(uint32_t position, uint32_t parent) const {
    const uint64_t below = parent == kNoNode ? kBottomHash : s_.arena[parent].hash;
    return mix64(below + (static_cast<uint64_t>(position) + 1) * 0x9E3779B97F4A7C15ull);
  }

  bool same_chain(uint32_t a, uint32_t b) const {
    while (a != b) {
      if (a == kNoNode || b == kNoNode) return false;
      const StackNode& x = s_.arena[a];
      const StackNode& y = s_.arena[b];
      if (x.hash != y.hash || x.position != y.position || x.depth != y.depth) return false;
      a = x.parent;
      b = y.parent;
    }
    return true;
  }

  // Makes a node, or returns kNoNode when it would be deeper than allowed.
  uint32_t new_node(uint32_t position, uint32_t parent) {
    const uint32_t depth = parent == kNoNode ? 1 : s_.arena[parent].depth + 1;
    if (depth > limits_.max_stack_depth) {
      dropped_deep_ = true;
      return kNoNode;
    }
    s_.arena.push_back({position, parent, depth, chain_hash(position, parent)});
    return static_cast<uint32_t>(s_.arena.size() - 1);
  }

  // Adds the stack (terminal at `position`, over `parent`) unless an identical one exists.
  bool emit(uint32_t position, uint32_t parent) {
    const uint64_t hash = position == kNoNode ? kFinishedHash : chain_hash(position, parent);
    const uint32_t index = static_cast<uint32_t>(s_.tops.size());
    auto [slot, inserted] = s_.merged.insert(hash, index);
    if (!inserted) {
      const uint32_t other = s_.tops[*slot];
      if (position == kNoNode) return true;  // "finished" is one state
      if (other != kNoNode && s_.arena[other].position == position &&
          same_chain(s_.arena[other].parent, parent)) {
        return true;
      }
      // A hash collision between different stacks: keep both (a duplicate would be harmless).
    }
    if (index - step_begin_ >= limits_.max_stacks) {
      status_ = StepStatus::kTooManyStacks;
      return false;
    }
    if (position == kNoNode) {
      s_.tops.push_back(kNoNode);
      return true;
    }
    const uint32_t node = new_node(position, parent);
    if (node != kNoNode) s_.tops.push_back(node);
    return true;
  }

  // Follows rule references and rule ends from (position, parent) until every path stands on a
  // terminal or has finished the root. Each (position, parent) pair is expanded once per step,
  // which keeps rules that can match nothing from multiplying the work.
  bool expand(uint32_t position, uint32_t parent) {
    s_.work.clear();
    s_.work.emplace_back(position, parent);
    while (!s_.work.empty()) {
      const auto [pos, below] = s_.work.back();
      s_.work.pop_back();
      if (!s_.visited.insert((static_cast<uint64_t>(pos) << 32) | below, 0).second) continue;
      if (++expansions_ > limits_.max_expansions) {
        status_ = StepStatus::kTooMuchWork;
        return false;
      }
      const GrammarElement& e = g_.elements[pos];
      if (e.kind == ElementKind::kEnd) {
        if (below == kNoNode) {
          if (!emit(kNoNode, kNoNode)) return false;
        } else {
          s_.work.emplace_back(s_.arena[below].position, s_.arena[below].parent);
        }
      } else if (e.kind == ElementKind::kRuleRef) {
        // Where to return to; a reference at the end of an alternative returns straight to
        // the caller's caller (a tail call), so right recursion does not deepen the stack.
        uint32_t return_to = below;
        if (g_.elements[pos + 1].kind != ElementKind::kEnd) {
          return_to = new_node(pos + 1, below);
          if (return_to == kNoNode) continue;
        }
        const uint32_t first = g_.rule_alternatives[e.value];
        for (uint32_t a = g_.rule_alternatives[e.value + 1]; a-- > first;) {
          s_.work.emplace_back(g_.alternative_starts[a], return_to);
        }
      } else if (!emit(pos, below)) {
        return false;
      }
    }
    return true;
  }

  const ParsedGrammar& g_;
  const std::vector<std::array<uint64_t, 2>>& ascii_;
  const MatcherLimits& limits_;
  MatcherScratch& s_;
  StepMemo* memo_;
  uint32_t step_begin_ = 0;
  uint32_t expansions_ = 0;
  StepStatus status_ = StepStatus::kOk;
  bool dropped_deep_ = false;
};

// Copies the stacks tops[begin, end) and the nodes under them out of `arena` into `nodes` and
// `stacks` (both cleared first), keeping shared tails shared.
void compact(const std::vector<StackNode>& arena, const std::vector<uint32_t>& tops,
             uint32_t begin, uint32_t end, std::vector<uint32_t>& remap,
             std::vector<uint32_t>& chain, std::vector<StackNode>& nodes,
             std::vector<uint32_t>& stacks) {
  nodes.clear();
  stacks.clear();
  remap.assign(arena.size(), kNoNode);
  for (uint32_t i = begin; i < end; ++i) {
    const uint32_t top = tops[i];
    if (top == kNoNode) {
      stacks.push_back(kNoNode);
      continue;
    }
    chain.clear();
    for (uint32_t n = top; n != kNoNode && remap[n] == kNoNode; n = arena[n].parent) {
      chain.push_back(n);
    }
    for (size_t k = chain.size(); k-- > 0;) {
      const StackNode& old = arena[chain[k]];
      const uint32_t parent = old.parent == kNoNode ? kNoNode : remap[old.parent];
      remap[chain[k]] = static_cast<uint32_t>(nodes.size());
      nodes.push_back({old.position, parent, old.depth, old.hash});
    }
    stacks.push_back(remap[top]);
  }
}

std::string describe_code_point(uint32_t cp) {
  char buf[48];
  if (cp >= 0x20 && cp < 0x7F) {
    std::snprintf(buf, sizeof(buf), "'%c' (U+%04X)", static_cast<char>(cp), cp);
  } else {
    std::snprintf(buf, sizeof(buf), "U+%04X", cp);
  }
  return buf;
}

}  // namespace
}  // namespace detail

using detail::kNoNode;

// ---------------------------------------------------------------------------------------------
// Grammar

Result<Grammar> Grammar::parse(std::string_view gbnf, std::string_view root,
                               const GrammarLimits& limits) {
  Result<ParsedGrammar> parsed = parse_gbnf(gbnf, root, limits);
  if (!parsed) return parsed.error();
  auto compiled = std::make_shared<detail::CompiledGrammar>();
  compiled->parsed = std::move(parsed).value();
  const ParsedGrammar& g = compiled->parsed;
  compiled->class_ascii.resize(g.class_offsets.size() - 1);
  for (size_t c = 0; c + 1 < g.class_offsets.size(); ++c) {
    std::array<uint64_t, 2>& bits = compiled->class_ascii[c];
    bits = {0, 0};
    for (uint32_t i = g.class_offsets[c]; i < g.class_offsets[c + 1]; ++i) {
      for (uint32_t cp = g.class_ranges[i].first; cp <= g.class_ranges[i].last && cp < 128; ++cp) {
        bits[cp >> 6] |= 1ull << (cp & 63);
      }
    }
  }
  Grammar grammar;
  grammar.impl_ = std::move(compiled);
  return grammar;
}

size_t Grammar::n_rules() const { return impl_->parsed.n_rules(); }
size_t Grammar::n_elements() const { return impl_->parsed.elements.size(); }
std::string Grammar::to_string() const { return format_gbnf(impl_->parsed); }

// ---------------------------------------------------------------------------------------------
// TokenTrie

TokenTrie TokenTrie::build(const std::vector<std::string>& token_pieces,
                           const std::vector<bool>& is_special,
                           const std::vector<int32_t>& end_of_generation) {
  TokenTrie trie;
  const size_t n = token_pieces.size();
  trie.pieces_ = token_pieces;
  trie.special_.assign(n, false);
  for (size_t i = 0; i < n && i < is_special.size(); ++i) trie.special_[i] = is_special[i];
  for (int32_t id : end_of_generation) {
    if (id >= 0 && static_cast<size_t>(id) < n) trie.end_of_generation_.push_back(id);
  }
  std::sort(trie.end_of_generation_.begin(), trie.end_of_generation_.end());
  trie.end_of_generation_.erase(
      std::unique(trie.end_of_generation_.begin(), trie.end_of_generation_.end()),
      trie.end_of_generation_.end());

  std::vector<int32_t> order;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = static_cast<int32_t>(i);
    if (!trie.special_[i] && !token_pieces[i].empty() && !trie.is_end_of_generation(id)) {
      order.push_back(id);
    }
  }
  // Sorted pieces visit the trie in pre-order: each new piece shares a prefix with the one
  // before it, closes the nodes below that prefix and opens its own.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return token_pieces[static_cast<size_t>(a)] < token_pieces[static_cast<size_t>(b)];
  });
  trie.nodes_.push_back({0, 0, 0, 0, 0});
  std::vector<uint32_t> path = {0};
  std::string_view previous;
  for (int32_t id : order) {
    const std::string& piece = token_pieces[static_cast<size_t>(id)];
    size_t common = 0;
    while (common < piece.size() && common < previous.size() && piece[common] == previous[common]) {
      ++common;
    }
    while (path.size() - 1 > common) {
      trie.nodes_[path.back()].subtree_end = static_cast<uint32_t>(trie.nodes_.size());
      path.pop_back();
    }
    const uint32_t token_index = static_cast<uint32_t>(trie.token_ids_.size());
    for (size_t d = common; d < piece.size(); ++d) {
      path.push_back(static_cast<uint32_t>(trie.nodes_.size()));
      trie.nodes_.push_back({0, token_index, token_index, static_cast<uint32_t>(d + 1),
                             static_cast<uint8_t>(piece[d])});
    }
    trie.token_ids_.push_back(id);
    trie.nodes_[path.back()].token_end = token_index + 1;
    trie.max_depth_ = std::max(trie.max_depth_, static_cast<uint32_t>(piece.size()));
    previous = piece;
  }
  while (!path.empty()) {
    trie.nodes_[path.back()].subtree_end = static_cast<uint32_t>(trie.nodes_.size());
    path.pop_back();
  }
  return trie;
}

bool TokenTrie::is_end_of_generation(int32_t id) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), id);
}

// ---------------------------------------------------------------------------------------------
// GrammarMatcher

GrammarMatcher::GrammarMatcher(const Grammar& grammar, const MatcherLimits& limits)
    : grammar_(grammar.impl_), limits_(limits) {
  reset();
}

void GrammarMatcher::reset() {
  detail::MatcherScratch& s = scratch_.get();
  s.arena.clear();
  s.tops.clear();
  detail::Stepper stepper(*grammar_, limits_, s);
  const detail::StepStatus status = stepper.start();
  partial_ = {};
  nodes_.clear();
  stacks_.clear();
  last_error_.clear();
  if (status != detail::StepStatus::kOk) {
    last_error_ = "grammar: the root rule cannot start within the matcher's limits";
    return;
  }
  detail::compact(s.arena, s.tops, 0, static_cast<uint32_t>(s.tops.size()), s.remap, s.chain,
                  nodes_, stacks_);
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  if (bytes.empty()) return !failed();
  if (failed()) return false;
  detail::MatcherScratch& s = scratch_.get();
  s.arena = nodes_;
  s.tops = stacks_;
  detail::Stepper stepper(*grammar_, limits_, s);
  detail::Level level{0, static_cast<uint32_t>(stacks_.size()),
                      static_cast<uint32_t>(stacks_.size()), static_cast<uint32_t>(nodes_.size()),
                      partial_};
  std::vector<detail::StackNode> compact_nodes;
  std::vector<uint32_t> compact_tops;
  for (size_t i = 0; i < bytes.size(); ++i) {
    detail::Level next;
    const uint8_t byte = static_cast<uint8_t>(bytes[i]);
    const detail::StepStatus status = stepper.advance_byte(level, byte, next);
    if (status != detail::StepStatus::kOk) {
      const std::string at = " (byte " + std::to_string(i) + " of this input)";
      switch (status) {
        case detail::StepStatus::kInvalidUtf8: {
          char buf[64];
          std::snprintf(buf, sizeof(buf), "byte 0x%02X breaks UTF-8", byte);
          last_error_ = buf + at;
          break;
        }
        case detail::StepStatus::kRejected:
          if (level.partial.remaining == 0 && byte < 0x80) {
            last_error_ = detail::describe_code_point(byte) + " is not allowed here" + at;
          } else {
            last_error_ = "the grammar does not allow this character here" + at;
          }
          break;
        case detail::StepStatus::kTooManyStacks:
          last_error_ = "grammar too ambiguous: more than " + std::to_string(limits_.max_stacks) +
                        " parse stacks" + at;
          break;
        case detail::StepStatus::kTooDeep:
          last_error_ = "text nested deeper than the matcher's limit of " +
                        std::to_string(limits_.max_stack_depth) + " stack nodes" + at;
          break;
        case detail::StepStatus::kTooMuchWork:
          last_error_ = "grammar expansion for one character exceeded " +
                        std::to_string(limits_.max_expansions) + " steps" + at;
          break;
        case detail::StepStatus::kOk: break;
      }
      return false;
    }
    level = next;
    // Long inputs: drop the nodes of earlier steps now and then so memory stays bounded.
    if (level.partial.remaining == 0 && s.arena.size() > (1u << 16)) {
      detail::compact(s.arena, s.tops, level.tops_begin, level.tops_end, s.remap, s.chain,
                      compact_nodes, compact_tops);
      s.arena.swap(compact_nodes);
      s.tops.swap(compact_tops);
      level = {0, static_cast<uint32_t>(s.tops.size()), static_cast<uint32_t>(s.tops.size()),
               static_cast<uint32_t>(s.arena.size()), {}};
    }
  }
  detail::compact(s.arena, s.tops, level.tops_begin, level.tops_end, s.remap, s.chain, nodes_,
                  stacks_);
  partial_ = level.partial;
  last_error_.clear();
  return true;
}

bool GrammarMatcher::accept_token(const TokenTrie& vocab, int32_t token_id) {
  if (token_id < 0 || static_cast<size_t>(token_id) >= vocab.n_tokens()) {
    last_error_ = "token id " + std::to_string(token_id) + " is outside the vocabulary";
    return false;
  }
  if (vocab.is_end_of_generation(token_id)) {
    if (can_end()) return true;
    last_error_ = "end of generation before the grammar is complete";
    return false;
  }
  if (vocab.is_special(token_id) || vocab.piece(token_id).empty()) {
    last_error_ = "token " + std::to_string(token_id) + " is special or empty";
    return false;
  }
  return accept_bytes(vocab.piece(token_id));
}

bool GrammarMatcher::accepts(uint32_t code_point) const {
  if (partial_.remaining != 0) return false;
  detail::Stepper stepper(*grammar_, limits_, scratch_.get());
  for (uint32_t top : stacks_) {
    if (top != kNoNode && stepper.matches(nodes_[top].position, code_point)) return true;
  }
  return false;
}

bool GrammarMatcher::can_end() const {
  return partial_.remaining == 0 && std::find(stacks_.begin(), stacks_.end(), kNoNode) != stacks_.end();
}

bool GrammarMatcher::is_complete() const {
  return partial_.remaining == 0 && stacks_.size() == 1 && stacks_[0] == kNoNode;
}

void GrammarMatcher::allowed_tokens(const TokenTrie& vocab, std::vector<uint8_t>& mask) const {
  mask.assign(vocab.n_tokens(), 0);
  const bool end_allowed = can_end();
  for (int32_t id : vocab.end_of_generation()) mask[static_cast<size_t>(id)] = end_allowed;
  if (failed() || is_complete()) return;

  detail::MatcherScratch& s = scratch_.get();
  s.arena = nodes_;
  s.tops = stacks_;
  s.levels.resize(vocab.max_depth_ + 1);
  // The memo only grows within a grammar; bound it between calls.
  if (s.set_infos.size() > (1u << 16)) {
    s.set_infos.clear();
    s.set_info_of.clear();
    s.memo.clear();
  }
  detail::Stepper stepper(*grammar_, limits_, s, &s.memo);
  s.levels[0] = stepper.first_level(static_cast<uint32_t>(stacks_.size()), partial_);
  const std::vector<TokenTrie::Node>& trie = vocab.nodes_;
  const int32_t* token_ids = vocab.token_ids_.data();
  // Pre-order walk: a node's parent level is always the last one built at depth - 1, so
  // backtracking is a truncation of the scratch buffers to that level's marks.
  for (uint32_t i = 1; i < trie.size();) {
    const TokenTrie::Node& node = trie[i];
    const detail::Level& parent = s.levels[node.depth - 1];
    s.tops.resize(parent.tops_mark);
    s.arena.resize(parent.arena_mark);
    if (stepper.advance_byte(parent, node.byte, s.levels[node.depth]) !=
        detail::StepStatus::kOk) {
      i = node.subtree_end;
      continue;
    }
    for (uint32_t t = node.token_begin; t < node.token_end; ++t) {
      mask[static_cast<size_t>(token_ids[t])] = 1;
    }
    ++i;
  }
}

}  // namespace cove::runtime
