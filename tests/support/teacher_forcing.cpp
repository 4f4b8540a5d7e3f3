#include "support/teacher_forcing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace cove::testing {

std::vector<std::vector<float>> teacher_forced_logprobs(model::Transformer& t, const GoldenCase& c) {
  std::vector<int32_t> tokens = c.prompt_tokens;
  for (size_t s = 0; s + 1 < c.steps.size(); ++s) tokens.push_back(c.steps[s].id);
  std::vector<float> logits;
  t.truncate(0);
  Status status = t.eval(tokens, true, logits);
  EXPECT_TRUE(status.is_ok()) << status.message();
  const int64_t n_vocab = t.model().config().n_vocab;
  std::vector<std::vector<float>> rows;
  for (size_t s = 0; s < c.steps.size(); ++s) {
    const float* row = logits.data() + (c.prompt_tokens.size() - 1 + s) * n_vocab;
    double max = row[0];
    for (int64_t i = 0; i < n_vocab; ++i) max = std::max<double>(max, row[i]);
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(row[i] - max);
    const double lse = max + std::log(sum);
    std::vector<float> lp(static_cast<size_t>(n_vocab));
    for (int64_t i = 0; i < n_vocab; ++i) lp[i] = static_cast<float>(row[i] - lse);
    rows.push_back(std::move(lp));
  }
  return rows;
}

}  // namespace cove::testing
