// Tests for constrained decoding: the GBNF parser, the matcher, the token mask and the JSON
// Schema conversion.
//
// What they prove: the parser accepts the whole dialect and rejects bad grammars with the right
// line and column; the matcher accepts exactly the strings of the grammar, carries partial
// UTF-8 across chunks, rolls back through copies, and fails with a clear message at its limits;
// the trie-walk token mask equals an independent brute force (every token's piece fed to a copy
// of the matcher) on many random states of several grammars, including the real GPT-2
// vocabulary; and schema grammars accept valid instances (compact and pretty-printed) and
// reject invalid ones. The GPT-2 test prints the mask time (thread CPU time); it asserts
// nothing about speed.
#include "runtime/grammar.h"

#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include "gguf/gguf.h"
#include "runtime/grammar_parser.h"
#include "runtime/json_schema.h"

namespace cove::runtime {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const fs::path kSharedDir = fs::path(COVE_SOURCE_DIR) / ".." / "shared";

// Thread CPU time: the test machines are shared, and wall time there mostly measures the load.
double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Helpers

Grammar parse_or_die(std::string_view gbnf) {
  Result<Grammar> grammar = Grammar::parse(gbnf);
  EXPECT_TRUE(grammar.is_ok()) << grammar.message() << "\n" << gbnf;
  if (!grammar) std::abort();
  return *grammar;
}

// The whole text is a sentence of the grammar.
bool matches(const Grammar& grammar, std::string_view text) {
  GrammarMatcher matcher(grammar);
  return matcher.accept_bytes(text) && matcher.can_end();
}

// The text can be continued into a sentence (or is one).
bool is_prefix(const Grammar& grammar, std::string_view text) {
  GrammarMatcher matcher(grammar);
  return matcher.accept_bytes(text);
}

std::string parse_error(std::string_view gbnf, const GrammarLimits& limits = {}) {
  Result<Grammar> grammar = Grammar::parse(gbnf, "root", limits);
  return grammar.is_ok() ? std::string("(parsed)") : grammar.message();
}

// The reference for allowed_tokens(): every token tried on its own copy of the matcher.
std::vector<uint8_t> brute_force_mask(const GrammarMatcher& matcher, const TokenTrie& vocab) {
  std::vector<uint8_t> mask(vocab.n_tokens(), 0);
  GrammarMatcher probe = matcher;
  for (size_t i = 0; i < vocab.n_tokens(); ++i) {
    const int32_t id = static_cast<int32_t>(i);
    if (vocab.is_end_of_generation(id)) {
      mask[i] = matcher.can_end();
    } else if (!vocab.is_special(id) && !vocab.piece(id).empty()) {
      mask[i] = probe.accept_bytes(vocab.piece(id));
      if (mask[i]) probe = matcher;  // a rejected piece leaves the probe unchanged
    }
  }
  return mask;
}

std::string describe_mask_difference(const std::vector<uint8_t>& trie,
                                     const std::vector<uint8_t>& brute, const TokenTrie& vocab) {
  std::string out;
  for (size_t i = 0; i < trie.size() && out.size() < 400; ++i) {
    if (trie[i] != brute[i]) {
      out += "token " + std::to_string(i) + " '" + vocab.piece(static_cast<int32_t>(i)) +
             "': trie " + std::to_string(trie[i]) + ", brute force " + std::to_string(brute[i]) +
             "\n";
    }
  }
  return out;
}

// A small vocabulary with the hard cases: every single byte (so invalid UTF-8 and lone
// continuation bytes too), multi-byte characters split at every byte, JSON-ish pieces, an empty
// piece, special tokens and two end-of-generation tokens.
struct SyntheticVocab {
  std::vector<std::string> pieces;
  std::vector<bool> special;
  std::vector<int32_t> eog;
};

SyntheticVocab make_synthetic_vocab(uint32_t seed) {
  SyntheticVocab v;
  const auto add = [&](std::string piece, bool special = false) {
    v.pieces.push_back(std::move(piece));
    v.special.push_back(special);
  };
  for (int b = 0; b < 256; ++b) add(std::string(1, static_cast<char>(b)));
  const std::vector<std::string> multibyte = {"é", "ü", "€", "中", "😀", "ω", "α"};
  for (const std::string& c : multibyte) {
    add(c);
    for (size_t split = 1; split < c.size(); ++split) {
      add(c.substr(0, split));
      add(c.substr(split));
    }
  }
  for (const char* piece :
       {"{",         "}",       "{\"",  "\":",      "\": ", "\",",  "\", \"", " \"",
        "true",      "tr",      "ue",   "false",    "null", "nu",   "12",     "3.",
        "-0",        "e+",      "1e",   "\\u",      "\\n",  "\\\"", "00e9",   "  ",
        "\n",        "\n  ",    "    ", "[",        "]",    "[]",   "{}",     "},",
        "],",        "name",    "age",  "\"name\"", "ab",   "abc",  "bcd",    "+",
        "*",         "(",       ")",    "1+",       "2*(",  "x",    "xyz",    "é1",
        "1é",        "€uro",    "ωα",   "2024-",    "-01-", "T12:", "00:00Z", "get_weather",
        "arguments", "location"}) {
    add(piece);
  }
  std::mt19937 rng(seed);
  const std::string alphabet = "abcxyz01239.-+eE\"{}[],: \n\\uéω€😀";
  for (int i = 0; i < 300; ++i) {
    std::string piece;
    const size_t length = 1 + rng() % 6;
    while (piece.size() < length) piece += alphabet[rng() % alphabet.size()];
    add(piece);  // random byte strings: may cut UTF-8 anywhere
  }
  add("");  // an empty piece is never allowed
  add("<s>", true);
  v.eog.push_back(static_cast<int32_t>(v.pieces.size()));
  add("</s>", true);
  v.eog.push_back(static_cast<int32_t>(v.pieces.size()));
  add("<|eot|>");  // an EOG token that is not marked special
  return v;
}

// Random walks through a grammar, comparing the trie mask with the brute force at every state.
// Returns the number of states compared.
int compare_masks_on_random_walks(const Grammar& grammar, const SyntheticVocab& sv, int n_walks,
                                  int max_steps, uint32_t seed, const MatcherLimits& limits = {}) {
  const TokenTrie vocab = TokenTrie::build(sv.pieces, sv.special, sv.eog);
  std::mt19937 rng(seed);
  int states = 0;
  std::vector<uint8_t> mask;
  for (int walk = 0; walk < n_walks; ++walk) {
    GrammarMatcher matcher(grammar, limits);
    for (int step = 0; step < max_steps; ++step) {
      matcher.allowed_tokens(vocab, mask);
      const std::vector<uint8_t> expected = brute_force_mask(matcher, vocab);
      ++states;
      EXPECT_EQ(mask, expected) << "walk " << walk << " step " << step << "\n"
                                << describe_mask_difference(mask, expected, vocab);
      if (mask != expected) return states;
      std::vector<int32_t> allowed;
      for (size_t i = 0; i < mask.size(); ++i) {
        if (mask[i] && !vocab.is_end_of_generation(static_cast<int32_t>(i))) {
          allowed.push_back(static_cast<int32_t>(i));
        }
      }
      if (allowed.empty()) break;
      const int32_t token = allowed[rng() % allowed.size()];
      EXPECT_TRUE(matcher.accept_token(vocab, token)) << matcher.last_error();
    }
  }
  return states;
}

// ---------------------------------------------------------------------------------------------
// Parser

TEST(GrammarParser, AcceptsTheWholeDialect) {
  const Grammar g = parse_or_die(R"g(
# A comment line.
root   ::= greeting ws name ("!" | "?")?   # trailing comment
greeting ::= "hello" | "hi"
    | "hey"
ws     ::= [ \t]+
name   ::= [A-Z] [a-z0-9_-]* suffix{0,2}
suffix ::= "'" [^'\n]
)g");
  EXPECT_TRUE(matches(g, "hello World"));
  EXPECT_TRUE(matches(g, "hey \tAl_9!"));
  EXPECT_TRUE(matches(g, "hi Bo'x'y?"));
  EXPECT_FALSE(matches(g, "hi Bo'x'y'z"));  // at most two suffixes
  EXPECT_FALSE(matches(g, "hello world"));  // lower-case start
  EXPECT_FALSE(matches(g, "hello  World!!"));
  EXPECT_FALSE(matches(g, "helloWorld"));
}

TEST(GrammarParser, RepetitionCountsAreExact) {
  const Grammar g = parse_or_die(R"g(root ::= "a"{2} "b"{1,3} "c"{2,} "d"{,1} ("xy"){0,2})g");
  EXPECT_TRUE(matches(g, "aabcc"));
  EXPECT_TRUE(matches(g, "aabbbccccdxyxy"));
  EXPECT_FALSE(matches(g, "abcc"));         // one a
  EXPECT_FALSE(matches(g, "aabbbbcc"));     // four b
  EXPECT_FALSE(matches(g, "aabc"));         // one c
  EXPECT_FALSE(matches(g, "aabccdd"));      // two d
  EXPECT_FALSE(matches(g, "aabccxyxyxy"));  // three xy
  EXPECT_FALSE(matches(g, "aabccx"));
}

TEST(GrammarParser, EscapesDecodeToCodePoints) {
  const Grammar g =
      parse_or_die(R"g(root ::= "\x41\u00e9\U0001F600\n\t\"\\\/" [\x30-\x39\]\-] .)g");
  EXPECT_TRUE(matches(g, "Aé😀\n\t\"\\/5中"));
  EXPECT_TRUE(matches(g, "Aé😀\n\t\"\\/]x"));
  EXPECT_TRUE(matches(g, "Aé😀\n\t\"\\/-x"));
  EXPECT_FALSE(matches(g, "Aé😀\n\t\"\\/a!"));
}

TEST(GrammarParser, AlternativesMayContinueOnLinesStartingWithBar) {
  const Grammar g =
      parse_or_die("root ::= \"a\"\n  | \"b\"\n\n  # note\n  | \"c\"\nother ::= \"d\"\n");
  EXPECT_TRUE(matches(g, "a"));
  EXPECT_TRUE(matches(g, "b"));
  EXPECT_TRUE(matches(g, "c"));
  EXPECT_FALSE(matches(g, "d"));
}

TEST(GrammarParser, ErrorsNameLineAndColumn) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"root ::= a\n  a ::= b\n", "grammar 2:9: undefined rule 'b'"},
      {"root ::= \"abc\n", "grammar 1:10: unterminated string literal"},
      {"root ::= [a-z\n", "grammar 1:10: unterminated character class"},
      {"root ::= \"a\\q\"", "grammar 1:12: unknown escape '\\q'"},
      {"root ::= \"\\x4\"", "grammar 1:11: escape '\\x' needs 2 hex digits"},
      {"root ::= \"\\uD800\"", "grammar 1:11: escape '\\uD800' is not a Unicode scalar value"},
      {"root ::= \"é\" \"\\U00110000\"", "grammar 1:15: escape '\\U00110000' is not a Unicode"},
      {"root \"a\"", "grammar 1:6: expected '::=' after the rule name 'root'"},
      {"root ::= \"a\"\nroot ::= \"b\"",
       "grammar 2:1: rule 'root' is defined twice (first at "
       "grammar 1:1)"},
      {"root ::= \"a\" )", "grammar 1:14: ')' without a matching '('"},
      {"root ::= ( \"a\" | \"b\"", "grammar 1:10: '(' is never closed"},
      {"root ::= * \"a\"", "grammar 1:10: '*' has nothing to repeat"},
      {"root ::= \"a\"{3,1}", "grammar 1:13: repetition {3,1} has its maximum below its minimum"},
      {"root ::= \"a\"{}", "grammar 1:13: '{}' needs a count"},
      {"root ::= []", "grammar 1:10: empty character class"},
      {"root ::= [z-a]", "grammar 1:11: character range ends before it starts"},
      {"root ::= \"\xC3\x28\"", "grammar 1:11: invalid UTF-8"},
      {"start ::= \"a\"", "grammar: no rule named 'root'"},
      {"root ::= expr\nexpr ::= expr \"+\" [0-9] | [0-9]",
       "grammar 2:1: rule 'expr' is left-recursive"},
      {"root ::= a\na ::= b \"x\"\nb ::= a \"y\" | \"z\"",
       "grammar 2:1: rules 'a' -> 'b' -> 'a' are left-recursive"},
      {"root ::= opt root \"x\" | \"y\"\nopt ::= \"o\"?", "grammar 1:1: rule 'root' is left-"},
      {"root ::= (\"x\"?)*", "grammar 1:16: the repeated item can match the empty string"},
      {"root ::= \"a\" |\nnext ::= \"b\"", "grammar 2:1: 'next ::=' inside a rule body"},
      {"root ::= \"a\" @", "grammar 1:14: unexpected '@'"},
  };
  for (const auto& [gbnf, expected] : cases) {
    const std::string error = parse_error(gbnf);
    EXPECT_NE(error.find(expected), std::string::npos)
        << "grammar:\n"
        << gbnf << "\nexpected: " << expected << "\ngot:      " << error;
  }
}

TEST(GrammarParser, HostileInputsGiveErrorsNotBlowups) {
  EXPECT_NE(parse_error("root ::= \"a\"{99999999999999999999}").find("larger than the limit"),
            std::string::npos);
  // Nested repetitions cost the sum of their counts (each level becomes a rule), not the product.
  EXPECT_TRUE(Grammar::parse("root ::= ((\"a\"{10000}){10000}){10000}").is_ok());
  std::string wide = "root ::=";
  for (int i = 0; i < 200; ++i) wide += " [a-z]{10000}";
  EXPECT_NE(parse_error(wide).find("more than"), std::string::npos);
  const std::string deep =
      "root ::= " + std::string(100000, '(') + "\"a\"" + std::string(100000, ')');
  EXPECT_NE(parse_error(deep).find("nested deeper than"), std::string::npos);
  GrammarLimits small;
  small.max_elements = 100;
  EXPECT_NE(parse_error("root ::= [a-z]{50} [0-9]{50}", small).find("more than 100 elements"),
            std::string::npos);

  // A long chain of rules parses and matches (the matcher expands it without recursion).
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 20000; ++i) {
    chain += "r" + std::to_string(i) + " ::= r" + std::to_string(i + 1) + "\n";
  }
  chain += "r20000 ::= \"x\" | \"y\"\n";
  const Grammar g = parse_or_die(chain);
  EXPECT_TRUE(matches(g, "x"));
  EXPECT_TRUE(matches(g, "y"));
}

TEST(GrammarParser, FormatRoundTripsToTheSameGrammar) {
  for (const std::string& gbnf :
       {std::string(R"g(root ::= "a"{2,4} [^"\\] ("x" | "y" "z")* . "\u00e9\n")g"),
        json_object_gbnf(), std::string("root ::= item+ | \"\"\nitem ::= [a-cx-z0-9] \"-\"?")}) {
    const Grammar g = parse_or_die(gbnf);
    const std::string printed = g.to_string();
    const Grammar again = parse_or_die(printed);
    EXPECT_EQ(again.to_string(), printed) << gbnf;
    EXPECT_EQ(again.n_elements(), g.n_elements());
  }
}

// ---------------------------------------------------------------------------------------------
// Matcher

TEST(GrammarMatcher, ArithmeticAcceptsExactlyItsSentences) {
  const Grammar g = parse_or_die(R"g(
root   ::= expr
expr   ::= term (("+" | "-") term)*
term   ::= factor (("*" | "/") factor)*
factor ::= [0-9]+ | "(" expr ")"
)g");
  for (const char* good : {"1", "12+3", "(1+2)*3", "((4))", "1*(2-3)/45+6"}) {
    EXPECT_TRUE(matches(g, good)) << good;
  }
  for (const char* bad : {"", "+1", "1+", "(1", "1)", "1++2", "()", "a"}) {
    EXPECT_FALSE(matches(g, bad)) << bad;
  }
  EXPECT_TRUE(is_prefix(g, "(1+"));
  EXPECT_FALSE(is_prefix(g, "(1+)"));
}

TEST(GrammarMatcher, RejectionLeavesTheStateUnchanged) {
  const Grammar g = parse_or_die(R"g(root ::= "ab" [0-9]+ "c")g");
  GrammarMatcher matcher(g);
  ASSERT_TRUE(matcher.accept_bytes("ab1"));
  EXPECT_FALSE(matcher.accept_bytes("2x"));  // '2' is fine, 'x' is not: nothing is consumed
  EXPECT_NE(matcher.last_error().find("'x' (U+0078) is not allowed here"), std::string::npos)
      << matcher.last_error();
  EXPECT_TRUE(matcher.accept_bytes("2"));
  EXPECT_TRUE(matcher.accept_bytes("c"));
  EXPECT_TRUE(matcher.is_complete());
}

TEST(GrammarMatcher, PartialUtf8IsCarriedAcrossChunks) {
  const Grammar g = parse_or_die(R"g(root ::= "é" [α-ω]+ "😀")g");
  const std::string text = "éαβω😀";
  // Every way of cutting the text into two chunks gives the same result.
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    GrammarMatcher matcher(g);
    EXPECT_TRUE(matcher.accept_bytes(text.substr(0, cut))) << cut;
    EXPECT_TRUE(matcher.accept_bytes(text.substr(cut))) << cut;
    EXPECT_TRUE(matcher.is_complete()) << cut;
  }
  // Byte by byte; nothing can end while a code point is half-way.
  GrammarMatcher matcher(g);
  for (size_t i = 0; i < text.size(); ++i) {
    ASSERT_TRUE(matcher.accept_bytes(text.substr(i, 1))) << i;
    if (i + 1 < text.size()) {
      EXPECT_FALSE(matcher.can_end());
    }
  }
  EXPECT_TRUE(matcher.can_end());

  GrammarMatcher fresh(g);
  EXPECT_TRUE(fresh.accept_bytes("\xC3"));   // é and ü share the first byte
  EXPECT_FALSE(fresh.accept_bytes("\xBC"));  // ... but ü is not allowed
  EXPECT_FALSE(fresh.accepts('x'));          // no whole code point while one is pending
  EXPECT_TRUE(fresh.accept_bytes("\xA9"));
  EXPECT_FALSE(fresh.accept_bytes("\xE4"));  // no 3-byte character can come next (α-ω are 2)
  EXPECT_TRUE(fresh.accept_bytes("\xCE"));   // α..ο start with CE
  EXPECT_FALSE(fresh.accept_bytes("\x80"));  // U+0380 is not in α-ω

  const Grammar any = parse_or_die("root ::= .*");
  for (const char* bad : {"\xFF", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80"}) {
    EXPECT_FALSE(is_prefix(any, bad)) << "invalid UTF-8 must be rejected";
  }
  EXPECT_TRUE(matches(any, "\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(GrammarMatcher, CanEndAndIsCompleteDiffer) {
  const Grammar g = parse_or_die(R"g(root ::= "a" "b"?)g");
  GrammarMatcher matcher(g);
  EXPECT_FALSE(matcher.can_end());
  ASSERT_TRUE(matcher.accept_bytes("a"));
  EXPECT_TRUE(matcher.can_end());
  EXPECT_FALSE(matcher.is_complete());
  EXPECT_TRUE(matcher.accepts('b'));
  ASSERT_TRUE(matcher.accept_bytes("b"));
  EXPECT_TRUE(matcher.is_complete());
  EXPECT_FALSE(matcher.accept_bytes("b"));

  const Grammar empty = parse_or_die(R"g(root ::= "")g");
  EXPECT_TRUE(GrammarMatcher(empty).is_complete());
}

TEST(GrammarMatcher, CopiesRollBack) {
  const Grammar g = parse_or_die(json_object_gbnf());
  GrammarMatcher matcher(g);
  ASSERT_TRUE(matcher.accept_bytes("{\"a\": [1, "));
  const GrammarMatcher checkpoint = matcher.clone();
  ASSERT_TRUE(matcher.accept_bytes("2]}"));
  EXPECT_TRUE(matcher.is_complete());
  matcher = checkpoint;
  EXPECT_FALSE(matcher.can_end());
  ASSERT_TRUE(matcher.accept_bytes("{\"b\": null}]}"));
  EXPECT_TRUE(matcher.is_complete());
  matcher.reset();
  EXPECT_TRUE(matcher.accept_bytes("{}"));
}

TEST(GrammarMatcher, AmbiguityIsBoundedByTheStackLimit) {
  // After n a's this grammar has 3n + 3 live parses: how many b's are still owed, and which
  // alternative's "a" comes next (both "a"s are live).
  const Grammar g = parse_or_die("root ::= s\ns ::= \"a\" s \"b\" | \"a\" s | \"\"");
  MatcherLimits limits;
  limits.max_stacks = 16;
  GrammarMatcher matcher(g, limits);
  ASSERT_TRUE(matcher.accept_bytes(std::string(4, 'a'))) << matcher.last_error();
  EXPECT_EQ(matcher.n_stacks(), 15u);
  EXPECT_FALSE(matcher.accept_bytes(std::string(20, 'a')));
  EXPECT_NE(matcher.last_error().find("too ambiguous: more than 16 parse stacks"),
            std::string::npos)
      << matcher.last_error();
  EXPECT_TRUE(matcher.accept_bytes("bb"));  // the state before the failed call is intact
  EXPECT_TRUE(matcher.can_end());
}

TEST(GrammarMatcher, NestingIsBoundedByTheDepthLimit) {
  const Grammar g = parse_or_die(R"g(root ::= "(" root ")" | "x")g");
  MatcherLimits limits;
  limits.max_stack_depth = 10;
  GrammarMatcher matcher(g, limits);
  EXPECT_TRUE(matcher.accept_bytes(std::string(9, '(')));
  EXPECT_FALSE(matcher.accept_bytes(std::string(5, '(')));
  EXPECT_NE(matcher.last_error().find("nested deeper"), std::string::npos) << matcher.last_error();
  EXPECT_TRUE(matcher.accept_bytes("x" + std::string(9, ')')));
  EXPECT_TRUE(matcher.is_complete());
}

TEST(GrammarMatcher, LongInputsKeepTheStateSmall) {
  const Grammar g = parse_or_die(R"g(root ::= "[" ( [a-z]+ ("," [a-z]+)* )? "]")g");
  GrammarMatcher matcher(g);
  ASSERT_TRUE(matcher.accept_bytes("["));
  std::string body;
  for (int i = 0; i < 40000; ++i) body += "abc,";
  ASSERT_TRUE(matcher.accept_bytes(body));  // one call: compacts as it goes
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(matcher.accept_bytes("xy,"));
  ASSERT_TRUE(matcher.accept_bytes("z]"));
  EXPECT_TRUE(matcher.is_complete());
}

// ---------------------------------------------------------------------------------------------
// Token masks

TEST(GrammarMask, TrieMaskEqualsBruteForceOnRandomStates) {
  const SyntheticVocab vocab = make_synthetic_vocab(7);
  const std::vector<std::string> grammars = {
      json_object_gbnf(),
      R"g(root ::= expr
expr ::= term (("+" | "-") term)*
term ::= factor (("*" | "/") factor)*
factor ::= [0-9]+ | "(" expr ")" | "x")g",
      R"g(root ::= ( [a-c] | "é" | [α-ω]+ | "€uro" | "😀" | "\n" )* "."?)g",
      R"g(root ::= "{" ( "\"" [^"\\]* "\"" | [0-9]{1,3} )* "}")g",
      R"g(root ::= s
s ::= "a" s "b" | "a" s | "x" | "")g",
  };
  int states = 0;
  for (size_t i = 0; i < grammars.size(); ++i) {
    states += compare_masks_on_random_walks(parse_or_die(grammars[i]), vocab, 25, 30,
                                            static_cast<uint32_t>(i + 1));
  }
  // An ambiguous grammar at a tiny stack limit: the limit shapes both masks the same way.
  MatcherLimits tight;
  tight.max_stacks = 3;
  states += compare_masks_on_random_walks(parse_or_die(grammars.back()), vocab, 25, 20, 99, tight);
  EXPECT_GT(states, 500);
}

TEST(GrammarMask, AssignmentAcrossGrammarsDoesNotReuseTheStepMemo) {
  // The memo is keyed by grammar positions, so one grammar's answers would be wrong for another.
  const SyntheticVocab sv = make_synthetic_vocab(3);
  const TokenTrie vocab = TokenTrie::build(sv.pieces, sv.special, sv.eog);
  const Grammar letters = parse_or_die(R"g(root ::= [a-c]* "x")g");
  const Grammar digits = parse_or_die(R"g(root ::= [0-9]* "x")g");
  GrammarMatcher matcher(letters);
  std::vector<uint8_t> mask;
  matcher.allowed_tokens(vocab, mask);  // fills the memo for `letters`
  matcher = GrammarMatcher(digits);     // move: takes the other's (empty) scratch
  matcher.allowed_tokens(vocab, mask);
  EXPECT_EQ(mask, brute_force_mask(matcher, vocab));
  GrammarMatcher other(letters);
  other.allowed_tokens(vocab, mask);
  other = matcher;  // copy from another grammar: the target's memo must be dropped
  other.allowed_tokens(vocab, mask);
  EXPECT_EQ(mask, brute_force_mask(other, vocab));
  const GrammarMatcher checkpoint = other;
  ASSERT_TRUE(other.accept_bytes("12"));
  other = checkpoint;  // same grammar: keeps its warm memo, and must still be right
  other.allowed_tokens(vocab, mask);
  EXPECT_EQ(mask, brute_force_mask(checkpoint, vocab));
}

TEST(GrammarMask, EndOfGenerationOnlyWhenTheGrammarCanEnd) {
  const SyntheticVocab sv = make_synthetic_vocab(1);
  const TokenTrie vocab = TokenTrie::build(sv.pieces, sv.special, sv.eog);
  const Grammar g = parse_or_die(R"g(root ::= "ab" "c"?)g");
  GrammarMatcher matcher(g);
  std::vector<uint8_t> mask;
  matcher.allowed_tokens(vocab, mask);
  for (int32_t id : sv.eog) EXPECT_EQ(mask[static_cast<size_t>(id)], 0);
  ASSERT_TRUE(matcher.accept_bytes("ab"));
  matcher.allowed_tokens(vocab, mask);
  for (int32_t id : sv.eog) EXPECT_EQ(mask[static_cast<size_t>(id)], 1);
  EXPECT_TRUE(matcher.accept_token(vocab, sv.eog[0]));
  // Special and empty tokens are never allowed.
  for (size_t i = 0; i < sv.pieces.size(); ++i) {
    if ((sv.special[i] && !vocab.is_end_of_generation(static_cast<int32_t>(i))) ||
        sv.pieces[i].empty()) {
      EXPECT_EQ(mask[i], 0) << i;
    }
  }
}

// Byte-level BPE (GPT-2) stores bytes as printable code points: the printable Latin-1 bytes
// stand for themselves and the other 68 bytes map to U+0100.. in byte order (so Ġ = space).
std::string decode_byte_level(std::string_view token) {
  static const std::map<uint32_t, uint8_t> kByteOf = [] {
    std::map<uint32_t, uint8_t> m;
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      m[printable ? b : next++] = static_cast<uint8_t>(b);
    }
    return m;
  }();
  std::string out;
  for (size_t i = 0; i < token.size();) {
    const uint8_t lead = static_cast<uint8_t>(token[i]);
    uint32_t cp = lead;
    size_t length = 1;
    if (lead >= 0xE0) {
      cp = lead & 0x0F, length = 3;
    } else if (lead >= 0xC0) {
      cp = lead & 0x1F, length = 2;
    }
    for (size_t k = 1; k < length && i + k < token.size(); ++k) {
      cp = (cp << 6) | (static_cast<uint8_t>(token[i + k]) & 0x3F);
    }
    i += length;
    auto it = kByteOf.find(cp);
    if (it != kByteOf.end()) out += static_cast<char>(it->second);
  }
  return out;
}

TEST(GrammarMask, Gpt2VocabularyMaskMatchesBruteForceAndIsTimed) {
  const fs::path path = kSharedDir / "vocab" / "ggml-vocab-gpt-2.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found";
  Result<std::unique_ptr<gguf::File>> file = gguf::File::open(path.string());
  ASSERT_TRUE(file.is_ok()) << file.message();
  Result<std::vector<std::string>> tokens = (*file)->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.is_ok()) << tokens.message();
  Result<std::vector<double>> types = (*file)->get_number_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.is_ok()) << types.message();
  Result<std::optional<int64_t>> eos = (*file)->get_int("tokenizer.ggml.eos_token_id");
  ASSERT_TRUE(eos.is_ok() && eos->has_value());

  std::vector<std::string> pieces;
  std::vector<bool> special;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const bool control = i < types->size() && (*types)[i] == 3;
    special.push_back(control);
    pieces.push_back(control ? (*tokens)[i] : decode_byte_level((*tokens)[i]));
  }
  ASSERT_GT(pieces.size(), 50000u);
  EXPECT_EQ(pieces[220], " ");  // "Ġ"
  const double build_start = cpu_ms();
  const TokenTrie vocab = TokenTrie::build(pieces, special, {static_cast<int32_t>(**eos)});
  const double build_ms = cpu_ms() - build_start;
  std::printf("[ timing ] TokenTrie::build: %zu tokens, %zu nodes, %.1f ms\n", vocab.n_tokens(),
              vocab.n_nodes(), build_ms);

  Result<std::string> schema_gbnf = json_schema_to_gbnf(Json::parse(R"g({
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                   "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "age", "tags"]})g"));
  ASSERT_TRUE(schema_gbnf.is_ok()) << schema_gbnf.message();
  const Grammar json = parse_or_die(json_object_gbnf());
  const Grammar schema = parse_or_die(*schema_gbnf);
  struct State {
    const char* label;
    const Grammar* grammar;
    const char* prefix;
  };
  const std::vector<State> states = {
      {"json: start", &json, ""},
      {"json: after '{'", &json, "{"},
      {"json: inside a key", &json, "{\"na"},
      {"json: inside a string value", &json, "{\"name\": \"Jo"},
      {"json: inside a number", &json, "{\"n\": 12"},
      {"json: after ','", &json, "{\"a\": [1, true],"},
      {"schema: inside a string value", &schema, "{\"name\": \"Jo"},
      {"schema: expecting a key", &schema, "{\"name\": \"Jo\", "},
      {"schema: inside the tags array", &schema, "{\"name\": \"Jo\", \"age\": 3, \"tags\": ["},
  };
  std::vector<uint8_t> mask;
  for (const State& state : states) {
    GrammarMatcher matcher(*state.grammar);
    ASSERT_TRUE(matcher.accept_bytes(state.prefix)) << state.prefix;
    // The first mask of a fresh matcher fills its step memo; later ones reuse it.
    const double cold_start = cpu_ms();
    matcher.allowed_tokens(vocab, mask);
    const double cold_ms = cpu_ms() - cold_start;
    constexpr int kRepeats = 5;
    std::vector<double> ms;
    for (int r = 0; r < kRepeats; ++r) {
      const double start = cpu_ms();
      matcher.allowed_tokens(vocab, mask);
      ms.push_back(cpu_ms() - start);
    }
    std::sort(ms.begin(), ms.end());
    size_t allowed = 0;
    for (uint8_t m : mask) allowed += m;
    std::printf("[ timing ] mask, %-32s %6zu allowed, first %6.2f ms, then median %6.2f ms\n",
                state.label, allowed, cold_ms, ms[kRepeats / 2]);
    const std::vector<uint8_t> expected = brute_force_mask(matcher, vocab);
    EXPECT_EQ(mask, expected) << state.label << "\n"
                              << describe_mask_difference(mask, expected, vocab);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON Schema

struct SchemaCase {
  const char* name;
  const char* schema;
  std::vector<const char*> valid;    // checked compact and pretty-printed
  std::vector<const char*> invalid;  // checked compact (the text as written, and re-dumped)
};

void check_schema_case(const SchemaCase& c) {
  Result<std::string> gbnf = json_schema_to_gbnf(Json::parse(c.schema));
  ASSERT_TRUE(gbnf.is_ok()) << c.name << ": " << gbnf.message();
  Result<Grammar> grammar = Grammar::parse(*gbnf);
  ASSERT_TRUE(grammar.is_ok()) << c.name << ": " << grammar.message() << "\n" << *gbnf;
  for (const char* text : c.valid) {
    const Json value = Json::parse(text);
    for (const std::string& form : {value.dump(), value.dump(2), value.dump(4)}) {
      GrammarMatcher matcher(*grammar);
      EXPECT_TRUE(matcher.accept_bytes(form) && matcher.can_end()) << c.name << ": should accept\n"
                                                                   << form << "\n"
                                                                   << matcher.last_error() << "\n"
                                                                   << *gbnf;
    }
  }
  for (const char* text : c.invalid) {
    EXPECT_FALSE(matches(*grammar, text)) << c.name << ": should reject\n" << text << "\n" << *gbnf;
    const Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) continue;  // not JSON at all (e.g. a leading zero)
    EXPECT_FALSE(matches(*grammar, value.dump(2))) << c.name << ": should reject\n"
                                                   << value.dump(2) << "\n"
                                                   << *gbnf;
  }
}

TEST(JsonSchema, ValidInstancesAcceptedInvalidRejected) {
  const std::vector<SchemaCase> cases = {
      {"required and optional properties",
       R"g({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
           "email": {"type": "string"}, "score": {"type": "number"}}, "required": ["name", "age"]})g",
       {R"g({"name": "Ann", "age": 31})g", R"g({"name": "", "age": -2, "email": "a@b"})g",
        R"g({"name": "Ann", "age": 0, "score": 1.5e-3})g",
        R"g({"name": "Ann", "age": 1, "email": "x", "score": 2})g"},
       {R"g({"age": 31, "name": "Ann"})g", R"g({"name": "Ann"})g",
        R"g({"name": "Ann", "age": 1.5})g", R"g({"name": "Ann", "age": "31"})g",
        R"g({"name": "Ann", "age": 1, "extra": 1})g",
        R"g({"name": "Ann", "age": 1, "score": 2, "email": "x"})g", R"g([])g"}},
      {"only optional properties, fixed order",
       R"g({"properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}, "c": {"type": "null"}}})g",
       {R"g({})g", R"g({"a": 1})g", R"g({"b": true})g", R"g({"c": null})g",
        R"g({"a": 1, "c": null})g", R"g({"a": 1, "b": false, "c": null})g"},
       {R"g({"c": null, "a": 1})g", R"g({"b": 1})g", R"g({"d": 1})g"}},
      {"array bounds",
       R"g({"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3})g",
       {"[1]", "[1, 2.5, -3e2]", "[0, 0]"},
       {"[]", "[1, 2, 3, 4]", R"g(["a"])g", "[01]"}},
      {"enum and const",
       R"g({"type": "object", "properties": {"color": {"enum": ["red", "green", 7, null, {"k": [1, 2]}]},
           "kind": {"const": "fixed"}}, "required": ["color", "kind"]})g",
       {R"g({"color": "red", "kind": "fixed"})g", R"g({"color": 7, "kind": "fixed"})g",
        R"g({"color": null, "kind": "fixed"})g", R"g({"color": {"k": [1, 2]}, "kind": "fixed"})g"},
       {R"g({"color": "blue", "kind": "fixed"})g", R"g({"color": "red", "kind": "other"})g",
        R"g({"color": {"k": [2, 1]}, "kind": "fixed"})g"}},
      {"anyOf, type lists, nullable",
       R"g({"type": "object", "properties": {
           "id": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]},
           "note": {"type": ["string", "null"]},
           "when": {"type": "string", "format": "date", "nullable": true}},
           "required": ["id", "note", "when"]})g",
       {R"g({"id": "abc", "note": null, "when": "2024-02-29"})g",
        R"g({"id": 12, "note": "x", "when": null})g"},
       {R"g({"id": "abcd", "note": null, "when": null})g",
        R"g({"id": true, "note": null, "when": null})g", R"g({"id": 1, "note": 3, "when": null})g",
        R"g({"id": 1, "note": null, "when": "2024-13-01"})g"}},
      {"recursive $ref through $defs",
       R"g({"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
           "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
           "required": ["value", "children"]}}, "$ref": "#/$defs/node"})g",
       {R"g({"value": 1, "children": []})g",
        R"g({"value": 1, "children": [{"value": 2, "children": [{"value": 3, "children": []}]}]})g"},
       {R"g({"value": 1})g", R"g({"value": 1, "children": [{"value": 2}]})g"}},
      {"allOf merges objects, definitions",
       R"g({"definitions": {"base": {"type": "object", "properties": {"id": {"type": "integer"}},
           "required": ["id"]}},
           "allOf": [{"$ref": "#/definitions/base"},
                     {"properties": {"name": {"type": "string"}}, "required": ["name"]}]})g",
       {R"g({"id": 1, "name": "x"})g"},
       {R"g({"id": 1})g", R"g({"name": "x"})g", R"g({"name": "x", "id": 1})g"}},
      {"string lengths, pattern, formats",
       R"g({"type": "object", "properties": {
           "code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"},
           "short": {"type": "string", "minLength": 2, "maxLength": 4},
           "day": {"type": "string", "format": "date"},
           "at": {"type": "string", "format": "date-time"},
           "clock": {"type": "string", "format": "time"},
           "id": {"type": "string", "format": "uuid"}},
           "required": ["code", "short", "day", "at", "clock", "id"]})g",
       {R"g({"code": "AB-123", "short": "é\"", "day": "1999-12-31", "at": "2024-05-06T07:08:09Z",
            "clock": "23:59:59.5+01:00", "id": "123e4567-e89b-12d3-a456-426614174000"})g",
        R"g({"code": "ZZ-000", "short": "abcd", "day": "2000-01-01",
            "at": "2024-05-06T07:08:09.123-05:30", "clock": "00:00:00",
            "id": "00000000-0000-0000-0000-000000000000"})g"},
       {R"g({"code": "AB-12", "short": "ab", "day": "1999-12-31", "at": "2024-05-06T07:08:09Z",
            "clock": "00:00:00", "id": "123e4567-e89b-12d3-a456-426614174000"})g",
        R"g({"code": "AB-123", "short": "a", "day": "1999-12-31", "at": "2024-05-06T07:08:09Z",
            "clock": "00:00:00", "id": "123e4567-e89b-12d3-a456-426614174000"})g",
        R"g({"code": "AB-123", "short": "abcde", "day": "1999-12-31", "at": "2024-05-06T07:08:09Z",
            "clock": "00:00:00", "id": "123e4567-e89b-12d3-a456-426614174000"})g",
        R"g({"code": "AB-123", "short": "ab", "day": "1999-12-31", "at": "2024-05-06T07:08:09",
            "clock": "00:00:00", "id": "123e4567-e89b-12d3-a456-426614174000"})g",
        R"g({"code": "AB-123", "short": "ab", "day": "1999-12-31", "at": "2024-05-06T07:08:09Z",
            "clock": "24:00:00", "id": "123e4567-e89b-12d3-a456-42661417400"})g"}},
      {"prefixItems tuple",
       R"g({"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}]})g",
       {R"g(["a", true])g"},
       {R"g(["a"])g", R"g(["a", true, 1])g", R"g([true, "a"])g"}},
      {"prefixItems then items",
       R"g({"type": "array", "prefixItems": [{"const": "head"}], "items": {"type": "integer"}})g",
       {R"g(["head"])g", R"g(["head", 1, 2, 3])g"},
       {R"g([])g", R"g(["head", "x"])g"}},
      {"additionalProperties schema",
       R"g({"type": "object", "properties": {"a": {"type": "integer"}},
           "additionalProperties": {"type": "string"}})g",
       {R"g({})g", R"g({"a": 1})g", R"g({"a": 1, "b": "x", "c": "y"})g", R"g({"b": "x"})g"},
       {R"g({"a": 1, "b": 2})g", R"g({"b": "x", "a": 1})g"}},
      {"integers: minimum 0 drops the sign",
       R"g({"type": "array", "items": {"type": "integer", "minimum": 0}})g",
       {"[0, 5, 123456789]"},
       {"[-1]", "[1.5]", "[007]"}},
      {"OpenAI-style tool call",
       R"g({"type": "object", "properties": {
           "name": {"const": "get_weather"},
           "arguments": {"type": "object", "properties": {
               "location": {"type": "string"},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
             "required": ["location", "unit"], "additionalProperties": false}},
           "required": ["name", "arguments"], "additionalProperties": false})g",
       {R"g({"name": "get_weather", "arguments": {"location": "Paris, FR", "unit": "celsius"}})g"},
       {R"g({"name": "get_time", "arguments": {"location": "Paris", "unit": "celsius"}})g",
        R"g({"name": "get_weather", "arguments": {"location": "Paris"}})g",
        R"g({"name": "get_weather", "arguments": {"location": "Paris", "unit": "kelvin"}})g",
        R"g({"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"})g"}},
      {"a choice of tool calls",
       R"g({"anyOf": [
           {"type": "object", "properties": {"name": {"const": "search"},
             "arguments": {"type": "object", "properties": {"query": {"type": "string"}},
               "required": ["query"]}}, "required": ["name", "arguments"]},
           {"type": "object", "properties": {"name": {"const": "add"},
             "arguments": {"type": "object", "properties": {"a": {"type": "number"},
               "b": {"type": "number"}}, "required": ["a", "b"]}}, "required": ["name", "arguments"]}]})g",
       {R"g({"name": "search", "arguments": {"query": "cove"}})g",
        R"g({"name": "add", "arguments": {"a": 1, "b": 2.5}})g"},
       {R"g({"name": "add", "arguments": {"query": "cove"}})g",
        R"g({"name": "search", "arguments": {"a": 1, "b": 2}})g"}},
      {"strings with escapes and Unicode",
       R"g({"type": "array", "items": {"type": "string"}})g",
       {R"g(["héllo 😀", "tab\tquote\"slash\\u\u00e9", "\u0000"])g"},
       {R"g([1])g"}},
      {"true schema and empty schema",
       R"g({"type": "object", "properties": {"any": true,
           "also": {}}, "required": ["any", "also"]})g",
       {R"g({"any": [1, {"x": null}], "also": "s"})g"},
       {R"g({"any": 1})g"}},
  };
  for (const SchemaCase& c : cases) check_schema_case(c);
}

TEST(JsonSchema, PatternsBecomeGrammar) {
  const std::vector<std::tuple<std::string, std::vector<std::string>, std::vector<std::string>>>
      cases = {
          {"^\\d{3}-\\d{4}$", {"555-1234"}, {"55-1234", "555-12345", "abc-defg"}},
          {"^(cat|dog)s?$", {"cat", "dogs"}, {"cow", "catss", ""}},
          {"[a-z]+(\\.[a-z]+)*@example\\.com", {"a.b@example.com"}, {"a.@example.com"}},
          {"^[^,]+,[^,]+$", {"a,b", "x\"y,\\z"}, {"a,b,c", ",b"}},
          {"^.{2,3}$", {"ab", "a\"c", "é😀"}, {"a", "abcd"}},
          {"^(?:[A-F0-9]{2}:){2}[A-F0-9]{2}$", {"0A:FF:12"}, {"0A:FF", "0a:ff:12"}},
          {"^\\w+\\s\\W$", {"hi !", "x_1\t?"}, {"hi  !", "hi a"}},
          {"^a*?b+?$", {"b", "aabb"}, {"a", "ba"}},
      };
  for (const auto& [pattern, good, bad] : cases) {
    const Json schema = {{"type", "string"}, {"pattern", pattern}};
    Result<std::string> gbnf = json_schema_to_gbnf(schema);
    ASSERT_TRUE(gbnf.is_ok()) << pattern << ": " << gbnf.message();
    const Grammar g = parse_or_die(*gbnf);
    for (const std::string& s : good) {
      EXPECT_TRUE(matches(g, Json(s).dump())) << pattern << " should match " << Json(s).dump();
    }
    for (const std::string& s : bad) {
      EXPECT_FALSE(matches(g, Json(s).dump())) << pattern << " should not match " << s;
    }
  }
}

TEST(JsonSchema, UnsupportedSchemasGiveErrorsWithTheLocation) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"g({"$ref": "https://example.com/schema.json"})g", "json schema #/$ref: cannot resolve"},
      {R"g({"$ref": "#/$defs/missing"})g", "cannot resolve '#/$defs/missing'"},
      {R"g({"properties": {"a": {"type": "strin"}}})g",
       "json schema #/properties/a/type: unknown "
       "type 'strin'"},
      {R"g({"properties": {"a": {"pattern": "(a)\\1"}}})g", "#/properties/a/pattern: pattern"},
      {R"g({"pattern": "(?=x)"})g", "lookaround"},
      {R"g({"pattern": "\\bword"})g", "word boundaries"},
      {R"g({"allOf": [{"type": "string"}, {"type": "integer"}]})g", "share no value"},
      {R"g({"properties": {"a": false}, "required": ["a"]})g",
       "#/properties/a: the schema 'false'"},
      {R"g({"enum": []})g", "#/enum: must be a non-empty array"},
      {R"g({"type": "string", "minLength": -1})g", "#/minLength: must be a non-negative integer"},
      {R"g({"type": "array", "minItems": 3, "maxItems": 2})g", "maxItems is below minItems"},
  };
  for (const auto& [schema, expected] : cases) {
    Result<std::string> gbnf = json_schema_to_gbnf(Json::parse(schema));
    ASSERT_FALSE(gbnf.is_ok()) << schema;
    EXPECT_NE(gbnf.message().find(expected), std::string::npos)
        << schema << "\nexpected: " << expected << "\ngot:      " << gbnf.message();
  }
  // Deeply nested schemas stop at a limit instead of exhausting the stack.
  Json deep = {{"type", "string"}};
  for (int i = 0; i < 200; ++i) deep = {{"type", "array"}, {"items", deep}};
  Result<std::string> gbnf = json_schema_to_gbnf(deep);
  ASSERT_FALSE(gbnf.is_ok());
  EXPECT_NE(gbnf.message().find("nested deeper than"), std::string::npos) << gbnf.message();
}

TEST(JsonSchema, JsonObjectAcceptsAnyObjectAndNothingElse) {
  const Grammar g = parse_or_die(json_object_gbnf());
  for (const char* good : {"{}", R"g({"a": {"b": [1, -2.5E+3, true, false, null, "s", {}, []]}})g",
                           "{\n  \"x\" : \"\\u00e9\\n\"\n}"}) {
    EXPECT_TRUE(matches(g, good)) << good;
  }
  for (const char* bad : {"[]", "\"s\"", "1", "{\"a\" 1}", "{\"a\": 1,}", "{'a': 1}",
                          "{\"a\": tru}", " {}", "{} ", "{\"a\": 01}", "{\"a\": \"\n\"}"}) {
    EXPECT_FALSE(matches(g, bad)) << bad;
  }
}

TEST(JsonSchema, WhitespaceIsBounded) {
  const Grammar g = parse_or_die(json_object_gbnf());
  EXPECT_TRUE(matches(g, "{\n" + std::string(40, ' ') + "}"));
  EXPECT_FALSE(is_prefix(g, "{\n" + std::string(41, ' ')));
  EXPECT_FALSE(is_prefix(g, "{  "));
  EXPECT_FALSE(is_prefix(g, "{\n\n"));
  // The number of whitespace characters a model can emit in a row is therefore small.
  GrammarMatcher matcher(g);
  ASSERT_TRUE(matcher.accept_bytes("{\"a\":"));
  int run = 0;
  while (matcher.accepts(' ') && run < 1000) {
    ASSERT_TRUE(matcher.accept_bytes(" "));
    ++run;
  }
  EXPECT_LE(run, 1);
}

TEST(JsonSchema, DuplicateKeysAreRejected) {
  Result<std::string> gbnf = json_schema_to_gbnf(
      Json::parse(R"g({"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}})g"));
  ASSERT_TRUE(gbnf.is_ok()) << gbnf.message();
  const Grammar g = parse_or_die(*gbnf);
  EXPECT_TRUE(matches(g, R"g({"a": 1, "b": 2})g"));
  EXPECT_FALSE(matches(g, R"g({"a": 1, "a": 2})g"));
  EXPECT_FALSE(matches(g, R"g({"b": 1, "b": 2})g"));
}

TEST(JsonSchema, PlainJsonSortsKeysOrderedJsonKeepsThem) {
  const char* text = R"g({"type": "object", "properties": {"zeta": {"type": "integer"},
                         "alpha": {"type": "integer"}}, "required": ["zeta", "alpha"]})g";
  Result<std::string> ordered = json_schema_to_gbnf(Json::parse(text));
  Result<std::string> sorted = json_schema_to_gbnf(nlohmann::json::parse(text));
  ASSERT_TRUE(ordered.is_ok() && sorted.is_ok());
  EXPECT_TRUE(matches(parse_or_die(*ordered), R"g({"zeta": 1, "alpha": 2})g"));
  EXPECT_TRUE(matches(parse_or_die(*sorted), R"g({"alpha": 2, "zeta": 1})g"));
}

}  // namespace
}  // namespace cove::runtime
