// Fidelity of the forward pass against exact float64 goldens (../shared/golden/goldens.json),
// teacher-forced, for every shared model, with the fast kernels and the reference kernels.
// This is the library-level check; cli_golden_test.cpp repeats it through `cove score`/`run`.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/model.h"
#include "model/transformer.h"
#include "support/goldens.h"
#include "support/teacher_forcing.h"

namespace cove::model {
namespace {

using testing::GoldenCase;

using testing::teacher_forced_logprobs;

class EngineGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    for (GoldenCase& c : testing::load_golden_cases()) {
      if (c.model == GetParam()) cases_.push_back(std::move(c));
    }
    ASSERT_FALSE(cases_.empty());
    auto m = Model::load(testing::shared_dir() + "/models/" + GetParam());
    ASSERT_TRUE(m.is_ok()) << m.message();
    model_ = std::move(*m);
  }
  std::vector<GoldenCase> cases_;
  std::unique_ptr<Model> model_;
};

TEST_P(EngineGolden, ReferenceKernelsMatchExactGoldens) {
  TransformerOptions options;
  options.reference = true;
  Transformer t(*model_, options);
  std::vector<std::vector<std::vector<float>>> rows;
  for (const GoldenCase& c : cases_) rows.push_back(teacher_forced_logprobs(t, c));
  testing::Deviation dev = testing::measure_deviation(cases_, rows);
  EXPECT_LE(dev.mean, 0.002) << "max " << dev.max;
  EXPECT_LE(dev.max, 0.01) << "mean " << dev.mean;
  RecordProperty("mean", std::to_string(dev.mean));
  RecordProperty("max", std::to_string(dev.max));
}

TEST_P(EngineGolden, FastKernelsWithinReferenceEngineDeviation) {
  Transformer t(*model_, TransformerOptions{});
  std::vector<std::vector<std::vector<float>>> rows;
  for (const GoldenCase& c : cases_) rows.push_back(teacher_forced_logprobs(t, c));
  testing::Deviation dev = testing::measure_deviation(cases_, rows);
  testing::Deviation ref = testing::reference_deviation(GetParam());
  EXPECT_LE(dev.mean, 1.2 * ref.mean + 0.002) << "max " << dev.max;
  EXPECT_LE(dev.max, 1.5 * ref.max + 0.01) << "mean " << dev.mean;
  std::printf("%s: fast mean %.5f max %.5f (reference engine %.4f / %.4f)\n", GetParam().c_str(),
              dev.mean, dev.max, ref.mean, ref.max);
}

// Decoding one token at a time (the generation path) picks the golden greedy ids up to the
// first near-tie, where a tiny rounding difference may legitimately choose the other token.
TEST_P(EngineGolden, GreedyDecodeFollowsGoldenIds) {
  Transformer t(*model_, TransformerOptions{});
  const testing::Deviation ref = testing::reference_deviation(GetParam());
  const double allowed_max = 1.5 * ref.max + 0.01;
  for (const GoldenCase& c : cases_) {
    std::vector<float> logits;
    t.truncate(0);
    ASSERT_TRUE(t.eval(c.prompt_tokens, false, logits).is_ok());
    for (size_t s = 0; s < c.steps.size(); ++s) {
      const auto& top = c.steps[s].top;
      if (top[0].second - top[1].second < 2 * allowed_max) break;  // near-tie: stop comparing
      const int32_t chosen =
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      ASSERT_EQ(chosen, c.steps[s].id) << c.prompt << " step " << s;
      const int32_t next[1] = {chosen};
      ASSERT_TRUE(t.eval(next, false, logits).is_ok());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllModels, EngineGolden,
    ::testing::Values("stories260K.gguf", "tiny-llama-f32.gguf", "tiny-llama-F16.gguf",
                      "tiny-llama-BF16.gguf", "tiny-llama-Q8_0.gguf", "tiny-llama-Q4_0.gguf",
                      "tiny-llama-Q4_K_M.gguf", "tiny-llama-Q5_K_M.gguf", "tiny-llama-Q6_K.gguf",
                      "tiny-qwen2-F16.gguf", "tiny-qwen2-Q8_0.gguf", "tiny-qwen2-Q4_K_M.gguf",
                      "tiny-llama32k-Q8_0.gguf", "tiny-llama32k-Q4_0.gguf"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = info.param.substr(0, info.param.find(".gguf"));
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

}  // namespace
}  // namespace cove::model
