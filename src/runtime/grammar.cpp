// Grammar matcher: parse-stack sets advanced one code point at a time, and the token-trie walk
// that turns a state into a token mask. See grammar.h for the model and the guarantees.
#include "runtime/grammar.h"

#include <algorithm>
#include <cstdio>

#include "runtime/grammar_stack.h"

namespace cove::runtime {
namespace detail {

ScratchHolder::ScratchHolder() = default;
ScratchHolder::~ScratchHolder() = default;
ScratchHolder::ScratchHolder(const ScratchHolder&) {}
ScratchHolder& ScratchHolder::operator=(const ScratchHolder&) {
  return *this;
}
ScratchHolder::ScratchHolder(ScratchHolder&&) noexcept = default;
ScratchHolder& ScratchHolder::operator=(ScratchHolder&&) noexcept = default;
void ScratchHolder::reset() {
  scratch_.reset();
}
MatcherScratch& ScratchHolder::get() const {
  if (!scratch_) scratch_ = std::make_unique<MatcherScratch>();
  return *scratch_;
}

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

size_t Grammar::n_rules() const {
  return impl_->parsed.n_rules();
}
size_t Grammar::n_elements() const {
  return impl_->parsed.elements.size();
}
std::string Grammar::to_string() const {
  return format_gbnf(impl_->parsed);
}

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

GrammarMatcher& GrammarMatcher::operator=(const GrammarMatcher& other) {
  if (this == &other) return *this;
  // The step memo is only valid for one grammar under one set of limits (a limit can kill a
  // step); anything else starts from fresh scratch.
  const bool same_limits = limits_.max_stacks == other.limits_.max_stacks &&
                           limits_.max_stack_depth == other.limits_.max_stack_depth &&
                           limits_.max_expansions == other.limits_.max_expansions;
  if (grammar_ != other.grammar_ || !same_limits) scratch_.reset();
  grammar_ = other.grammar_;
  limits_ = other.limits_;
  nodes_ = other.nodes_;
  stacks_ = other.stacks_;
  partial_ = other.partial_;
  last_error_ = other.last_error_;
  return *this;
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
        case detail::StepStatus::kOk:
          break;
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
      level = {0,
               static_cast<uint32_t>(s.tops.size()),
               static_cast<uint32_t>(s.tops.size()),
               static_cast<uint32_t>(s.arena.size()),
               {}};
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
  return partial_.remaining == 0 &&
         std::find(stacks_.begin(), stacks_.end(), kNoNode) != stacks_.end();
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
    if (stepper.advance_byte(parent, node.byte, s.levels[node.depth]) != detail::StepStatus::kOk) {
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
