#include "tokenizer/special_tokens.h"

namespace cove::tokenizer {

SpecialTokenMatcher::SpecialTokenMatcher() : nodes_(1) {
  root_children_.fill(-1);
}

int32_t SpecialTokenMatcher::child(int32_t node, uint8_t byte) const {
  if (node == 0) return root_children_[byte];
  for (const auto& [b, index] : nodes_[node].children) {
    if (b == byte) return index;
  }
  return -1;
}

void SpecialTokenMatcher::add(std::string_view text, int32_t id) {
  if (text.empty()) return;
  int32_t node = 0;
  for (char c : text) {
    const auto byte = static_cast<uint8_t>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      if (node == 0) {
        root_children_[byte] = next;
      } else {
        nodes_[node].children.emplace_back(byte, next);
      }
      nodes_.emplace_back();
    }
    node = next;
  }
  nodes_[node].token = id;
}

void SpecialTokenMatcher::split(std::string_view text, std::vector<Fragment>& fragments) const {
  fragments.clear();
  size_t raw_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (root_children_[static_cast<uint8_t>(text[pos])] < 0) {
      ++pos;
      continue;
    }
    // Walk the trie as far as the text allows, remembering the longest complete token.
    int32_t node = 0, best_token = -1;
    size_t best_end = pos;
    for (size_t i = pos; i < text.size(); ++i) {
      node = child(node, static_cast<uint8_t>(text[i]));
      if (node < 0) break;
      if (nodes_[node].token >= 0) {
        best_token = nodes_[node].token;
        best_end = i + 1;
      }
    }
    if (best_token < 0) {
      ++pos;
      continue;
    }
    if (pos > raw_start) fragments.push_back({text.substr(raw_start, pos - raw_start), -1});
    fragments.push_back({text.substr(pos, best_end - pos), best_token});
    pos = raw_start = best_end;
  }
  if (raw_start < text.size()) fragments.push_back({text.substr(raw_start), -1});
}

}  // namespace cove::tokenizer
