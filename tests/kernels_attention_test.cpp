// The attention kernels (kernels/attention.h) on every compiled SIMD target: the online-softmax
// kernel against the scalar reference (exact softmax in double), and the several-queries
// kernel against the one-query kernel bit for bit, whatever queries it is given together (the
// transformer groups a prompt chunk's tokens and a KV group's heads into one call; a token's
// attention must not depend on that).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "kernels/attention.h"
#include "kernels/quantized_dot.h"
#include "support/kernel_testing.h"

namespace cove::kernels {
namespace {

using testing::random_values;

constexpr int64_t kHeadDim = 64;
constexpr int64_t kStride = 3 * kHeadDim;  // three KV heads per cache row
constexpr int64_t kPositions = 300;

class KernelsAttention : public testing::PerTarget {
 protected:
  void SetUp() override {
    testing::PerTarget::SetUp();
    k32_ = random_values(kPositions * kStride, 1.0f, 1);
    v32_ = random_values(kPositions * kStride, 1.0f, 2);
    for (float x : k32_) k16_.push_back(fp32_to_fp16(x));
    for (float x : v32_) v16_.push_back(fp32_to_fp16(x));
    // The F16 values as floats, so that the F32 kernels and the reference see the same keys.
    for (size_t i = 0; i < k32_.size(); ++i) {
      k32_[i] = fp16_to_fp32(k16_[i]);
      v32_[i] = fp16_to_fp32(v16_[i]);
    }
    queries_ = random_values(70 * kHeadDim, 2.0f, 3);
  }

  std::vector<float> k32_, v32_, queries_;
  std::vector<uint16_t> k16_, v16_;
};

TEST_P(KernelsAttention, OnlineSoftmaxIsCloseToTheExactReference) {
  const float scale = 1.0f / 8.0f;
  const int64_t offset = kHeadDim;  // the second KV head
  for (int64_t n :
       {int64_t{1}, int64_t{5}, int64_t{63}, int64_t{64}, int64_t{65}, int64_t{129}, kPositions}) {
    std::vector<float> fast16(kHeadDim), fast32(kHeadDim), exact(kHeadDim);
    attention_head_f16(queries_.data(), k16_.data() + offset, v16_.data() + offset, kStride, n,
                       kHeadDim, scale, fast16.data());
    attention_head_f32(queries_.data(), k32_.data() + offset, v32_.data() + offset, kStride, n,
                       kHeadDim, scale, fast32.data());
    attention_head_reference(queries_.data(), k32_.data() + offset, v32_.data() + offset, kStride,
                             n, kHeadDim, scale, exact.data());
    for (int64_t i = 0; i < kHeadDim; ++i) {
      EXPECT_NEAR(fast16[i], exact[i], 1e-5f + 1e-5f * std::abs(exact[i])) << n << " " << i;
      EXPECT_NEAR(fast32[i], exact[i], 1e-5f + 1e-5f * std::abs(exact[i])) << n << " " << i;
    }
  }
}

TEST_P(KernelsAttention, SeveralQueriesGiveEachQuerysBitsAlone) {
  const float scale = 0.125f;
  const int64_t offset = 2 * kHeadDim;
  // 70 queries (more than one call's tile of 64) with causal lengths crossing block borders,
  // in a mixed order.
  const int64_t n_queries = 70;
  std::vector<const float*> queries;
  std::vector<int64_t> lengths;
  for (int64_t j = 0; j < n_queries; ++j) {
    queries.push_back(queries_.data() + j * kHeadDim);
    lengths.push_back(1 + (j * 37) % kPositions);
  }
  std::vector<float> together16(n_queries * kHeadDim), together32(n_queries * kHeadDim);
  std::vector<float*> outs16, outs32;
  for (int64_t j = 0; j < n_queries; ++j) {
    outs16.push_back(together16.data() + j * kHeadDim);
    outs32.push_back(together32.data() + j * kHeadDim);
  }
  attention_queries_f16(queries.data(), outs16.data(), lengths.data(), n_queries,
                        k16_.data() + offset, v16_.data() + offset, kStride, kHeadDim, scale);
  attention_queries_f32(queries.data(), outs32.data(), lengths.data(), n_queries,
                        k32_.data() + offset, v32_.data() + offset, kStride, kHeadDim, scale);
  for (int64_t j = 0; j < n_queries; ++j) {
    std::vector<float> alone16(kHeadDim), alone32(kHeadDim);
    attention_head_f16(queries[j], k16_.data() + offset, v16_.data() + offset, kStride, lengths[j],
                       kHeadDim, scale, alone16.data());
    attention_head_f32(queries[j], k32_.data() + offset, v32_.data() + offset, kStride, lengths[j],
                       kHeadDim, scale, alone32.data());
    EXPECT_EQ(std::memcmp(alone16.data(), outs16[j], kHeadDim * sizeof(float)), 0) << j;
    EXPECT_EQ(std::memcmp(alone32.data(), outs32[j], kHeadDim * sizeof(float)), 0) << j;
  }
}

INSTANTIATE_TEST_SUITE_P(CompiledTargets, KernelsAttention, testing::EveryCompiledTarget(),
                         testing::TargetName);

}  // namespace
}  // namespace cove::kernels
