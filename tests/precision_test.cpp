// --precision: converting a loaded model's float weights in memory (model/quantizer.h).
//
// What they prove: tiny-llama-f32 converted to q8_0, q4_0 and q4_k gets the types of the shared
// file of that type (made by the reference quantizer), and with the fast kernels it is as close
// to the F32 model's exact goldens as the fidelity bar of that shared file allows; a tied
// output follows the converted embedding; already-quantized matrices are left alone; `auto`
// follows its documented memory rule and says what it picked; and the commands take the option.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "model/model.h"
#include "model/quantizer.h"
#include "model/transformer.h"
#include "support/goldens.h"
#include "support/teacher_forcing.h"
#include "support/process.h"

namespace cove::model {
namespace {

using tensor::TensorType;

std::string shared_model(const std::string& name) {
  return testing::shared_dir() + "/models/" + name;
}

std::unique_ptr<Model> load(const std::string& name) {
  Result<std::unique_ptr<Model>> m = Model::load(shared_model(name));
  EXPECT_TRUE(m.is_ok()) << m.message();
  return m ? std::move(*m) : nullptr;
}

// Log-softmax rows of every golden step, teacher-forced with the golden ids.
using testing::teacher_forced_logprobs;

std::vector<testing::GoldenCase> golden_cases(const std::string& model) {
  std::vector<testing::GoldenCase> cases;
  for (testing::GoldenCase& c : testing::load_golden_cases()) {
    if (c.model == model) cases.push_back(std::move(c));
  }
  EXPECT_FALSE(cases.empty()) << model;
  return cases;
}

std::vector<std::vector<std::vector<float>>> logprob_rows(
    const Model& model, const std::vector<testing::GoldenCase>& cases, bool reference_kernels) {
  TransformerOptions options;
  options.reference = reference_kernels;
  Transformer t(model, options);
  std::vector<std::vector<std::vector<float>>> rows;
  for (const testing::GoldenCase& c : cases) rows.push_back(teacher_forced_logprobs(t, c));
  return rows;
}

// Goldens for weights that have none on file: the same prompts and ids, with the exact top-10
// taken from `rows` (the reference kernels, which engine_golden_test holds within 0.002 mean of
// the float64 goldens).
std::vector<testing::GoldenCase> goldens_from_rows(
    std::vector<testing::GoldenCase> cases,
    const std::vector<std::vector<std::vector<float>>>& rows) {
  for (size_t c = 0; c < cases.size(); ++c) {
    for (size_t s = 0; s < cases[c].steps.size(); ++s) {
      const std::vector<float>& row = rows[c][s];
      std::vector<int32_t> ids(row.size());
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
      std::partial_sort(ids.begin(), ids.begin() + 10, ids.end(),
                        [&](int32_t a, int32_t b) { return row[a] > row[b]; });
      cases[c].steps[s].top.clear();
      for (size_t k = 0; k < 10; ++k) cases[c].steps[s].top.push_back({ids[k], row[ids[k]]});
    }
  }
  return cases;
}

struct FidelityCase {
  Precision precision;
  std::string shared_file;  // the reference quantizer's file of the same type
};

class PrecisionFidelity : public ::testing::TestWithParam<FidelityCase> {};

TEST_P(PrecisionFidelity, ConvertedF32MeetsSharedFileBar) {
  const FidelityCase& p = GetParam();
  std::unique_ptr<Model> model = load("tiny-llama-f32.gguf");
  std::unique_ptr<Model> shared = load(p.shared_file);
  ASSERT_TRUE(model && shared);
  const size_t f32_bytes = model->weight_bytes();
  Result<ConversionSummary> summary = convert_precision(*model, p.precision, 2);
  ASSERT_TRUE(summary.is_ok()) << summary.message();
  EXPECT_EQ(summary->n_converted, 30u);
  EXPECT_EQ(summary->n_kept, 0u);
  EXPECT_EQ(model->weight_bytes(), shared->weight_bytes());
  EXPECT_LT(model->weight_bytes(), f32_bytes);

  // Every matrix has the type the reference quantizer gave it, and the round-to-nearest types
  // (Q8_0, Q4_0) have its exact bytes; the K types' searched scales differ by design.
  std::vector<std::pair<std::string, tensor::Matrix>> ours, theirs;
  model->for_each_matrix([&](const std::string& n, tensor::Matrix& m) { ours.push_back({n, m}); });
  shared->for_each_matrix([&](const std::string& n, tensor::Matrix& m) {
    theirs.push_back({n, m});
  });
  ASSERT_EQ(ours.size(), theirs.size());
  bool all_bytes_equal = true;
  for (size_t i = 0; i < ours.size(); ++i) {
    const tensor::Matrix& a = ours[i].second;
    const tensor::Matrix& b = theirs[i].second;
    ASSERT_EQ(ours[i].first, theirs[i].first);
    ASSERT_EQ(tensor::type_name(a.type), tensor::type_name(b.type)) << ours[i].first;
    const bool equal = std::memcmp(a.data, b.data, a.n_bytes()) == 0;
    if (a.type == TensorType::Q8_0 || a.type == TensorType::Q4_0) {
      EXPECT_TRUE(equal) << ours[i].first;
    }
    all_bytes_equal = all_bytes_equal && equal;
  }

  // The exact answers for the converted weights: the shared file's goldens when the bytes are
  // the same (checked against the reference kernels), else the reference kernels' own.
  const std::vector<testing::GoldenCase> shared_goldens = golden_cases(p.shared_file);
  const auto exact_rows = logprob_rows(*model, shared_goldens, /*reference_kernels=*/true);
  std::vector<testing::GoldenCase> exact = goldens_from_rows(shared_goldens, exact_rows);
  if (all_bytes_equal) {
    const testing::Deviation reference = testing::measure_deviation(shared_goldens, exact_rows);
    EXPECT_LE(reference.mean, 0.002);
    exact = shared_goldens;
  }

  // Fast kernels on the converted model: the bar engine_golden_test sets for the shared file
  // (its reference_deviation is the reference engine's activation rounding on its own weights).
  const auto fast_rows = logprob_rows(*model, shared_goldens, /*reference_kernels=*/false);
  const testing::Deviation dev = testing::measure_deviation(exact, fast_rows);
  const testing::Deviation ref = testing::reference_deviation(p.shared_file);
  EXPECT_LE(dev.mean, 1.2 * ref.mean + 0.002) << "max " << dev.max;
  EXPECT_LE(dev.max, 1.5 * ref.max + 0.01) << "mean " << dev.mean;

  // End to end, against the F32 model's exact goldens (weight rounding included): as close as
  // the shared file through the same kernels.
  const std::vector<testing::GoldenCase> f32_goldens = golden_cases("tiny-llama-f32.gguf");
  const testing::Deviation ours_f32 =
      testing::measure_deviation(f32_goldens, logprob_rows(*model, f32_goldens, false));
  const testing::Deviation shared_f32 =
      testing::measure_deviation(f32_goldens, logprob_rows(*shared, f32_goldens, false));
  std::printf(
      "%-5s fast vs exact for its weights: mean %.5f max %.4f (bar %.4f / %.4f); vs F32 "
      "goldens: mean %.4f, %s %.4f\n",
      std::string(precision_name(p.precision)).c_str(), dev.mean, dev.max, 1.2 * ref.mean + 0.002,
      1.5 * ref.max + 0.01, ours_f32.mean, p.shared_file.c_str(), shared_f32.mean);
  EXPECT_LE(ours_f32.mean, 1.05 * shared_f32.mean);
}

INSTANTIATE_TEST_SUITE_P(SharedTypes, PrecisionFidelity,
                         ::testing::Values(FidelityCase{Precision::kQ8_0, "tiny-llama-Q8_0.gguf"},
                                           FidelityCase{Precision::kQ4_0, "tiny-llama-Q4_0.gguf"},
                                           FidelityCase{Precision::kQ4_K,
                                                        "tiny-llama-Q4_K_M.gguf"}),
                         [](const ::testing::TestParamInfo<FidelityCase>& info) {
                           return std::string(precision_name(info.param.precision));
                         });

TEST(Precision, HalfTypesConvertExactlyBack) {
  // F16 -> F32 is exact, so the converted model computes what the F16 file computes.
  std::unique_ptr<Model> f16 = load("tiny-llama-F16.gguf");
  std::unique_ptr<Model> widened = load("tiny-llama-F16.gguf");
  ASSERT_TRUE(f16 && widened);
  ASSERT_TRUE(convert_precision(*widened, Precision::kF32, 2).is_ok());
  EXPECT_EQ(widened->layers()[0].wq.type, TensorType::F32);
  EXPECT_EQ(widened->weight_bytes(), 2 * f16->weight_bytes());
  TransformerOptions options;
  options.reference = true;
  Transformer a(*f16, options), b(*widened, options);
  std::vector<float> la, lb;
  const int32_t tokens[3] = {1, 300, 301};
  ASSERT_TRUE(a.eval(tokens, false, la).is_ok());
  ASSERT_TRUE(b.eval(tokens, false, lb).is_ok());
  EXPECT_EQ(la, lb);
}

TEST(Precision, TiedOutputFollowsTheConvertedEmbedding) {
  // tiny-qwen2 ties its output to the embedding, whose rows of 128 take Q8_0 in the Q4_K_M mix
  // (and the other matrices Q5_0), as in the shared file the reference quantizer made.
  std::unique_ptr<Model> model = load("tiny-qwen2-F16.gguf");
  std::unique_ptr<Model> shared = load("tiny-qwen2-Q4_K_M.gguf");
  ASSERT_TRUE(model && shared);
  ASSERT_TRUE(model->tied_output());
  ASSERT_TRUE(convert_precision(*model, Precision::kQ4_K, 2).is_ok());
  EXPECT_EQ(model->token_embedding().type, TensorType::Q8_0);
  EXPECT_EQ(model->output().data, model->token_embedding().data);
  EXPECT_EQ(model->output().type, TensorType::Q8_0);
  std::vector<TensorType> ours, theirs;
  model->for_each_matrix([&](const std::string&, tensor::Matrix& m) { ours.push_back(m.type); });
  shared->for_each_matrix([&](const std::string&, tensor::Matrix& m) { theirs.push_back(m.type); });
  EXPECT_EQ(ours, theirs);
}

TEST(Precision, QuantizedMatricesAreLeftAlone) {
  std::unique_ptr<Model> model = load("tiny-llama-Q4_0.gguf");
  ASSERT_TRUE(model);
  const uint8_t* before = model->layers()[1].w_up.data;
  Result<ConversionSummary> summary = convert_precision(*model, Precision::kQ8_0, 1);
  ASSERT_TRUE(summary.is_ok()) << summary.message();
  EXPECT_EQ(summary->n_converted, 0u);
  EXPECT_EQ(summary->n_kept, 30u);
  EXPECT_EQ(model->layers()[1].w_up.data, before);
  EXPECT_NE(summary->to_string(false).find("nothing to convert"), std::string::npos);
}

TEST(Precision, AutoRuleFollowsFreeMemory) {
  const uint64_t mb = 1000 * 1000;
  EXPECT_EQ(choose_auto_precision(100 * mb, 1000 * mb).precision, Precision::kQ8_0);
  EXPECT_EQ(choose_auto_precision(500 * mb, 1000 * mb).precision, Precision::kQ8_0);
  EXPECT_EQ(choose_auto_precision(501 * mb, 1000 * mb).precision, Precision::kQ4_K);
  EXPECT_EQ(choose_auto_precision(16000 * mb, 8000 * mb).precision, Precision::kQ4_K);
  EXPECT_EQ(choose_auto_precision(100 * mb, std::nullopt).precision, Precision::kQ8_0);
  EXPECT_NE(choose_auto_precision(501 * mb, 1000 * mb).reason.find("more than half"),
            std::string::npos);
  std::optional<uint64_t> available = available_memory_bytes();
  ASSERT_TRUE(available);  // Linux has /proc/meminfo
  EXPECT_GT(*available, 0u);
}

TEST(Precision, AutoPicksAndSaysSo) {
  std::unique_ptr<Model> model = load("tiny-llama-f32.gguf");
  ASSERT_TRUE(model);
  Result<std::string> line = apply_precision_option(*model, "auto", 2);
  ASSERT_TRUE(line.is_ok()) << line.message();
  // The tiny model's 7 MB of F16 weights fit in half of any machine's free memory.
  EXPECT_EQ(line->rfind("precision auto -> q8_0 (F16 weights", 0), 0u) << *line;
  EXPECT_NE(line->find("converted 30 of 30 weight matrices"), std::string::npos) << *line;
  EXPECT_EQ(model->layers()[0].wq.type, TensorType::Q8_0);
  EXPECT_FALSE(apply_precision_option(*model, "q3", 1).is_ok());
  Result<std::string> none = apply_precision_option(*model, "", 1);
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
}

TEST(PrecisionCommand, RunScoreAndPerplexityTakeTheOption) {
  const std::string model = shared_model("tiny-llama-f32.gguf");
  testing::ProcessResult run = testing::run_cove({"run", "-m", model, "-p", "Once upon a time",
                                                  "-n", "4", "--temp", "0", "--precision", "auto"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("precision auto -> "), std::string::npos) << run.err;

  testing::ProcessResult score =
      testing::run_cove({"score", "-m", model, "-p", "Once upon", "--continuation", " a time",
                         "--precision", "q4_k"});
  ASSERT_EQ(score.exit_code, 0) << score.err;
  EXPECT_NE(score.err.find("precision q4_k: converted 30 of 30"), std::string::npos) << score.err;

  const std::string text_path = (std::filesystem::temp_directory_path() /
                                 ("cove-precision-test-" + std::to_string(getpid()) + ".txt"))
                                    .string();
  std::ofstream(text_path) << "Once upon a time there was a little dog. The dog liked to play.\n";
  testing::ProcessResult ppl = testing::run_cove(
      {"perplexity", "-m", model, "-f", text_path, "-c", "16", "--precision", "q8_0"});
  std::filesystem::remove(text_path);
  ASSERT_EQ(ppl.exit_code, 0) << ppl.err;
  EXPECT_NE(ppl.err.find("precision q8_0: converted"), std::string::npos) << ppl.err;
  EXPECT_NE(ppl.out.find("perplexity "), std::string::npos) << ppl.out;

  testing::ProcessResult bad =
      testing::run_cove({"run", "-m", model, "-p", "Once", "-n", "1", "--precision", "q3_k"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err.rfind("error: --precision: unknown value 'q3_k'", 0), 0u) << bad.err;
}

}  // namespace
}  // namespace cove::model
