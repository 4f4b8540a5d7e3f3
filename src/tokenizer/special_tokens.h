// Finding special-token text (control and user-defined tokens) inside raw text.
//
// Before a model's own algorithm sees the text, every occurrence of a special token's exact
// text is cut out and becomes that token. Matching is leftmost-longest (the same rule as Hugging
// Face's added-token matcher): at each position the longest special text starting there wins,
// and scanning resumes after it. A byte trie keeps this O(text length x longest special text).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace cove::tokenizer {

// A stretch of the input: raw text for the model's algorithm, or one special token.
struct Fragment {
  std::string_view text;
  int32_t token = -1;  // -1: raw text
};

class SpecialTokenMatcher {
 public:
  SpecialTokenMatcher();
  // Adds a token to match; empty texts are ignored.
  void add(std::string_view text, int32_t id);
  bool empty() const { return nodes_.size() == 1; }

  // Replaces `fragments` with `text` cut at every special-token occurrence. Raw fragments are
  // never empty; adjacent special tokens give adjacent token fragments.
  void split(std::string_view text, std::vector<Fragment>& fragments) const;

 private:
  struct Node {
    int32_t token = -1;                                 // the token whose text ends here, or -1
    std::vector<std::pair<uint8_t, int32_t>> children;  // (byte, node index), few per node
  };
  int32_t child(int32_t node, uint8_t byte) const;

  std::vector<Node> nodes_;  // nodes_[0] is the root
  // The root's children by byte (-1: no special text starts with that byte). The root is
  // consulted at every position of the text, so it gets a direct table.
  std::array<int32_t, 256> root_children_;
};

}  // namespace cove::tokenizer
