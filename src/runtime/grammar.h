// Constrained decoding: a GBNF grammar (grammar_parser.h), a matcher that follows generated text
// through it, and the per-step token mask that keeps a model inside it.
//
// The matcher is a pushdown recognizer over Unicode code points. Its state is a set of parse
// stacks; each stack is a chain of positions in the grammar: the top is the terminal (a code
// point, class or `.`) that must match next, and the rest are the places to return to when the
// rules above them finish. An ambiguous grammar keeps several stacks alive at once; identical
// stacks are merged. A stack whose chain is empty means "root has matched completely".
//
// Stacks are stored as linked nodes (index of the node below), so a step shares everything under
// the top and costs O(changed nodes), and repetitions (which the parser makes right-recursive)
// run in constant depth.
//
// Token masks: TokenTrie holds the vocabulary's decoded byte strings in a trie, built once per
// vocabulary. GrammarMatcher::allowed_tokens walks that trie depth-first, advancing the stack
// set byte by byte (UTF-8 is decoded on the way, with partial code points checked against the
// code point ranges they can still become), and skips every subtree whose prefix the grammar
// rejects. Cost is proportional to the number of trie nodes the grammar lets through, not to the
// vocabulary size times the token length. A per-matcher memo (grammar_stack.h) remembers which
// steps map a stack set onto itself or kill it, keyed by structural hashes, so the common case
// (inside a JSON string nearly every token is allowed and every character loops back to the same
// state) costs a table look-up per trie node: about 2 ms of CPU for GPT-2's 50k tokens on the
// shared test machine (tests/grammar_test.cpp prints the numbers). The memo lives in the
// matcher's scratch: reset() keeps it, copies start without it.
//
// Semantics shared by accept_bytes() and allowed_tokens() (tests check they agree):
//   - a token is allowed iff accept_bytes(its piece) would succeed;
//   - a piece may end inside a multi-byte UTF-8 sequence: it is allowed when some completion of
//     that code point would be accepted, and the matcher carries the partial bytes over;
//   - tokens with an empty piece and special tokens are never allowed; end-of-generation tokens
//     are allowed exactly when can_end().
//
// Threading: a Grammar is immutable and may be shared by any number of matchers on any threads.
// A GrammarMatcher belongs to one thread at a time (allowed_tokens uses scratch buffers inside
// it); copies are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "runtime/grammar_parser.h"

namespace cove::runtime {

namespace detail {
struct CompiledGrammar;
struct MatcherScratch;

// One node of a parse stack: a position in CompiledGrammar::elements and the node below.
struct StackNode {
  uint32_t position;
  uint32_t parent;  // kNoNode at the bottom
  uint32_t depth;   // number of nodes in the chain, this one included
  uint64_t hash;    // of the whole chain, for merging identical stacks
};

// A code point that has started but not finished (UTF-8 bytes carried between tokens).
struct PartialUtf8 {
  uint32_t bits = 0;      // payload bits of the bytes seen so far
  uint8_t remaining = 0;  // continuation bytes still expected (0: none pending)
  uint8_t length = 0;     // total length of the sequence
};

// Owns scratch buffers, made on first use. Copying never copies them: a copy starts without
// any, and assignment keeps the target's own.
class ScratchHolder {
 public:
  ScratchHolder();
  ~ScratchHolder();
  ScratchHolder(const ScratchHolder&);
  ScratchHolder& operator=(const ScratchHolder&);
  ScratchHolder(ScratchHolder&&) noexcept;
  ScratchHolder& operator=(ScratchHolder&&) noexcept;
  MatcherScratch& get() const;
  void reset();

 private:
  mutable std::unique_ptr<MatcherScratch> scratch_;
};
}  // namespace detail

// A parsed, immutable grammar. Cheap to copy (shared).
class Grammar {
 public:
  static Result<Grammar> parse(std::string_view gbnf, std::string_view root = "root",
                               const GrammarLimits& limits = {});

  size_t n_rules() const;
  size_t n_elements() const;
  // The compiled grammar as GBNF (helper rules included).
  std::string to_string() const;

 private:
  Grammar() = default;
  std::shared_ptr<const detail::CompiledGrammar> impl_;
  friend class GrammarMatcher;
};

// A vocabulary's tokens as a byte trie for allowed_tokens(). Build once per model.
class TokenTrie {
 public:
  // token_pieces[id] is the exact byte string the token decodes to. Special tokens (is_special;
  // missing entries count as false) and the end-of-generation ids are kept out of the trie.
  static TokenTrie build(const std::vector<std::string>& token_pieces,
                         const std::vector<bool>& is_special,
                         const std::vector<int32_t>& end_of_generation = {});

  size_t n_tokens() const { return pieces_.size(); }
  size_t n_nodes() const { return nodes_.size(); }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  bool is_special(int32_t id) const { return special_[static_cast<size_t>(id)]; }
  bool is_end_of_generation(int32_t id) const;
  const std::vector<int32_t>& end_of_generation() const { return end_of_generation_; }

 private:
  friend class GrammarMatcher;
  // Nodes in depth-first pre-order; node 0 is the root (empty prefix). The children of a node
  // follow it directly, and its subtree ends at subtree_end, so a walk skips a rejected subtree
  // with one jump.
  struct Node {
    uint32_t subtree_end;
    uint32_t token_begin;  // tokens whose piece ends here: token_ids_[token_begin, token_end)
    uint32_t token_end;
    uint32_t depth;  // bytes from the root
    uint8_t byte;    // the edge label from the parent
  };
  std::vector<Node> nodes_;
  std::vector<int32_t> token_ids_;
  std::vector<std::string> pieces_;
  std::vector<bool> special_;
  std::vector<int32_t> end_of_generation_;
  uint32_t max_depth_ = 0;
};

struct MatcherLimits {
  // Parse stacks alive at once. Ambiguous grammars can grow this without bound; past the limit
  // the step fails (accept_bytes returns false, last_error() says why, such tokens are masked).
  uint32_t max_stacks = 4096;
  // Nodes in one stack (nesting depth of the text, roughly). Deeper paths are dropped.
  uint32_t max_stack_depth = 8192;
  // Expansion work for one code point, across all stacks.
  uint32_t max_expansions = 1u << 18;
};

class GrammarMatcher {
 public:
  explicit GrammarMatcher(const Grammar& grammar, const MatcherLimits& limits = {});

  // Copies are independent matchers in the same state: a clone costs a copy of the live stack
  // nodes (usually well under a few kilobytes); scratch buffers are not copied. Roll back with
  // `matcher = checkpoint`: assignment between matchers of the same grammar and limits keeps the
  // target's scratch and step memo warm.
  GrammarMatcher(const GrammarMatcher&) = default;
  GrammarMatcher& operator=(const GrammarMatcher& other);
  GrammarMatcher(GrammarMatcher&&) noexcept = default;
  GrammarMatcher& operator=(GrammarMatcher&&) noexcept = default;
  GrammarMatcher clone() const { return *this; }

  // Advances over generated bytes; a multi-byte code point may be split across calls. Returns
  // false, and leaves the state unchanged, when the grammar rejects the bytes (or a limit is
  // hit); last_error() then says why.
  bool accept_bytes(std::string_view bytes);
  // Convenience for the sampler: an EOG token returns can_end() and changes nothing; special
  // and empty tokens return false; other tokens are accept_bytes(piece).
  bool accept_token(const TokenTrie& vocab, int32_t token_id);

  // Whether the code point could come next (false while a partial code point is pending).
  bool accepts(uint32_t code_point) const;
  // The text so far is a complete match of the root rule: end-of-generation may come now.
  bool can_end() const;
  // can_end(), and nothing more can be accepted: generation should stop.
  bool is_complete() const;
  // True when the matcher could not even start (limits exceeded on the first expansion).
  bool failed() const { return stacks_.empty(); }

  // mask[id] = 1 when the token may come next, 0 otherwise; resized to vocab.n_tokens().
  void allowed_tokens(const TokenTrie& vocab, std::vector<uint8_t>& mask) const;

  // Back to the start state (keeps the scratch buffers and the step memo).
  void reset();

  size_t n_stacks() const { return stacks_.size(); }
  const std::string& last_error() const { return last_error_; }

 private:
  std::shared_ptr<const detail::CompiledGrammar> grammar_;
  MatcherLimits limits_;
  std::vector<detail::StackNode> nodes_;  // live nodes only, compacted after each accept
  std::vector<uint32_t> stacks_;          // tops (indices into nodes_); kNoNode = finished
  detail::PartialUtf8 partial_;
  std::string last_error_;
  detail::ScratchHolder scratch_;
};

}  // namespace cove::runtime
