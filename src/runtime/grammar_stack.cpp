// The parse-stack engine: expansion of rule references into terminal-topped stacks, merging of
// identical stacks, UTF-8 decoding byte by byte, and the step memo used by the trie walk.
#include "runtime/grammar_stack.h"

#include <algorithm>
#include <cstdio>

namespace cove::runtime::detail {

StepStatus Stepper::start() {
  begin_step();
  const uint32_t root = g_.root;
  for (uint32_t a = g_.rule_alternatives[root]; a < g_.rule_alternatives[root + 1]; ++a) {
    if (!expand(g_.alternative_starts[a], kNoNode)) break;
  }
  return end_step();
}

Level Stepper::first_level(uint32_t n, PartialUtf8 partial) {
  Level level;
  level.tops_begin = 0;
  level.tops_end = level.tops_mark = n;
  level.arena_mark = static_cast<uint32_t>(s_.arena.size());
  level.partial = partial;
  level.set_hash = set_hash(0, n);
  level.set_info = set_info_for(level.set_hash);
  return level;
}

StepStatus Stepper::advance_byte(const Level& from, uint8_t byte, Level& to) {
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

bool Stepper::matches(uint32_t position, uint32_t cp) const {
  const GrammarElement& e = g_.elements[position];
  switch (e.kind) {
    case ElementKind::kChar:
      return e.value == cp;
    case ElementKind::kAnyChar:
      return true;
    case ElementKind::kCharClass: {
      if (cp < 128) return (ascii_[e.value][cp >> 6] >> (cp & 63)) & 1;
      const CharRange* begin = g_.class_ranges.data() + g_.class_offsets[e.value];
      const CharRange* end = g_.class_ranges.data() + g_.class_offsets[e.value + 1];
      const CharRange* it = std::upper_bound(
          begin, end, cp, [](uint32_t value, const CharRange& r) { return value < r.first; });
      return it != begin && (it - 1)->last >= cp;
    }
    default:
      return false;
  }
}

uint32_t Stepper::min_code_point(uint8_t length) {
  return length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
}

uint32_t Stepper::max_code_point(uint8_t length) {
  return length == 2 ? 0x7FF : length == 3 ? 0xFFFF : kMaxCodePoint;
}

bool Stepper::intersects(uint32_t position, uint32_t lo, uint32_t hi) const {
  const GrammarElement& e = g_.elements[position];
  switch (e.kind) {
    case ElementKind::kChar:
      return e.value >= lo && e.value <= hi;
    case ElementKind::kAnyChar:
      return true;
    case ElementKind::kCharClass: {
      const CharRange* begin = g_.class_ranges.data() + g_.class_offsets[e.value];
      const CharRange* end = g_.class_ranges.data() + g_.class_offsets[e.value + 1];
      const CharRange* it = std::lower_bound(
          begin, end, lo, [](const CharRange& r, uint32_t value) { return r.last < value; });
      return it != end && it->first <= hi;
    }
    default:
      return false;
  }
}

bool Stepper::any_top_intersects(const Level& level, uint32_t lo, uint32_t hi) const {
  for (uint32_t i = level.tops_begin; i < level.tops_end; ++i) {
    const uint32_t top = s_.tops[i];
    if (top != kNoNode && intersects(s_.arena[top].position, lo, hi)) return true;
  }
  return false;
}

StepStatus Stepper::step(const Level& from, uint32_t cp, Level& to) {
  if (!memo_) return compute_step(from, cp, to);
  // ASCII answers sit in the set's flat array; the rest go through the subset memo. (Index the
  // array afresh each time: set_info_for() below may grow it.)
  const bool ascii = cp < 128;
  StepMemo::Kind known = ascii ? static_cast<StepMemo::Kind>(s_.set_infos[from.set_info].ascii[cp])
                               : StepMemo::kUnknown;
  uint64_t subset = 0;
  if (known == StepMemo::kUnknown) {
    subset = accepting_subset_hash(from, cp);
    known = subset == 0 ? StepMemo::kDead : memo_->find(from.set_hash, subset);
    if (ascii) s_.set_infos[from.set_info].ascii[cp] = known;
  }
  switch (known) {
    case StepMemo::kIdentity:
      to = from;
      to.tops_mark = static_cast<uint32_t>(s_.tops.size());
      to.arena_mark = static_cast<uint32_t>(s_.arena.size());
      to.partial = {};
      return StepStatus::kOk;
    case StepMemo::kDead:
      return StepStatus::kRejected;
    default:
      break;
  }
  const StepStatus status = compute_step(from, cp, to);
  StepMemo::Kind kind = StepMemo::kDead;
  if (status == StepStatus::kOk) {
    to.set_hash = set_hash(to.tops_begin, to.tops_end);
    const bool identity = to.set_hash == from.set_hash && same_set(from, to);
    kind = identity ? StepMemo::kIdentity : StepMemo::kOther;
    to.set_info = identity ? from.set_info : set_info_for(to.set_hash);
  }
  if (ascii) s_.set_infos[from.set_info].ascii[cp] = kind;
  if (subset != 0) memo_->put(from.set_hash, subset, kind);
  return status;
}

uint64_t Stepper::accepting_subset_hash(const Level& level, uint32_t cp) const {
  uint64_t sum = 0;
  bool any = false;
  for (uint32_t i = level.tops_begin; i < level.tops_end; ++i) {
    const uint32_t top = s_.tops[i];
    if (top != kNoNode && matches(s_.arena[top].position, cp)) {
      sum += mix64(s_.arena[top].hash ^ 0x5851F42D4C957F2Dull);
      any = true;
    }
  }
  return any ? (sum | 1) : 0;
}

uint32_t Stepper::set_info_for(uint64_t hash) {
  auto [it, inserted] =
      s_.set_info_of.try_emplace(hash, static_cast<uint32_t>(s_.set_infos.size()));
  if (inserted) s_.set_infos.push_back({hash, {}});
  return it->second;
}

bool Stepper::same_set(const Level& a, const Level& b) const {
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

StepStatus Stepper::compute_step(const Level& from, uint32_t cp, Level& to) {
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

void Stepper::begin_step() {
  s_.visited.new_round();
  s_.merged.new_round();
  step_begin_ = static_cast<uint32_t>(s_.tops.size());
  expansions_ = 0;
  status_ = StepStatus::kOk;
  dropped_deep_ = false;
}

StepStatus Stepper::end_step() {
  if (status_ != StepStatus::kOk) return status_;
  if (s_.tops.size() == step_begin_) {
    return dropped_deep_ ? StepStatus::kTooDeep : StepStatus::kRejected;
  }
  return StepStatus::kOk;
}

uint64_t Stepper::chain_hash(uint32_t position, uint32_t parent) const {
  const uint64_t below = parent == kNoNode ? kBottomHash : s_.arena[parent].hash;
  return mix64(below + (static_cast<uint64_t>(position) + 1) * 0x9E3779B97F4A7C15ull);
}

bool Stepper::same_chain(uint32_t a, uint32_t b) const {
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

uint32_t Stepper::new_node(uint32_t position, uint32_t parent) {
  const uint32_t depth = parent == kNoNode ? 1 : s_.arena[parent].depth + 1;
  if (depth > limits_.max_stack_depth) {
    dropped_deep_ = true;
    return kNoNode;
  }
  s_.arena.push_back({position, parent, depth, chain_hash(position, parent)});
  return static_cast<uint32_t>(s_.arena.size() - 1);
}

bool Stepper::emit(uint32_t position, uint32_t parent) {
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

bool Stepper::expand(uint32_t position, uint32_t parent) {
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

void compact(const std::vector<StackNode>& arena, const std::vector<uint32_t>& tops, uint32_t begin,
             uint32_t end, std::vector<uint32_t>& remap, std::vector<uint32_t>& chain,
             std::vector<StackNode>& nodes, std::vector<uint32_t>& stacks) {
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

}  // namespace cove::runtime::detail
