// Internal to grammar.cpp: the parse-stack engine behind GrammarMatcher. A Stepper advances a
// set of parse stacks by one byte (decoding UTF-8) or one code point, with the stacks stored as
// linked nodes in a scratch arena; the matcher and the trie walk drive it. Not a public API.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/grammar.h"

namespace cove::runtime::detail {

constexpr uint32_t kNoNode = UINT32_MAX;  // the bottom of a chain; as a top: "root finished"
constexpr uint32_t kMaxCodePoint = 0x10FFFF;

struct CompiledGrammar {
  ParsedGrammar parsed;
  // Per class, a bitmap of its ASCII members: most text is ASCII, and this skips the search.
  std::vector<std::array<uint64_t, 2>> class_ascii;
};

inline uint64_t mix64(uint64_t x) {
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

// Remembers, per (stack set, subset of its stacks that accept a code point), whether the step
// leaves the set unchanged or kills it. A step's result depends only on which stacks accept the
// code point, so every character a JSON string allows shares one entry. Both keys are hashes of
// stack chains, which depend only on grammar positions (never on arena indices), so entries stay
// valid across steps and calls for the matcher's grammar; the walk then turns most of its work
// into lookups. (Two different sets with equal 64-bit hashes would alias: a risk of about 2^-64
// per pair, accepted here as it is for the stack merging.)
class StepMemo {
 public:
  enum Kind : uint8_t { kUnknown = 0, kIdentity, kDead, kOther };

  Kind find(uint64_t set_hash, uint64_t subset_hash) const {
    if (entries_.empty()) return kUnknown;
    const size_t mask = entries_.size() - 1;
    for (size_t i = slot(set_hash, subset_hash) & mask;; i = (i + 1) & mask) {
      const Entry& e = entries_[i];
      if (e.kind == kUnknown) return kUnknown;
      if (e.set_hash == set_hash && e.subset_hash == subset_hash) {
        return static_cast<Kind>(e.kind);
      }
    }
  }

  void put(uint64_t set_hash, uint64_t subset_hash, Kind kind) {
    if (size_ >= kMaxEntries) clear();
    if ((size_ + 1) * 2 > entries_.size()) grow();
    const size_t mask = entries_.size() - 1;
    size_t i = slot(set_hash, subset_hash) & mask;
    while (entries_[i].kind != kUnknown) {
      if (entries_[i].set_hash == set_hash && entries_[i].subset_hash == subset_hash) break;
      i = (i + 1) & mask;
    }
    if (entries_[i].kind == kUnknown) ++size_;
    entries_[i] = {set_hash, subset_hash, kind};
  }

  void clear() {
    entries_.clear();
    size_ = 0;
  }

 private:
  static constexpr size_t kMaxEntries = 1u << 20;
  struct Entry {
    uint64_t set_hash;
    uint64_t subset_hash;
    uint8_t kind;
  };
  static size_t slot(uint64_t set_hash, uint64_t subset_hash) {
    return static_cast<size_t>(mix64(set_hash ^ (subset_hash * 0x9E3779B97F4A7C15ull)));
  }
  void grow() {
    std::vector<Entry> old = std::move(entries_);
    entries_.assign(std::max<size_t>(256, old.size() * 2), Entry{0, 0, kUnknown});
    size_ = 0;
    for (const Entry& e : old) {
      if (e.kind != kUnknown) put(e.set_hash, e.subset_hash, static_cast<Kind>(e.kind));
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
      : g_(grammar.parsed),
        ascii_(grammar.class_ascii),
        limits_(limits),
        s_(scratch),
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
  StepStatus start();

  // The starting level of a trie walk over tops[0, n).
  Level first_level(uint32_t n, PartialUtf8 partial);

  // Feeds one byte to the level `from`; on kOk, `to` describes the level after it.
  StepStatus advance_byte(const Level& from, uint8_t byte, Level& to);

  bool matches(uint32_t position, uint32_t cp) const;

 private:
  static uint32_t min_code_point(uint8_t length);
  static uint32_t max_code_point(uint8_t length);

  bool intersects(uint32_t position, uint32_t lo, uint32_t hi) const;

  bool any_top_intersects(const Level& level, uint32_t lo, uint32_t hi) const;

  StepStatus step(const Level& from, uint32_t cp, Level& to);

  uint32_t set_info_for(uint64_t hash);

  // An order-independent hash of the stacks of `level` whose terminal accepts `cp`; 0 when
  // none does.
  uint64_t accepting_subset_hash(const Level& level, uint32_t cp) const;

  // Both sets are free of duplicates, so equal sizes and inclusion mean equality.
  bool same_set(const Level& a, const Level& b) const;

  StepStatus compute_step(const Level& from, uint32_t cp, Level& to);

  void begin_step();

  StepStatus end_step();

  uint64_t chain_hash(uint32_t position, uint32_t parent) const;

  bool same_chain(uint32_t a, uint32_t b) const;

  // Makes a node, or returns kNoNode when it would be deeper than allowed.
  uint32_t new_node(uint32_t position, uint32_t parent);

  // Adds the stack (terminal at `position`, over `parent`) unless an identical one exists.
  bool emit(uint32_t position, uint32_t parent);

  // Follows rule references and rule ends from (position, parent) until every path stands on a
  // terminal or has finished the root. Each (position, parent) pair is expanded once per step,
  // which keeps rules that can match nothing from multiplying the work.
  bool expand(uint32_t position, uint32_t parent);

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
void compact(const std::vector<StackNode>& arena, const std::vector<uint32_t>& tops, uint32_t begin,
             uint32_t end, std::vector<uint32_t>& remap, std::vector<uint32_t>& chain,
             std::vector<StackNode>& nodes, std::vector<uint32_t>& stacks);

// "'x' (U+0078)" for printable ASCII, "U+00E9" otherwise.
std::string describe_code_point(uint32_t cp);

}  // namespace cove::runtime::detail
