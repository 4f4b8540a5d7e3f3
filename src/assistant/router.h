// The model router: which configured model answers a request, and why.
//
// route() is a pure function of the request's features, the config and the models' current
// load. The order of decisions:
//   1. an explicit model in the request wins (an unknown name is an error);
//   2. else the first rule of routes.rules whose conditions all hold (message length, keywords,
//      regex, complexity score, tool need);
//   3. else routes.default, or the first configured model.
// The chosen model's candidates are then itself, its own `fallback` list, and routes.fallback,
// in that order without repeats; the first that is neither failed nor at its max_concurrent
// serves, and the rest stay in the decision so the caller can fall back when generation fails.
// Every step adds one human-readable line to `reasons` (what `cove route --explain` prints).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "assistant/config.h"
#include "core/result.h"

namespace cove::assistant {

// What the router looks at in a request.
struct RequestFeatures {
  std::string text;            // the new user message
  std::string explicit_model;  // the request's `model`, "" when none
  bool tools_offered = false;  // the request offers tools to the model
  int64_t chars = 0;           // UTF-8 code points of text
  int code_blocks = 0;         // ``` fenced blocks (an unclosed fence counts)
  int questions = 0;           // question marks ending a sentence (runs count once)
};

// Fills the counted fields from `text`.
RequestFeatures extract_features(std::string text, std::string explicit_model = "",
                                 bool tools_offered = false);

// The complexity score in [0, 1] and its parts:
//   length    0.3 * min(1, chars / 2000)
//   code      0.3 * min(1, code_blocks / 2)
//   questions 0.2 * min(1, questions / 3)
//   tools     0.2 when the request offers tools
struct Complexity {
  double length = 0, code = 0, questions = 0, tools = 0;
  double total() const { return length + code + questions + tools; }
  std::string to_string() const;  // "0.45 (length 0.15, code 0.15, questions 0.07, tools 0.00)"
};
Complexity complexity_of(const RequestFeatures& features);

// A model's current state, as the caller knows it. Models not in the map are idle and healthy.
struct ModelLoad {
  int active = 0;       // requests in flight
  bool failed = false;  // could not load / the endpoint is down
  std::string error;    // why, when failed
};
using ModelLoads = std::map<std::string, ModelLoad>;

struct RouteDecision {
  std::string model;                   // the model to use now
  std::string rule;                    // the rule that chose ("" for explicit or default)
  std::string chosen_by;               // "explicit", "rule", or "default"
  std::vector<std::string> fallbacks;  // what to try next if `model` fails, in order
  Complexity complexity;
  std::vector<std::string> reasons;  // one line per step, in order
};

// Errors: an unknown explicit model (code "unknown_model"); every candidate failed or
// overloaded (code "no_model_available"; the message names each one and why).
Result<RouteDecision> route(const RequestFeatures& features, const Config& config,
                            const ModelLoads& loads = {});

}  // namespace cove::assistant
