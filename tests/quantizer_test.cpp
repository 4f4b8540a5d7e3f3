// `cove quantize` and the quantization mixes (model/quantizer.h).
//
// What they prove: the mixes give every tensor the type the reference quantizer gave it in the
// shared files (llama and qwen2, including the short-row fallbacks and the tied output); a file
// quantized by cove from tiny-llama-f32 keeps every metadata key, the tensor order and shapes,
// and sets file_type and quantization_version; and, with the exact reference kernels so that
// only the weights differ, it lands no further from the F32 model's goldens than the shared file
// of the same type made by the reference quantizer (must-show 5). Also: already-quantized input
// is copied when the type stays and requantized with a warning otherwise, the writer streams
// with progress, and the command gives one clear error line on bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "gguf/gguf.h"
#include "model/model.h"
#include "model/quantizer.h"
#include "model/transformer.h"
#include "support/goldens.h"
#include "support/teacher_forcing.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace cove::model {
namespace {

namespace fs = std::filesystem;
using tensor::TensorType;

std::string shared_model(const std::string& name) {
  return testing::shared_dir() + "/models/" + name;
}

using testing::TempDir;

std::unique_ptr<gguf::File> open_file(const std::string& path) {
  Result<std::unique_ptr<gguf::File>> f = gguf::File::open(path);
  EXPECT_TRUE(f.is_ok()) << f.message();
  return f ? std::move(*f) : nullptr;
}

std::map<std::string, TensorType> tensor_types(const gguf::File& f) {
  std::map<std::string, TensorType> types;
  for (const gguf::TensorInfo& t : f.tensors()) types[t.name] = t.type;
  return types;
}

// Log-softmax rows of every golden step, teacher-forced with the golden ids.
using testing::teacher_forced_logprobs;

// Deviation of `model` from the exact goldens of `golden_model`, teacher-forced.
testing::Deviation deviation_from_goldens(const Model& model, const std::string& golden_model,
                                          bool reference_kernels) {
  std::vector<testing::GoldenCase> cases;
  for (testing::GoldenCase& c : testing::load_golden_cases()) {
    if (c.model == golden_model) cases.push_back(std::move(c));
  }
  EXPECT_FALSE(cases.empty());
  TransformerOptions options;
  options.reference = reference_kernels;
  Transformer t(model, options);
  std::vector<std::vector<std::vector<float>>> rows;
  for (const testing::GoldenCase& c : cases) rows.push_back(teacher_forced_logprobs(t, c));
  return testing::measure_deviation(cases, rows);
}

// ---------------------------------------------------------------------------------------------
// Mix rules

TEST(QuantizerMix, NamesAndFileTypesAreTheEcosystems) {
  const std::map<std::string, uint32_t> expected = {
      {"F32", 0},     {"F16", 1},     {"Q4_0", 2},    {"Q4_1", 3},    {"Q8_0", 7},
      {"Q5_0", 8},    {"Q5_1", 9},    {"Q2_K", 10},   {"Q3_K_S", 11}, {"Q3_K_M", 12},
      {"Q3_K_L", 13}, {"Q4_K_S", 14}, {"Q4_K_M", 15}, {"Q5_K_S", 16}, {"Q5_K_M", 17},
      {"Q6_K", 18},   {"BF16", 32}};
  for (const auto& [name, file_type] : expected) {
    std::optional<QuantMix> mix = find_quant_mix(name);
    ASSERT_TRUE(mix) << name;
    EXPECT_EQ(mix->file_type, file_type) << name;
  }
  EXPECT_EQ(find_quant_mix("q4_k_m")->file_type, 15u);  // case-insensitive
  EXPECT_EQ(find_quant_mix("Q4_K")->file_type, 15u);    // the ecosystem's alias for _M
  EXPECT_FALSE(find_quant_mix("Q9_0"));
  EXPECT_FALSE(find_quant_mix("Q4_K_X"));
}

// A 32-layer Llama: the _M mixes give attn_v and ffn_down Q6_K in half of the layers (the first
// and last four, and every third between); Q4_K_S gives the first layers Q5_K.
TEST(QuantizerMix, MediumMixesGiveHalfTheLayersQ6K) {
  const QuantMix q4_k_m = *find_quant_mix("Q4_K_M");
  MixContext c;
  c.n_layers = 32;
  c.n_gqa = 4;
  std::vector<int64_t> more_bits;
  for (int64_t i = 0; i < 32; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const TensorType v = choose_tensor_type(q4_k_m, c, b + "attn_v.weight", 4096);
    EXPECT_EQ(choose_tensor_type(q4_k_m, c, b + "ffn_down.weight", 14336), v) << i;
    EXPECT_EQ(choose_tensor_type(q4_k_m, c, b + "attn_q.weight", 4096), TensorType::Q4_K);
    if (v == TensorType::Q6_K) more_bits.push_back(i);
  }
  const std::vector<int64_t> expected = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  EXPECT_EQ(more_bits, expected);
  EXPECT_EQ(choose_tensor_type(q4_k_m, c, "output.weight", 4096), TensorType::Q6_K);
  EXPECT_EQ(choose_tensor_type(q4_k_m, c, "token_embd.weight", 4096), TensorType::Q4_K);

  const QuantMix q4_k_s = *find_quant_mix("Q4_K_S");
  EXPECT_EQ(choose_tensor_type(q4_k_s, c, "blk.3.attn_v.weight", 4096), TensorType::Q5_K);
  EXPECT_EQ(choose_tensor_type(q4_k_s, c, "blk.4.attn_v.weight", 4096), TensorType::Q4_K);
  EXPECT_EQ(choose_tensor_type(q4_k_s, c, "blk.3.ffn_down.weight", 4096), TensorType::Q5_K);
  EXPECT_EQ(choose_tensor_type(q4_k_s, c, "blk.4.ffn_down.weight", 4096), TensorType::Q4_K);

  const QuantMix q2_k = *find_quant_mix("Q2_K");
  EXPECT_EQ(choose_tensor_type(q2_k, c, "blk.9.attn_v.weight", 4096), TensorType::Q4_K);
  EXPECT_EQ(choose_tensor_type(q2_k, c, "blk.9.ffn_down.weight", 4096), TensorType::Q3_K);
  EXPECT_EQ(choose_tensor_type(q2_k, c, "blk.9.attn_output.weight", 4096), TensorType::Q3_K);
  EXPECT_EQ(choose_tensor_type(q2_k, c, "blk.9.ffn_up.weight", 4096), TensorType::Q2_K);

  // Q8_0 keeps the output in Q8_0; every other quantized mix raises it to Q6_K.
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q8_0"), c, "output.weight", 4096),
            TensorType::Q8_0);
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q4_0"), c, "output.weight", 4096),
            TensorType::Q6_K);
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("F16"), c, "output.weight", 4096), TensorType::F16);
}

TEST(QuantizerMix, ShortRowsFallBackToBlocksOf32) {
  MixContext c;
  c.n_layers = 30;
  bool fell_back = false;
  // SmolLM2-135M's rows of 576 hold no whole super-blocks.
  EXPECT_EQ(
      choose_tensor_type(*find_quant_mix("Q4_K_M"), c, "blk.5.attn_q.weight", 576, &fell_back),
      TensorType::Q5_0);
  EXPECT_TRUE(fell_back);
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q4_K_M"), c, "blk.0.ffn_down.weight", 1536),
            TensorType::Q6_K);  // 1536 = 6 x 256 fits
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q4_K_M"), c, "blk.0.attn_v.weight", 576),
            TensorType::Q8_0);
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q5_K_S"), c, "blk.1.attn_q.weight", 576),
            TensorType::Q5_1);
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q2_K"), c, "blk.1.attn_q.weight", 576),
            TensorType::Q4_0);
  c.has_output = false;  // tied: the embedding makes the logits
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q4_K_M"), c, "token_embd.weight", 576),
            TensorType::Q8_0);
  // A row that fits no block at all is written as F16.
  EXPECT_EQ(choose_tensor_type(*find_quant_mix("Q4_0"), c, "blk.1.attn_q.weight", 100, &fell_back),
            TensorType::F16);
  EXPECT_TRUE(fell_back);
}

TEST(QuantizerMix, OnlyWeightMatricesAreQuantized) {
  const int64_t matrix[] = {256, 512};
  const int64_t vector[] = {256};
  const int64_t column[] = {256, 1};
  EXPECT_TRUE(is_quantizable_weight("blk.0.attn_q.weight", matrix));
  EXPECT_FALSE(is_quantizable_weight("blk.0.attn_norm.weight", vector));
  EXPECT_FALSE(is_quantizable_weight("blk.0.attn_q.bias", vector));
  EXPECT_FALSE(is_quantizable_weight("blk.0.attn_q.weight", column));
  EXPECT_FALSE(is_quantizable_weight("blk.0.ffn_gate_inp.weight", matrix));
  EXPECT_FALSE(is_quantizable_weight("position_embd.weight", matrix));
}

// The plan for each shared source file gives every tensor exactly the type the reference
// quantizer chose in the shared file of that type.
struct PlanCase {
  std::string source;
  std::string mix;
  std::string reference_file;
};

class QuantizerPlan : public ::testing::TestWithParam<PlanCase> {};

TEST_P(QuantizerPlan, TypesMatchReferenceQuantizerTensorByTensor) {
  const PlanCase& p = GetParam();
  std::unique_ptr<gguf::File> source = open_file(shared_model(p.source));
  std::unique_ptr<gguf::File> reference = open_file(shared_model(p.reference_file));
  ASSERT_TRUE(source && reference);
  Result<std::vector<TensorPlan>> plan = plan_quantization(*source, *find_quant_mix(p.mix));
  ASSERT_TRUE(plan.is_ok()) << plan.message();
  const std::map<std::string, TensorType> expected = tensor_types(*reference);
  ASSERT_EQ(plan->size(), expected.size());
  for (const TensorPlan& t : *plan) {
    ASSERT_TRUE(expected.count(t.name)) << t.name;
    EXPECT_EQ(tensor::type_name(t.to), tensor::type_name(expected.at(t.name))) << t.name;
  }
  Result<std::optional<int64_t>> file_type = reference->get_int("general.file_type");
  ASSERT_TRUE(file_type.is_ok() && *file_type);
  EXPECT_EQ(**file_type, find_quant_mix(p.mix)->file_type);
}

INSTANTIATE_TEST_SUITE_P(
    SharedFiles, QuantizerPlan,
    ::testing::Values(PlanCase{"tiny-llama-f32.gguf", "Q8_0", "tiny-llama-Q8_0.gguf"},
                      PlanCase{"tiny-llama-f32.gguf", "Q4_0", "tiny-llama-Q4_0.gguf"},
                      PlanCase{"tiny-llama-f32.gguf", "Q4_K_M", "tiny-llama-Q4_K_M.gguf"},
                      PlanCase{"tiny-llama-f32.gguf", "Q5_K_M", "tiny-llama-Q5_K_M.gguf"},
                      PlanCase{"tiny-llama-f32.gguf", "Q6_K", "tiny-llama-Q6_K.gguf"},
                      PlanCase{"tiny-qwen2-F16.gguf", "Q8_0", "tiny-qwen2-Q8_0.gguf"},
                      PlanCase{"tiny-qwen2-F16.gguf", "Q4_K_M", "tiny-qwen2-Q4_K_M.gguf"}),
    [](const ::testing::TestParamInfo<PlanCase>& info) {
      std::string name =
          info.param.source.substr(0, info.param.source.find('-', 5)) + "_" + info.param.mix;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// ---------------------------------------------------------------------------------------------
// Must-show 5: cove's quantizer against the reference quantizer

class QuantizerFidelity : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizerFidelity, AsCloseToF32GoldensAsReferenceQuantizer) {
  const std::string mix_name = GetParam();
  const QuantMix mix = *find_quant_mix(mix_name);
  TempDir dir;
  const std::string source_path = shared_model("tiny-llama-f32.gguf");
  const std::string out_path = dir.file("tiny-llama-" + mix_name + ".gguf");
  QuantizeOptions options;
  options.mix = mix;
  options.n_threads = 2;
  Result<QuantizeSummary> summary = quantize_file(source_path, out_path, options);
  ASSERT_TRUE(summary.is_ok()) << summary.message();
  EXPECT_EQ(summary->n_quantized, 30u);  // 4 layers x 7 + token_embd + output
  EXPECT_EQ(summary->n_requantized, 0u);
  EXPECT_EQ(summary->output_bytes, fs::file_size(out_path));

  // The file: every input key kept, file_type and quantization_version set, tensors in the
  // input's order and shapes, types as the reference quantizer chose them.
  std::unique_ptr<gguf::File> source = open_file(source_path);
  std::unique_ptr<gguf::File> out = open_file(out_path);
  std::unique_ptr<gguf::File> reference =
      open_file(shared_model("tiny-llama-" + mix_name + ".gguf"));
  ASSERT_TRUE(source && out && reference);
  for (const gguf::KeyValue& kv : source->metadata()) {
    const gguf::Value* v = out->find(kv.key);
    ASSERT_TRUE(v) << kv.key;
    if (kv.key != "general.file_type") {
      EXPECT_EQ(v->to_string(1u << 20), kv.value.to_string(1u << 20)) << kv.key;
    }
  }
  EXPECT_EQ(**out->get_int("general.file_type"), mix.file_type);
  EXPECT_EQ(**out->get_int("general.quantization_version"), 2);
  EXPECT_EQ(out->alignment(), 32u);
  ASSERT_EQ(out->tensors().size(), source->tensors().size());
  const std::map<std::string, TensorType> reference_types = tensor_types(*reference);
  size_t n_q6_k = 0;
  for (size_t i = 0; i < out->tensors().size(); ++i) {
    const gguf::TensorInfo& t = out->tensors()[i];
    EXPECT_EQ(t.name, source->tensors()[i].name);
    EXPECT_EQ(t.shape, source->tensors()[i].shape) << t.name;
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_EQ(tensor::type_name(t.type), tensor::type_name(reference_types.at(t.name))) << t.name;
    n_q6_k += t.type == TensorType::Q6_K;
  }
  // The mix itself: output in Q6_K (not for Q8_0), and for the _M mixes attn_v and ffn_down of
  // layers 2 and 3 (use_more_bits with 4 layers).
  if (mix_name == "Q4_K_M" || mix_name == "Q5_K_M") {
    EXPECT_EQ(n_q6_k, 5u);
    for (const char* name : {"output.weight", "blk.2.attn_v.weight", "blk.3.attn_v.weight",
                             "blk.2.ffn_down.weight", "blk.3.ffn_down.weight"}) {
      EXPECT_EQ(out->find_tensor(name)->type, TensorType::Q6_K) << name;
    }
  }

  // Only the weights differ: the exact reference kernels, teacher-forced with the F32 model's
  // golden ids, measured against its exact logprobs.
  Result<std::unique_ptr<Model>> ours = Model::load(out_path);
  ASSERT_TRUE(ours.is_ok()) << ours.message();
  Result<std::unique_ptr<Model>> theirs = Model::load(reference->name());
  ASSERT_TRUE(theirs.is_ok()) << theirs.message();
  const testing::Deviation cove_dev =
      deviation_from_goldens(**ours, "tiny-llama-f32.gguf", /*reference_kernels=*/true);
  const testing::Deviation ref_dev =
      deviation_from_goldens(**theirs, "tiny-llama-f32.gguf", /*reference_kernels=*/true);
  std::printf(
      "%-6s cove quantizer mean |dlogprob| %.5f (max %.4f), reference quantizer %.5f "
      "(max %.4f), ratio %.3f\n",
      mix_name.c_str(), cove_dev.mean, cove_dev.max, ref_dev.mean, ref_dev.max,
      cove_dev.mean / ref_dev.mean);
  RecordProperty("cove_mean", std::to_string(cove_dev.mean));
  RecordProperty("reference_mean", std::to_string(ref_dev.mean));
  EXPECT_LE(cove_dev.mean, 1.05 * ref_dev.mean);

  // And the fast kernels run it (greedy decode from the first prompt gives a valid token).
  Transformer fast(**ours, TransformerOptions{});
  std::vector<float> logits;
  const int32_t bos[1] = {1};
  ASSERT_TRUE(fast.eval(bos, false, logits).is_ok());
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

INSTANTIATE_TEST_SUITE_P(MustShow5, QuantizerFidelity,
                         ::testing::Values("Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// ---------------------------------------------------------------------------------------------
// Already-quantized input, streaming

TEST(Quantizer, SameTypeTensorsAreCopiedByteForByte) {
  TempDir dir;
  const std::string source_path = shared_model("tiny-llama-Q4_K_M.gguf");
  const std::string out_path = dir.file("again.gguf");
  QuantizeOptions options;
  options.mix = *find_quant_mix("Q4_K_M");
  std::vector<std::string> warnings;
  options.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  Result<QuantizeSummary> summary = quantize_file(source_path, out_path, options);
  ASSERT_TRUE(summary.is_ok()) << summary.message();
  EXPECT_EQ(summary->n_requantized, 0u);
  EXPECT_TRUE(warnings.empty());
  std::unique_ptr<gguf::File> source = open_file(source_path);
  std::unique_ptr<gguf::File> out = open_file(out_path);
  ASSERT_TRUE(source && out);
  ASSERT_EQ(out->tensors().size(), source->tensors().size());
  for (size_t i = 0; i < out->tensors().size(); ++i) {
    const gguf::TensorInfo& a = source->tensors()[i];
    const gguf::TensorInfo& b = out->tensors()[i];
    ASSERT_EQ(a.type, b.type) << a.name;
    ASSERT_EQ(a.n_bytes, b.n_bytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.n_bytes), 0) << a.name;
  }
}

TEST(Quantizer, RequantizingWarnsAndStillLoads) {
  TempDir dir;
  const std::string out_path = dir.file("q8-to-q4.gguf");
  QuantizeOptions options;
  options.mix = *find_quant_mix("Q4_0");
  std::vector<std::string> warnings;
  options.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  Result<QuantizeSummary> summary =
      quantize_file(shared_model("tiny-llama-Q8_0.gguf"), out_path, options);
  ASSERT_TRUE(summary.is_ok()) << summary.message();
  EXPECT_EQ(summary->n_requantized, 30u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("already quantized (30 Q8_0)"), std::string::npos) << warnings[0];
  Result<std::unique_ptr<Model>> m = Model::load(out_path);
  ASSERT_TRUE(m.is_ok()) << m.message();
  EXPECT_EQ((*m)->layers()[0].wq.type, TensorType::Q4_0);
  EXPECT_EQ((*m)->output().type, TensorType::Q6_K);
}

TEST(Quantizer, StreamsWithProgressAndThreadCountDoesNotChangeBytes) {
  TempDir dir;
  const std::string source_path = shared_model("tiny-qwen2-F16.gguf");
  QuantizeOptions options;
  options.mix = *find_quant_mix("Q4_K_M");
  size_t calls = 0;
  QuantizeProgress last;
  options.on_progress = [&](const QuantizeProgress& p) {
    EXPECT_GE(p.bytes_written, last.bytes_written);
    EXPECT_LE(p.bytes_written, p.file_size);
    last = p;
    ++calls;
  };
  options.n_threads = 1;
  ASSERT_TRUE(quantize_file(source_path, dir.file("one.gguf"), options).is_ok());
  EXPECT_GE(calls, last.n_tensors);  // at least one report per tensor
  EXPECT_EQ(last.bytes_written, last.file_size);
  EXPECT_EQ(last.tensor_index + 1, last.n_tensors);
  options.on_progress = nullptr;
  options.n_threads = 3;
  ASSERT_TRUE(quantize_file(source_path, dir.file("three.gguf"), options).is_ok());
  std::unique_ptr<gguf::File> one = open_file(dir.file("one.gguf"));
  std::unique_ptr<gguf::File> three = open_file(dir.file("three.gguf"));
  ASSERT_TRUE(one && three);
  ASSERT_EQ(one->file_size(), three->file_size());
  for (size_t i = 0; i < one->tensors().size(); ++i) {
    const gguf::TensorInfo& a = one->tensors()[i];
    EXPECT_EQ(std::memcmp(a.data, three->tensors()[i].data, a.n_bytes), 0) << a.name;
  }
  // The qwen2 model (tied output, QKV biases) loads and runs after quantization.
  Result<std::unique_ptr<Model>> m = Model::load(dir.file("one.gguf"));
  ASSERT_TRUE(m.is_ok()) << m.message();
  EXPECT_EQ((*m)->token_embedding().type, TensorType::Q8_0);
  Transformer t(**m, TransformerOptions{});
  std::vector<float> logits;
  const int32_t tokens[2] = {100, 200};
  ASSERT_TRUE(t.eval(tokens, false, logits).is_ok());
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

// ---------------------------------------------------------------------------------------------
// The command

// One line on stderr, starting "error:", exit code 1, and no output file left behind.
void expect_one_error_line(const testing::ProcessResult& r, const std::string& mentions) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
}

TEST(QuantizeCommand, WritesQ4KMWithProgressOnStderr) {
  TempDir dir;
  const std::string out = dir.file("out.gguf");
  testing::ProcessResult r = testing::run_cove(
      {"quantize", shared_model("tiny-llama-f32.gguf"), out, "q4_k_m", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Q4_K_M (file_type 15)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("quantize: [  39/39] output.weight"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("F32 -> Q6_K"), std::string::npos) << r.err;
  EXPECT_TRUE(Model::load(out).is_ok());
}

TEST(QuantizeCommand, BadTypeNameIsOneErrorLine) {
  TempDir dir;
  const std::string out = dir.file("out.gguf");
  testing::ProcessResult r =
      testing::run_cove({"quantize", shared_model("tiny-llama-f32.gguf"), out, "Q7_K"});
  expect_one_error_line(r, "unknown quantization type 'Q7_K' (known: F32, F16");
  EXPECT_FALSE(fs::exists(out));
}

TEST(QuantizeCommand, MissingInputIsOneErrorLine) {
  TempDir dir;
  const std::string out = dir.file("out.gguf");
  testing::ProcessResult r = testing::run_cove({"quantize", dir.file("missing.gguf"), out, "Q8_0"});
  expect_one_error_line(r, "missing.gguf");
  EXPECT_FALSE(fs::exists(out));
}

TEST(QuantizeCommand, UnwritableOutputIsOneErrorLine) {
  TempDir dir;
  const std::string out = dir.file("no-such-dir/out.gguf");
  testing::ProcessResult r =
      testing::run_cove({"quantize", shared_model("tiny-llama-f32.gguf"), out, "Q8_0"});
  expect_one_error_line(r, "no-such-dir/out.gguf: cannot create file");
}

TEST(QuantizeCommand, RefusesToOverwriteItsInput) {
  TempDir dir;
  const std::string copy = dir.file("model.gguf");
  fs::copy_file(shared_model("tiny-llama-Q8_0.gguf"), copy);
  const uintmax_t size = fs::file_size(copy);
  testing::ProcessResult r = testing::run_cove({"quantize", copy, copy, "Q4_0"});
  expect_one_error_line(r, "this is the input file");
  EXPECT_EQ(fs::file_size(copy), size);
}

}  // namespace
}  // namespace cove::model
