// The engine-core fidelity checks (../shared/golden/goldens.json) on every compiled SIMD target:
// each target is forced in turn (kernels::force_target) and the fast path, teacher-forced on
// the goldens, must stay within the reference engine's deviation, as in engine_golden_test.cpp
// for the best target. Every target runs every weight family the kernels treat differently
// (Q8_0, Q4_0, K-quants with 256-weight rows and the 32-weight fallbacks of qwen2's rows of 128,
// F16), on the small models so that the whole matrix stays fast; each with the file's layout
// and with the weights repacked (kernels/repack.h; forced on every target, where targets
// without the VNNI kernels restore rows from it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <tuple>

#include "kernels/quantized_dot.h"
#include "model/model.h"
#include "model/transformer.h"
#include "support/goldens.h"
#include "support/teacher_forcing.h"

namespace cove::model {
namespace {

using testing::GoldenCase;

using testing::teacher_forced_logprobs;

class EngineEveryTarget
    : public ::testing::TestWithParam<std::tuple<std::string, std::string, bool>> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kernels::force_target(std::get<0>(GetParam()))) << std::get<0>(GetParam());
  }
  void TearDown() override { kernels::reset_target(); }
};

TEST_P(EngineEveryTarget, FastKernelsWithinReferenceEngineDeviation) {
  const std::string& model_name = std::get<1>(GetParam());
  std::vector<GoldenCase> cases;
  for (GoldenCase& c : testing::load_golden_cases()) {
    if (c.model == model_name) cases.push_back(std::move(c));
  }
  ASSERT_FALSE(cases.empty());
  auto model = Model::load(testing::shared_dir() + "/models/" + model_name);
  ASSERT_TRUE(model.is_ok()) << model.message();
  if (std::get<2>(GetParam())) {
    const int n_repacked = (*model)->repack_weights(/*force=*/true);
    if (model_name.find("Q8_0") != std::string::npos ||
        model_name.find("Q4_0") != std::string::npos) {
      EXPECT_GT(n_repacked, 0);
    }
    if (n_repacked == 0) GTEST_SKIP() << model_name << " has no matrix of a repackable type";
  }
  EXPECT_EQ(kernels::active_target(), std::get<0>(GetParam()));
  Transformer t(**model, TransformerOptions{});
  std::vector<std::vector<std::vector<float>>> rows;
  for (const GoldenCase& c : cases) rows.push_back(teacher_forced_logprobs(t, c));
  const testing::Deviation dev = testing::measure_deviation(cases, rows);
  const testing::Deviation ref = testing::reference_deviation(model_name);
  std::printf("%s %s %s: mean %.4f max %.4f (reference engine %.4f / %.4f)\n",
              std::get<0>(GetParam()).c_str(), model_name.c_str(),
              std::get<2>(GetParam()) ? "repacked" : "file layout", dev.mean, dev.max, ref.mean,
              ref.max);
  EXPECT_LE(dev.mean, 1.2 * ref.mean + 0.002) << "max " << dev.max;
  EXPECT_LE(dev.max, 1.5 * ref.max + 0.01) << "mean " << dev.mean;
}

INSTANTIATE_TEST_SUITE_P(
    TargetsAndModels, EngineEveryTarget,
    ::testing::Combine(::testing::ValuesIn(kernels::compiled_targets()),
                       ::testing::Values("tiny-llama-Q8_0.gguf", "tiny-llama-Q4_0.gguf",
                                         "tiny-llama-Q4_K_M.gguf", "tiny-llama-Q6_K.gguf",
                                         "tiny-qwen2-Q4_K_M.gguf", "tiny-llama-F16.gguf"),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<std::string, std::string, bool>>& info) {
      std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      name = name.substr(0, name.find(".gguf"));
      name += std::get<2>(info.param) ? "_repacked" : "_file_layout";
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

}  // namespace
}  // namespace cove::model
