// libFuzzer target for constrained decoding. Any bytes, read as GBNF, must give a Grammar or an
// Error, never a crash or a runaway allocation. A grammar that parses must:
//   - print (Grammar::to_string) as GBNF that parses again and prints the same;
//   - survive a matcher fed a fixed text byte by byte (rejected bytes are skipped);
//   - give, at every state on the way, a trie-walk token mask equal to the brute force (each
//     token's piece fed to a copy of the matcher) over a small vocabulary.
// When the bytes are JSON, they also go through json_schema_to_gbnf, whose output must parse.
//
// Build with -DCOVE_FUZZ=ON (clang), or by hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     src/runtime/grammar*.cpp src/runtime/json_schema*.cpp fuzz/grammar_fuzz.cpp
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/grammar.h"
#include "runtime/json_schema.h"

namespace {

using cove::runtime::Grammar;
using cove::runtime::GrammarLimits;
using cove::runtime::GrammarMatcher;
using cove::runtime::MatcherLimits;
using cove::runtime::TokenTrie;

// Every single byte (so every lead and continuation byte), some multi-byte characters whole and
// split, a few longer pieces, an empty piece, a special token and an end-of-generation token.
const TokenTrie& fuzz_vocab() {
  static const TokenTrie vocab = [] {
    std::vector<std::string> pieces;
    for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
    for (
        const char* piece :
        {"\xC3\xA9", "\xC3",     "\xA9", "\xE2\x82\xAC", "\xE2\x82", "\x82\xAC", "\xF0\x9F\x98\x80",
         "\xF0\x9F", "\x98\x80", "ab",   "abc",          "{\"",      "\":",      "\", \"",
         "true",     "null",     "12",   "-1.5e3",       "  ",       "\n  ",     "xyz",
         "()",       "[]",       "{}",   "a\xC3\xA9",    "\\u00",    "\\n",      ""}) {
      pieces.emplace_back(piece);
    }
    std::vector<bool> special(pieces.size(), false);
    pieces.emplace_back("<special>");
    special.push_back(true);
    pieces.emplace_back("</s>");
    special.push_back(true);
    return TokenTrie::build(pieces, special, {static_cast<int32_t>(pieces.size() - 1)});
  }();
  return vocab;
}

void check_mask(const GrammarMatcher& matcher) {
  const TokenTrie& vocab = fuzz_vocab();
  std::vector<uint8_t> mask;
  matcher.allowed_tokens(vocab, mask);
  for (size_t i = 0; i < vocab.n_tokens(); ++i) {
    const int32_t id = static_cast<int32_t>(i);
    uint8_t expected = 0;
    if (vocab.is_end_of_generation(id)) {
      expected = matcher.can_end();
    } else if (!vocab.is_special(id) && !vocab.piece(id).empty()) {
      GrammarMatcher copy = matcher;
      expected = copy.accept_bytes(vocab.piece(id));
    }
    if (mask[i] != expected) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Smaller limits than the defaults keep each input fast; the code paths are the same.
  GrammarLimits grammar_limits;
  grammar_limits.max_elements = 1u << 16;
  grammar_limits.max_repetition = 1000;
  MatcherLimits matcher_limits;
  matcher_limits.max_stacks = 256;
  matcher_limits.max_stack_depth = 256;
  matcher_limits.max_expansions = 1u << 14;

  const nlohmann::ordered_json schema =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!schema.is_discarded()) {
    cove::Result<std::string> gbnf = cove::runtime::json_schema_to_gbnf(schema);
    if (gbnf.is_ok()) {
      cove::Result<Grammar> generated = Grammar::parse(*gbnf);
      // The converter's output is always valid GBNF; only the size limits may refuse it.
      if (!generated.is_ok() && generated.message().find("more than") == std::string::npos) {
        __builtin_trap();
      }
    }
  }

  cove::Result<Grammar> grammar = Grammar::parse(text, "root", grammar_limits);
  if (!grammar.is_ok()) return 0;

  const std::string printed = grammar->to_string();
  cove::Result<Grammar> reparsed = Grammar::parse(printed, "root", grammar_limits);
  if (!reparsed.is_ok() || reparsed->to_string() != printed) __builtin_trap();

  static const std::string_view kText =
      "{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\"]} (abc)+123*x \xC3\xA9\xF0\x9F\x98\x80\n";
  GrammarMatcher matcher(*grammar, matcher_limits);
  if (matcher.failed()) return 0;
  check_mask(matcher);
  for (size_t i = 0; i < kText.size(); ++i) {
    const GrammarMatcher before = matcher;
    if (!matcher.accept_bytes(kText.substr(i, 1))) {
      // A rejected byte leaves the state as it was.
      if (matcher.n_stacks() != before.n_stacks() || matcher.can_end() != before.can_end()) {
        __builtin_trap();
      }
      continue;
    }
    if (i % 5 == 0) check_mask(matcher);
    if (matcher.is_complete()) break;
  }
  return 0;
}
