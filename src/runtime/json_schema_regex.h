// Internal to json_schema.cpp: a JSON Schema `pattern` (an ECMA-262 regex subset) as a GBNF
// expression over the characters of a JSON string literal's body (so `"` appears as \" and so
// on). See json_schema.h for the subset.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace cove::runtime::detail {

// The expression matches the whole string (the pattern is treated as anchored at both ends).
// Errors describe the construct and its offset in the pattern.
Result<std::string> regex_to_gbnf(std::string_view pattern);

// `text` as a GBNF string literal ("..." with escapes).
std::string gbnf_literal(std::string_view text);

}  // namespace cove::runtime::detail
