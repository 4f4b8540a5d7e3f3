// The forward pass's batching contracts, and weights that are mapped rather than copied.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "model/model.h"
#include "model/transformer.h"
#include "support/goldens.h"

namespace cove::model {
namespace {

std::unique_ptr<Model> load(const std::string& name) {
  auto m = Model::load(testing::shared_dir() + "/models/" + name);
  EXPECT_TRUE(m.is_ok()) << m.message();
  return m.is_ok() ? std::move(*m) : nullptr;
}

float max_abs_diff(const float* a, const float* b, int64_t n) {
  float worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

TEST(Transformer, MixedBatchOfSequencesEqualsEachSequenceAlone) {
  auto model = load("tiny-llama-Q4_0.gguf");
  ASSERT_TRUE(model);
  const int64_t n_vocab = model->config().n_vocab;
  const std::vector<int32_t> a = {1, 403, 407, 261, 378, 300, 301};
  const std::vector<int32_t> b = {1, 290, 280, 270};

  // Alone: each sequence prefilled, then one decode step.
  std::vector<float> alone_a, alone_b, logits;
  {
    Transformer t(*model, TransformerOptions{});
    ASSERT_TRUE(t.eval(std::span(a).first(6), false, logits).is_ok());
    ASSERT_TRUE(t.eval(std::span(a).subspan(6), false, alone_a).is_ok());
    t.truncate(0);
    ASSERT_TRUE(t.eval(std::span(b).first(3), false, logits).is_ok());
    ASSERT_TRUE(t.eval(std::span(b).subspan(3), false, alone_b).is_ok());
  }
  // Together: a's prompt, then one batch holding b's prompt chunk and a's decode token.
  TransformerOptions options;
  options.n_seq = 2;
  Transformer t(*model, options);
  std::vector<BatchToken> batch;
  for (int i = 0; i < 6; ++i) batch.push_back({a[i], 0, false});
  ASSERT_TRUE(t.forward(batch, logits).is_ok());
  batch.clear();
  batch.push_back({a[6], 0, true});
  for (int i = 0; i < 3; ++i) batch.push_back({b[i], 1, false});
  ASSERT_TRUE(t.forward(batch, logits).is_ok());
  ASSERT_EQ(logits.size(), static_cast<size_t>(n_vocab));
  EXPECT_LT(max_abs_diff(logits.data(), alone_a.data(), n_vocab), 1e-4);
  batch = {{b[3], 1, true}};
  ASSERT_TRUE(t.forward(batch, logits).is_ok());
  EXPECT_LT(max_abs_diff(logits.data(), alone_b.data(), n_vocab), 1e-4);
  EXPECT_EQ(t.seq_length(0), 7);
  EXPECT_EQ(t.seq_length(1), 4);
}

bool same_bits(const std::vector<float>& a, const float* b, size_t n) {
  return a.size() >= n && std::memcmp(a.data(), b, n * sizeof(float)) == 0;
}

// Batch invariance (continuous batching relies on it): a token's logits are bit-identical
// whether it is decoded alone or in a batch with other sequences' tokens, at any place in the
// batch, for every kind of weight the fast kernels read.
// The file's models with their Q4_0 / Q8_0 matrices repacked (kernels/repack.h), forced so
// that the repacked path runs on every CPU.
std::unique_ptr<Model> load_repacked(const std::string& name) {
  std::unique_ptr<Model> m = load(name);
  if (m) EXPECT_GT(m->repack_weights(/*force=*/true), 0) << name;
  return m;
}

TEST(Transformer, TokenLogitsAreBitIdenticalAloneAndInAMixedBatch) {
  for (const auto& [name, repacked] :
       std::vector<std::pair<std::string, bool>>{{"tiny-llama-Q4_0.gguf", false},
                                                 {"tiny-llama-Q8_0.gguf", false},
                                                 {"tiny-llama-Q4_K_M.gguf", false},
                                                 {"tiny-qwen2-Q4_K_M.gguf", false},
                                                 {"tiny-llama-F16.gguf", false},
                                                 {"tiny-llama-Q4_0.gguf", true},
                                                 {"tiny-llama-Q8_0.gguf", true}}) {
    auto model = repacked ? load_repacked(name) : load(name);
    ASSERT_TRUE(model);
    const int64_t n_vocab = model->config().n_vocab;
    const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 300};
    const int32_t next = 301;
    TransformerOptions options;
    options.n_seq = 8;
    std::vector<float> alone, logits;
    {
      Transformer t(*model, options);
      ASSERT_TRUE(t.eval(prompt, false, logits).is_ok());
      const int32_t step[1] = {next};
      ASSERT_TRUE(t.eval(step, false, alone).is_ok());
    }
    for (int place : {0, 3, 7}) {
      Transformer t(*model, options);
      ASSERT_TRUE(t.eval(prompt, false, logits).is_ok());
      // Seven other sequences with prompts of different lengths, prefilled together.
      std::vector<BatchToken> batch;
      for (int32_t seq = 1; seq < 8; ++seq) {
        for (int32_t i = 0; i <= seq; ++i) batch.push_back({1 + 37 * seq + 11 * i, seq, false});
      }
      ASSERT_TRUE(t.forward(batch, logits).is_ok());
      // One decode token per sequence; sequence 0's token at `place`.
      batch.clear();
      for (int32_t seq = 1; seq < 8; ++seq) batch.push_back({200 + seq, seq, true});
      batch.insert(batch.begin() + place, BatchToken{next, 0, true});
      ASSERT_TRUE(t.forward(batch, logits).is_ok());
      ASSERT_EQ(logits.size(), static_cast<size_t>(8 * n_vocab));
      EXPECT_TRUE(same_bits(alone, logits.data() + place * n_vocab, static_cast<size_t>(n_vocab)))
          << name << (repacked ? " (repacked)" : "") << ": logits of the token at batch place "
          << place << " differ from alone by "
          << max_abs_diff(alone.data(), logits.data() + place * n_vocab, n_vocab);
    }
  }
}

// The prompt as one batch gives every position the same logits as feeding it token by token.
TEST(Transformer, PromptBatchEqualsTokenByTokenBitForBit) {
  for (const auto& [name, repacked] :
       std::vector<std::pair<std::string, bool>>{{"tiny-llama-Q4_0.gguf", false},
                                                 {"tiny-llama-Q4_K_M.gguf", false},
                                                 {"tiny-llama-Q4_0.gguf", true},
                                                 {"tiny-llama-Q8_0.gguf", true}}) {
    auto model = repacked ? load_repacked(name) : load(name);
    ASSERT_TRUE(model);
    const int64_t n_vocab = model->config().n_vocab;
    const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 300, 301, 290, 280};
    std::vector<float> batched, single;
    Transformer t(*model, TransformerOptions{});
    ASSERT_TRUE(t.eval(prompt, true, batched).is_ok());
    t.truncate(0);
    for (size_t i = 0; i < prompt.size(); ++i) {
      ASSERT_TRUE(t.eval(std::span(prompt).subspan(i, 1), false, single).is_ok());
      EXPECT_TRUE(same_bits(single, batched.data() + i * n_vocab, static_cast<size_t>(n_vocab)))
          << name << (repacked ? " (repacked)" : "") << " position " << i;
    }
  }
}

TEST(Transformer, CopiedPrefixContinuesLikeTheOriginal) {
  auto model = load("tiny-qwen2-Q8_0.gguf");
  ASSERT_TRUE(model);
  TransformerOptions options;
  options.n_seq = 2;
  Transformer t(*model, options);
  std::vector<BatchToken> batch;
  for (int32_t id : {15496, 0, 1374, 389}) batch.push_back({id, 0, false});
  std::vector<float> logits, from_copy, original;
  ASSERT_TRUE(t.forward(batch, logits).is_ok());
  t.copy_prefix(0, 1, 3);
  EXPECT_EQ(t.seq_length(1), 3);
  std::vector<BatchToken> next = {{389, 1, true}};
  ASSERT_TRUE(t.forward(next, from_copy).is_ok());
  // The original sequence, recomputed from scratch.
  t.truncate(0, 0);
  batch.back().logits = true;
  ASSERT_TRUE(t.forward(batch, original).is_ok());
  EXPECT_LT(max_abs_diff(from_copy.data(), original.data(), model->config().n_vocab), 1e-4);
}

TEST(Transformer, BadBatchIsRejectedWithoutChangingState) {
  auto model = load("stories260K.gguf");
  ASSERT_TRUE(model);
  TransformerOptions options;
  options.n_ctx = 4;
  Transformer t(*model, options);
  std::vector<float> logits;
  std::vector<int32_t> too_long = {1, 2, 3, 4, 5};
  Status s = t.eval(too_long, false, logits);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("4 positions"), std::string::npos) << s.message();
  std::vector<int32_t> bad_id = {1, 512};
  EXPECT_FALSE(t.eval(bad_id, false, logits).is_ok());
  std::vector<BatchToken> bad_seq = {{1, 3, true}};
  EXPECT_FALSE(t.forward(bad_seq, logits).is_ok());
  EXPECT_EQ(t.n_past(), 0);
}

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Must-show 6 of the engine-core issue: loading maps the weights instead of copying them.
TEST(Model, LoadingMapsWeightsInsteadOfCopying) {
  const std::string path = testing::shared_dir() + "/models/tiny-qwen2-F16.gguf";  // the largest
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const long file_size = static_cast<long>(in.tellg());
  const long before = resident_bytes();
  auto model = Model::load(path);
  ASSERT_TRUE(model.is_ok());
  const long growth = resident_bytes() - before;
  EXPECT_LT(growth, file_size + 50L * 1024 * 1024);
  // The weights point into the file's mapping, not into a copy.
  const gguf::File& f = (*model)->file();
  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ((*model)->token_embedding().data, embd->data);
  std::printf("file %ld bytes, resident growth after load %ld bytes\n", file_size, growth);
}

// Repacking at load replaces the mapped weights instead of adding a copy: once every matrix has
// been read, repacking releases their file pages (the repacked copies take their place).
long resident_file_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8)) * 1024;
  }
  return -1;
}

TEST(Model, RepackingReleasesTheMappedPages) {
  auto model = load("tiny-llama-Q8_0.gguf");
  ASSERT_TRUE(model);
  size_t repackable = 0;
  volatile uint8_t sink = 0;
  model->for_each_matrix([&](const std::string& name, tensor::Matrix& m) {
    if (name == "token_embd.weight" || m.type != tensor::TensorType::Q8_0) return;
    repackable += m.n_bytes();
    for (size_t i = 0; i < m.n_bytes(); i += 4096) sink = sink + m.data[i];  // fault pages in
  });
  ASSERT_GT(repackable, size_t{1} << 20);
  const long before = resident_file_bytes();
  ASSERT_GE(before, 0) << "no RssFile in /proc/self/status";
  ASSERT_GT(model->repack_weights(/*force=*/true), 0);
  const long released = before - resident_file_bytes();
  std::printf("repacked %zu bytes, mapped pages released %ld bytes\n", repackable, released);
  EXPECT_GT(released, static_cast<long>(repackable / 2));
}

}  // namespace
}  // namespace cove::model
