// Synthetic models, the streaming GGUF writer, and `cove bench`.
//
// What they prove: a synthetic model of a real shape (cut to 2 layers and a 512-token vocab to
// stay fast) loads in cove and runs to finite logits in every type; the same seed gives the same
// bytes whatever the thread count, another seed other bytes, and another type the same weights
// quantized; the tensor types follow the ecosystem's rules tensor by tensor (checked against the
// shared files its quantizer made) and the full shapes have the sizes REFERENCE.md lists; the
// StreamWriter writes exactly Writer's bytes however the data is cut; and `cove bench` through
// the real binary prints llama-bench's JSON fields and a markdown table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <hwy/targets.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "model/transformer.h"
#include "runtime/bench.h"
#include "support/goldens.h"
#include "support/process.h"
#include "tensor/dequantize.h"
#include "support/temp_dir.h"

namespace cove::model {
namespace {

namespace fs = std::filesystem;
using tensor::TensorType;

using testing::TempDir;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A real shape's layer dimensions with 2 layers (or fewer) and a 512-token vocabulary: a few MB.
SynthShape small_shape(const std::string& name = "smollm2-135m", int64_t n_layers = 2) {
  SynthShape shape = *find_synth_shape(name);
  shape.n_layers = n_layers;
  shape.n_vocab = 512;
  return shape;
}

SynthOptions small_options(const std::string& type, uint64_t seed,
                           const std::string& shape = "smollm2-135m", int64_t n_layers = 2) {
  SynthOptions o;
  o.shape = small_shape(shape, n_layers);
  o.type = *parse_synth_type(type);
  o.seed = seed;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Synthetic models

TEST(SynthModel, SmallModelLoadsAndRunsToFiniteLogitsInEveryType) {
  TempDir dir;
  for (const std::string& type : synth_type_names()) {
    SCOPED_TRACE(type);
    const std::string path = dir.file(type + ".gguf");
    // One layer keeps the K types' quantization search short.
    ASSERT_TRUE(write_synthetic_model(small_options(type, 1, "smollm2-135m", 1), path).is_ok());
    Result<std::unique_ptr<Model>> model = Model::load(path);
    ASSERT_TRUE(model.is_ok()) << model.message();
    const Config& c = (*model)->config();
    EXPECT_EQ(c.n_embd, 576);
    EXPECT_EQ(c.n_layers, 1);
    EXPECT_EQ(c.n_heads, 9);
    EXPECT_EQ(c.n_heads_kv, 3);
    EXPECT_EQ(c.n_ff, 1536);
    EXPECT_EQ(c.n_vocab, 512);
    EXPECT_FLOAT_EQ(c.rope_base, 100000.0f);
    TransformerOptions options;
    options.n_ctx = 16;
    options.n_threads = 2;
    Transformer transformer(**model, options);
    std::vector<float> logits;
    const std::vector<int32_t> tokens = {1, 300, 301, 511};
    ASSERT_TRUE(transformer.eval(tokens, true, logits).is_ok());
    ASSERT_EQ(logits.size(), 4u * 512);
    float spread = 0.0f;
    for (float l : logits) {
      ASSERT_TRUE(std::isfinite(l));
      spread = std::max(spread, std::fabs(l));
    }
    EXPECT_GT(spread, 1.0f) << "logits should not be flat";
  }
}

TEST(SynthModel, Qwen2ShapeHasBiasesAndTiedOutput) {
  TempDir dir;
  const std::string path = dir.file("qwen.gguf");
  ASSERT_TRUE(write_synthetic_model(small_options("Q8_0", 3, "qwen2.5-0.5b"), path).is_ok());
  Result<std::unique_ptr<Model>> model = Model::load(path);
  ASSERT_TRUE(model.is_ok()) << model.message();
  const Config& c = (*model)->config();
  EXPECT_EQ(c.arch, Architecture::kQwen2);
  EXPECT_EQ(c.n_embd, 896);
  EXPECT_EQ(c.n_heads, 14);
  EXPECT_EQ(c.n_heads_kv, 2);
  EXPECT_NE((*model)->layers()[0].bq, nullptr);
  EXPECT_EQ((*model)->file().find_tensor("output.weight"), nullptr);
  Transformer transformer(**model, TransformerOptions{.n_ctx = 8, .n_threads = 2});
  std::vector<float> logits;
  ASSERT_TRUE(transformer.eval(std::vector<int32_t>{1, 2, 3}, false, logits).is_ok());
  for (float l : logits) ASSERT_TRUE(std::isfinite(l));
}

TEST(SynthModel, SameSeedGivesSameBytesWhateverTheThreadsAndOtherSeedOtherBytes) {
  TempDir dir;
  SynthOptions one_thread = small_options("Q4_K_M", 7, "smollm2-135m", 1);
  one_thread.n_threads = 1;
  SynthOptions two_threads = one_thread;
  two_threads.n_threads = 2;
  ASSERT_TRUE(write_synthetic_model(one_thread, dir.file("a.gguf")).is_ok());
  ASSERT_TRUE(write_synthetic_model(two_threads, dir.file("b.gguf")).is_ok());
  SynthOptions other_seed = two_threads;
  other_seed.seed = 8;
  ASSERT_TRUE(write_synthetic_model(other_seed, dir.file("c.gguf")).is_ok());
  const std::vector<uint8_t> a = read_bytes(dir.file("a.gguf"));
  const std::vector<uint8_t> b = read_bytes(dir.file("b.gguf"));
  const std::vector<uint8_t> c = read_bytes(dir.file("c.gguf"));
  ASSERT_GT(a.size(), 2000000u);
  EXPECT_TRUE(a == b);
  ASSERT_EQ(a.size(), c.size());  // same layout
  EXPECT_FALSE(a == c);
}

// The values depend on the seed, the tensor name and the row only: a Q8_0 file holds the F32
// file's weights, rounded.
TEST(SynthModel, QuantizedFileHoldsTheF32FilesWeights) {
  TempDir dir;
  ASSERT_TRUE(write_synthetic_model(small_options("F32", 5), dir.file("f32.gguf")).is_ok());
  ASSERT_TRUE(write_synthetic_model(small_options("Q8_0", 5), dir.file("q8.gguf")).is_ok());
  Result<std::unique_ptr<gguf::File>> f32 = gguf::File::open(dir.file("f32.gguf"));
  Result<std::unique_ptr<gguf::File>> q8 = gguf::File::open(dir.file("q8.gguf"));
  ASSERT_TRUE(f32.is_ok() && q8.is_ok());
  for (const char* name :
       {"token_embd.weight", "blk.1.ffn_down.weight", "blk.0.attn_norm.weight"}) {
    SCOPED_TRACE(name);
    const gguf::TensorInfo* a = (*f32)->find_tensor(name);
    const gguf::TensorInfo* b = (*q8)->find_tensor(name);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->n_elements(), b->n_elements());
    std::vector<float> rounded(static_cast<size_t>(b->n_elements()));
    tensor::dequantize_row(b->type, b->data, rounded.data(), b->n_elements());
    const auto* exact = reinterpret_cast<const float*>(a->data);
    double max_error = 0.0, max_value = 0.0;
    for (size_t i = 0; i < rounded.size(); ++i) {
      max_error = std::max(max_error, static_cast<double>(std::fabs(rounded[i] - exact[i])));
      max_value = std::max(max_value, static_cast<double>(std::fabs(exact[i])));
    }
    EXPECT_GT(max_value, 0.0);
    EXPECT_LE(max_error, max_value / 127.0);  // Q8_0: half a step of amax / 127 per block
  }
}

// The shared files were made by the reference quantizer; a plan for the same dimensions must
// give every tensor the type the reference gave it.
TEST(SynthModel, TensorTypesMatchTheReferenceQuantizersFiles) {
  const std::map<std::string, std::string> files = {
      {"tiny-llama-Q4_0.gguf", "Q4_0"},     {"tiny-llama-Q8_0.gguf", "Q8_0"},
      {"tiny-llama-Q6_K.gguf", "Q6_K"},     {"tiny-llama-Q4_K_M.gguf", "Q4_K_M"},
      {"tiny-llama-Q5_K_M.gguf", "Q5_K_M"}, {"tiny-llama32k-Q4_0.gguf", "Q4_0"},
      {"tiny-llama32k-Q8_0.gguf", "Q8_0"},  {"tiny-qwen2-Q4_K_M.gguf", "Q4_K_M"},
      {"tiny-qwen2-Q8_0.gguf", "Q8_0"},
  };
  for (const auto& [file_name, type] : files) {
    SCOPED_TRACE(file_name);
    Result<std::unique_ptr<gguf::File>> file =
        gguf::File::open(testing::shared_dir() + "/models/" + file_name);
    ASSERT_TRUE(file.is_ok()) << file.message();
    const gguf::File& f = **file;
    SynthShape shape;
    shape.arch = **f.get_string("general.architecture");
    auto get = [&](const std::string& key) { return **f.get_int(shape.arch + "." + key); };
    shape.n_embd = get("embedding_length");
    shape.n_layers = get("block_count");
    shape.n_heads = get("attention.head_count");
    shape.n_heads_kv = get("attention.head_count_kv");
    shape.n_ff = get("feed_forward_length");
    shape.n_vocab = f.find_tensor("token_embd.weight")->shape[1];
    shape.tied_output = f.find_tensor("output.weight") == nullptr;
    Result<std::vector<SynthTensor>> plan = plan_synthetic_tensors(shape, *parse_synth_type(type));
    ASSERT_TRUE(plan.is_ok()) << plan.message();
    EXPECT_EQ(plan->size(), f.tensors().size());
    for (const SynthTensor& t : *plan) {
      const gguf::TensorInfo* real = f.find_tensor(t.name);
      ASSERT_NE(real, nullptr) << t.name;
      EXPECT_EQ(tensor::type_name(t.type), tensor::type_name(real->type)) << t.name;
      EXPECT_EQ(t.shape, real->shape) << t.name;
    }
  }
}

// REFERENCE.md's files: 135m (vocab 50257) Q8_0 137 MiB, Q4_0 86 MiB, Q4_K_M 100 MiB; 1b Q8_0
// 1.09 GiB, Q4_0 609 MiB, Q4_K_M 644 MiB. Tensor bytes alone are within 1% of the file sizes.
TEST(SynthModel, FullShapesHaveTheReferenceFileSizes) {
  struct Case {
    const char* shape;
    int64_t n_vocab;
    const char* type;
    double mib;
  };
  const Case cases[] = {
      {"smollm2-135m", 50257, "Q8_0", 137},   {"smollm2-135m", 50257, "Q4_0", 86},
      {"smollm2-135m", 50257, "Q4_K_M", 100}, {"llama-1b", 32000, "Q8_0", 1.09 * 1024},
      {"llama-1b", 32000, "Q4_0", 609},       {"llama-1b", 32000, "Q4_K_M", 644},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.shape) + " " + c.type);
    SynthShape shape = *find_synth_shape(c.shape);
    shape.n_vocab = c.n_vocab;
    Result<std::vector<SynthTensor>> plan =
        plan_synthetic_tensors(shape, *parse_synth_type(c.type));
    ASSERT_TRUE(plan.is_ok()) << plan.message();
    double bytes = 0;
    for (const SynthTensor& t : *plan) {
      bytes += static_cast<double>(tensor::row_size(t.type, t.shape[0])) *
               (t.shape.size() > 1 ? t.shape[1] : 1);
    }
    EXPECT_NEAR(bytes / 1048576.0, c.mib, c.mib * 0.01);
  }
}

TEST(SynthModel, UnknownNamesAndTooSmallVocabulariesAreRejected) {
  EXPECT_FALSE(find_synth_shape("llama-70b").has_value());
  EXPECT_FALSE(parse_synth_type("Q4_K_L").has_value());
  EXPECT_FALSE(parse_synth_type("IQ4_NL").has_value());
  ASSERT_TRUE(parse_synth_type("q4_k_m").has_value());
  EXPECT_TRUE(parse_synth_type("q4_k_m")->medium_mix);
  SynthShape shape = small_shape();
  shape.n_vocab = 100;
  Result<std::vector<SynthTensor>> plan = plan_synthetic_tensors(shape, *parse_synth_type("Q4_0"));
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.message().find("vocabulary"), std::string::npos) << plan.message();
}

// ---------------------------------------------------------------------------------------------
// StreamWriter

template <class W>
void add_metadata(W& w) {
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 3);
  w.set_i32("some.signed", -4);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "a", ""});
  w.set_f32_array("tokenizer.ggml.scores", {0.0f, -1.5f, 2.0f});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 1, 1});
  w.set_u32("llama.block_count", 4);  // replaces in place
}

struct TestTensor {
  std::string name;
  std::vector<int64_t> shape;
  TensorType type;
  std::vector<uint8_t> data;
};

std::vector<TestTensor> test_tensors() {
  auto pattern = [](size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(seed + k * 13);
    return v;
  };
  return {
      {"a.weight", {3}, TensorType::F32, pattern(12, 1)},  // 12 bytes: padding follows
      {"b.weight", {64, 5}, TensorType::Q8_0, pattern(64 / 32 * 34 * 5, 2)},
      {"c.weight", {256, 2, 2}, TensorType::Q4_K, pattern(144 * 4, 3)},
      {"d.weight", {7}, TensorType::F16, pattern(14, 4)},
  };
}

std::vector<uint8_t> stream_to_bytes(const std::string& path, size_t piece, uint64_t alignment) {
  gguf::StreamWriter w;
  add_metadata(w);
  if (alignment != 32) w.set_u32("general.alignment", static_cast<uint32_t>(alignment));
  const std::vector<TestTensor> tensors = test_tensors();
  for (const TestTensor& t : tensors) w.add_tensor(t.name, t.shape, t.type);
  EXPECT_TRUE(w.begin(path).is_ok());
  for (const TestTensor& t : tensors) {
    for (size_t at = 0; at < t.data.size(); at += piece) {
      const size_t n = std::min(piece, t.data.size() - at);
      EXPECT_TRUE(w.write_tensor_data(std::span(t.data).subspan(at, n)).is_ok());
    }
  }
  EXPECT_EQ(w.current_tensor(), tensors.size());
  EXPECT_TRUE(w.finish().is_ok());
  EXPECT_EQ(w.bytes_written(), w.file_size());
  return read_bytes(path);
}

TEST(SynthStreamWriter, WritesWritersBytesHoweverTheDataIsCut) {
  TempDir dir;
  for (uint64_t alignment : {32, 64}) {
    gguf::Writer reference;
    add_metadata(reference);
    if (alignment != 32) reference.set_u32("general.alignment", static_cast<uint32_t>(alignment));
    for (const TestTensor& t : test_tensors()) {
      reference.add_tensor(t.name, t.shape, t.type, t.data);
    }
    const std::vector<uint8_t> expected = reference.to_bytes();
    for (size_t piece : {size_t{1}, size_t{5}, size_t{1} << 20}) {
      SCOPED_TRACE("alignment " + std::to_string(alignment) + ", pieces of " +
                   std::to_string(piece));
      const std::vector<uint8_t> streamed = stream_to_bytes(dir.file("s.gguf"), piece, alignment);
      EXPECT_TRUE(streamed == expected);
      Result<std::unique_ptr<gguf::File>> parsed = gguf::File::parse(streamed, "streamed");
      ASSERT_TRUE(parsed.is_ok()) << parsed.message();
      ASSERT_EQ((*parsed)->tensors().size(), 4u);
      EXPECT_EQ((*parsed)->alignment(), alignment);
      EXPECT_EQ(**(*parsed)->get_int("llama.block_count"), 4);
      const gguf::TensorInfo* c = (*parsed)->find_tensor("c.weight");
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(std::vector<uint8_t>(c->data, c->data + c->n_bytes), test_tensors()[2].data);
    }
  }
}

TEST(SynthStreamWriter, MisuseGivesErrorsThatNameTheTensor) {
  TempDir dir;
  {
    gguf::StreamWriter w;
    w.add_tensor("bad.weight", {48, 2}, TensorType::Q4_K);  // rows of 48: not 256-blocks
    Status s = w.begin(dir.file("bad.gguf"));
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("bad.weight"), std::string::npos) << s.message();
  }
  {
    gguf::StreamWriter w;
    w.add_tensor("a.weight", {4}, TensorType::F32);
    ASSERT_TRUE(w.begin(dir.file("short.gguf")).is_ok());
    const std::vector<uint8_t> too_many(20, 0);
    Status over = w.write_tensor_data(too_many);
    ASSERT_FALSE(over.is_ok());
    EXPECT_NE(over.message().find("a.weight"), std::string::npos) << over.message();
    ASSERT_TRUE(w.write_tensor_data(std::span(too_many).first(8)).is_ok());
    Status unfinished = w.finish();
    ASSERT_FALSE(unfinished.is_ok());
    EXPECT_NE(unfinished.message().find("8 of its 16 bytes"), std::string::npos)
        << unfinished.message();
  }
  {
    gguf::StreamWriter w;
    Status s = w.begin(dir.file("no/such/folder/x.gguf"));
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("no/such/folder/x.gguf"), std::string::npos) << s.message();
  }
}

// ---------------------------------------------------------------------------------------------
// Bench

TEST(Bench, SummaryIsMeanAndSampleStandardDeviation) {
  const std::vector<double> samples = {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0};
  runtime::Summary s = runtime::summarize(samples);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_EQ(runtime::summarize(std::vector<double>{3.0}).stddev, 0.0);
  EXPECT_DOUBLE_EQ(runtime::median({5.0, 1.0, 3.0}), 3.0);
  EXPECT_DOUBLE_EQ(runtime::median({4.0, 1.0, 3.0, 2.0}), 2.5);
}

TEST(Bench, BandwidthKernelMatchesScalarSumOnEveryTarget) {
  std::vector<uint64_t> words(1000 + 7);
  for (size_t i = 0; i < words.size(); ++i) words[i] = (i + 1) * 0x9E3779B97F4A7C15ull;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    for (size_t n : {size_t{0}, size_t{3}, size_t{64}, words.size()}) {
      // Unaligned starts too: the kernel uses unaligned loads.
      EXPECT_EQ(runtime::sum_words(words.data() + 1, n - (n > 0 ? 1 : 0)),
                runtime::sum_words_reference(words.data() + 1, n - (n > 0 ? 1 : 0)));
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST(Bench, RandomTokensAreInRangeWithBosFirst) {
  const std::vector<int32_t> t = runtime::random_tokens(100, 37, 1, 9);
  ASSERT_EQ(t.size(), 100u);
  EXPECT_EQ(t[0], 1);
  for (int32_t id : t) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 37);
  }
  EXPECT_EQ(t, runtime::random_tokens(100, 37, 1, 9));
}

TEST(BenchCli, JsonHasLlamaBenchFieldsForPromptAndGeneration) {
  TempDir dir;
  const std::string model = dir.file("small.gguf");
  testing::ProcessResult synth =
      testing::run_cove({"synth", "--shape", "smollm2-135m", "--layers", "2", "--vocab", "512",
                         "--type", "Q4_0", "--seed", "3", "-o", model});
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  EXPECT_NE(synth.err.find("tensor 20/20"), std::string::npos) << synth.err;

  testing::ProcessResult r = testing::run_cove(
      {"bench", "-m", model, "-p", "8", "-n", "4", "-r", "1", "-t", "2", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  ASSERT_EQ(j.size(), 2u) << r.out;
  const uint64_t file_size = fs::file_size(model);
  for (size_t i = 0; i < 2; ++i) {
    const nlohmann::json& test = j[i];
    SCOPED_TRACE(test.dump());
    EXPECT_EQ(test["n_prompt"], i == 0 ? 8 : 0);
    EXPECT_EQ(test["n_gen"], i == 0 ? 0 : 4);
    EXPECT_EQ(test["n_threads"], 2);
    EXPECT_EQ(test["model_filename"], model);
    EXPECT_NE(test["model_type"].get<std::string>().find("llama"), std::string::npos);
    EXPECT_NE(test["model_type"].get<std::string>().find("Q4_0"), std::string::npos);
    EXPECT_GT(test["model_size"].get<uint64_t>(), file_size * 9 / 10);
    EXPECT_LE(test["model_size"].get<uint64_t>(), file_size);
    EXPECT_GT(test["avg_ts"].get<double>(), 0.0);
    EXPECT_EQ(test["stddev_ts"].get<double>(), 0.0);  // one sample
    ASSERT_EQ(test["samples_ts"].size(), 1u);
    EXPECT_DOUBLE_EQ(test["samples_ts"][0].get<double>(), test["avg_ts"].get<double>());
    EXPECT_GT(test["peak_rss_bytes"].get<uint64_t>(), 0u);
  }
  EXPECT_GT(j[1]["effective_gb_per_s"].get<double>(), 0.0);
}

TEST(BenchCli, MarkdownTableAndBandwidth) {
  TempDir dir;
  const std::string model = dir.file("small.gguf");
  ASSERT_TRUE(write_synthetic_model(small_options("Q8_0", 4), model).is_ok());
  testing::ProcessResult r =
      testing::run_cove({"bench", "-m", model, "-p", "4", "-n", "2", "-r", "2", "-t", "1",
                         "--bandwidth", "--bandwidth-mib", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("memory read bandwidth: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| model "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" pp4 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" tg2 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GB/s effective"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peak resident memory: "), std::string::npos) << r.out;

  testing::ProcessResult nothing = testing::run_cove({"bench"});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("error: "), std::string::npos) << nothing.err;
}

}  // namespace
}  // namespace cove::model
