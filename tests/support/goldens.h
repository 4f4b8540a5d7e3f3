// Reading ../shared/golden/goldens.json and measuring a model's distance from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cove::testing {

std::string shared_dir();  // COVE_SOURCE_DIR/../shared

struct GoldenStep {
  int32_t id;
  std::vector<std::pair<int32_t, double>> top;  // exact top-10 (id, logprob), best first
};

struct GoldenCase {
  std::string model;
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  std::vector<GoldenStep> steps;
};

struct Deviation {
  double mean = 0;
  double max = 0;
};

std::vector<GoldenCase> load_golden_cases();
// The reference engine's deviation for a model file name.
Deviation reference_deviation(const std::string& model);

// |delta logprob| over the exact top-5 entries of every step, given the model's log-softmax
// rows for each step (n_vocab floats per step).
Deviation measure_deviation(const std::vector<GoldenCase>& cases,
                            const std::vector<std::vector<std::vector<float>>>& logprob_rows);

}  // namespace cove::testing
