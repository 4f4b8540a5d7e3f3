// Teacher forcing for the golden tests: the log-probabilities a model gives every vocabulary
// entry at each golden step, with the golden ids fed as the input (one batch).
#pragma once

#include <vector>

#include "model/transformer.h"
#include "support/goldens.h"

namespace cove::testing {

// One row of n_vocab log-probabilities (plain log-softmax of the logits) per step of `c`.
// A failed evaluation is reported as a test failure.
std::vector<std::vector<float>> teacher_forced_logprobs(model::Transformer& t, const GoldenCase& c);

}  // namespace cove::testing
