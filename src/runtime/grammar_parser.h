// GBNF grammar text -> a flat rule table that the matcher (grammar.h) walks.
//
// The dialect (GBNF, as used across local LLM engines):
//
//   root  ::= object                 a rule; names are [A-Za-z0-9_-]+; `root` is the default start
//   a b c                            sequence
//   a | b                            alternation; a rule may continue on the next line when that
//                                    line starts with `|`, and newlines are free inside ( )
//   ( ... )                          grouping
//   x*  x+  x?  x{m}  x{m,}  x{m,n}  x{,n}      repetition (of the item just before)
//   "text"                           literal; escapes \n \r \t \" \' \\ \/ \[ \] \- \^ \xHH
//                                    \uHHHH \UHHHHHHHH (code points, not bytes)
//   [a-z0-9_]  [^"\\]                character class over code points; ranges; negation
//   .                                any code point
//   # comment                        to the end of the line
//
// Everything matches Unicode code points; the grammar text itself must be UTF-8.
//
// Left recursion is rejected, direct (`expr ::= expr "+" term`), indirect, or through items that
// can match nothing (`a ::= b? a`), including a repetition of something that can match nothing
// (`("x"?)*`): a stack-based matcher would expand such a rule forever. Write `expr ::= term
// ("+" term)*` instead. Hostile input (huge repetition counts, deep nesting, a grammar that
// expands past `max_elements`) gives an Error, never a crash or an unbounded allocation.
//
// Errors read "grammar 3:14: undefined rule 'valu'" (line and column, 1-based, the column in code
// points).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cove::runtime {

struct GrammarLimits {
  uint32_t max_elements = 1u << 20;  // grammar elements after repetitions are expanded
  uint32_t max_repetition = 10000;   // the largest m or n in x{m,n}
  uint32_t max_nesting = 200;        // depth of nested parentheses
};

enum class ElementKind : uint8_t {
  kEnd,        // end of an alternative
  kRuleRef,    // value: rule id
  kChar,       // value: one code point
  kCharClass,  // value: class id (see ParsedGrammar::class_offsets)
  kAnyChar,    // any code point
};

struct GrammarElement {
  ElementKind kind = ElementKind::kEnd;
  uint32_t value = 0;

  bool is_terminal() const {
    return kind == ElementKind::kChar || kind == ElementKind::kCharClass ||
           kind == ElementKind::kAnyChar;
  }
  bool operator==(const GrammarElement&) const = default;
};

struct CharRange {
  uint32_t first = 0;  // inclusive
  uint32_t last = 0;   // inclusive
  bool operator==(const CharRange&) const = default;
};

// The compiled form. Rule r has alternatives alternative_starts[rule_alternatives[r] ..
// rule_alternatives[r + 1]); each alternative is a run of elements that ends with kEnd.
// Repetitions and groups become helper rules (named after the rule they sit in, e.g. "item_3"):
//   x* -> S ::= x S |            x? -> O ::= x |          x{2,4} -> x x R2, R2 ::= x R1 | ,
//   R1 ::= x |                   x+ -> x S
// so every repetition is right-recursive, which the matcher runs in constant stack depth.
struct ParsedGrammar {
  std::vector<std::string> rule_names;       // by rule id
  std::vector<uint32_t> rule_alternatives;   // n_rules + 1 offsets into alternative_starts
  std::vector<uint32_t> alternative_starts;  // offsets into elements
  std::vector<GrammarElement> elements;
  std::vector<uint32_t> class_offsets;  // n_classes + 1 offsets into class_ranges
  std::vector<CharRange> class_ranges;  // per class: sorted, disjoint, negation already applied
  uint32_t root = 0;

  size_t n_rules() const { return rule_names.size(); }
};

// Parses GBNF text; `root` names the start rule.
Result<ParsedGrammar> parse_gbnf(std::string_view text, std::string_view root = "root",
                                 const GrammarLimits& limits = {});

// Prints the compiled grammar back as GBNF (helper rules included), one rule per line. Parsing
// the output gives the same language; tests use it to check the parser's round trip.
std::string format_gbnf(const ParsedGrammar& grammar);

}  // namespace cove::runtime
