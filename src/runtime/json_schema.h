// JSON Schema -> GBNF, for response_format (json_object / json_schema) and for forcing
// well-formed tool calls. Feed the result to Grammar::parse().
//
// Supported keywords:
//   type (object, array, string, number, integer, boolean, null, or an array of them), nullable
//   object:  properties, required, additionalProperties (false / true / a schema)
//   array:   items, prefixItems (and draft-4 tuple `items: [...]`), minItems, maxItems
//   string:  minLength, maxLength, pattern, format (date, time, date-time, uuid)
//   enum, const, anyOf, oneOf, allOf (merged into one schema), $ref to any local JSON pointer
//   ("#/$defs/X", "#/definitions/X", "#"; recursive references work)
//
// What the grammar requires, beyond the schema:
//   - Keys come in a fixed order: required properties first, in the order `properties` lists
//     them, then the optional ones in the same order, then any additional properties. Pass an
//     nlohmann::ordered_json to keep the schema's order; nlohmann::json sorts keys by name.
//   - additionalProperties defaults to false when `properties` is given (as in OpenAI's strict
//     mode); an object schema without `properties` allows any members. Additional keys may
//     repeat a declared name (the grammar does not exclude them).
//   - Whitespace between tokens is optional and bounded: nothing, one space, or one newline
//     followed by up to 40 spaces or tabs. Pretty-printed output (indent 2, 20 levels) fits;
//     a model cannot pad forever. No whitespace before or after the root value.
//   - Numbers have at most 20 integer digits, 20 fraction digits and 4 exponent digits.
//   - `pattern` is matched against the whole string (as if anchored with ^...$), which is
//     stricter than JSON Schema's search semantics but never produces an invalid value. The
//     regex subset: literals, escapes (\d \w \s \D \W \S \n \t \uHHHH ...), classes, `.`, groups
//     ((...), (?:...), (?<name>...)), |, * + ? {m} {m,} {m,n} (lazy forms too), ^ and $ at the
//     ends. Backreferences, lookaround, \b and Unicode property classes give an Error. Sets such
//     as `.` and [^a] produce `"` and `\` only as the escapes \" and \\, and no control
//     characters other than tab, newline and carriage return (as \t \n \r).
//   - Not enforced (documented limitation): minimum/maximum/multipleOf (except that a minimum
//     or exclusiveMinimum >= 0 removes the minus sign), minProperties/maxProperties,
//     uniqueItems, oneOf's exclusivity, `not`, if/then/else, and formats other than the four
//     above. minLength/maxLength above 4096 and maxItems above 1000 are treated as unbounded;
//     with `pattern` or `format`, minLength/maxLength are ignored. With prefixItems, every
//     prefix item is required, and more items follow only when `items` is a schema.
//   - allOf merges its parts into one schema: properties and required are combined, types are
//     intersected, and for other keywords the later part wins.
//   - Sibling keywords next to $ref are ignored; next to anyOf/oneOf they are merged into
//     each branch.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace cove::runtime {

// Any JSON object: response_format {"type": "json_object"}.
std::string json_object_gbnf();

// A grammar whose root rule matches exactly the JSON values the schema allows (with the
// restrictions above). Errors name the schema location ("json schema #/properties/age: ...").
Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema);
Result<std::string> json_schema_to_gbnf(const nlohmann::json& schema);

}  // namespace cove::runtime
