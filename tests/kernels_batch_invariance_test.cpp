// Batch invariance of the integer matrix kernels: a token's result for a weight row must be
// bit-identical whether the token is multiplied alone (decode) or inside a batch of any size,
// at any position of the batch, and whatever rows share the thread's row range. Continuous
// batching depends on it (a sequence's logits may not change because other sequences joined).
// Checked on every compiled SIMD target for every quantized weight type.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernels/quantized_dot.h"
#include "support/kernel_testing.h"
#include "tensor/quantize.h"

namespace cove::kernels {
namespace {

using testing::bits;

using tensor::TensorType;

constexpr TensorType kTypes[] = {
    TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
    TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

class KernelsBatchInvariance : public testing::PerTarget {};

TEST_P(KernelsBatchInvariance, EveryBatchSizeGivesTheSingleTokenBits) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n_rows = 13, max_tokens = 17;
  for (TensorType type : kTypes) {
    const int per_block = tensor::traits(type).block_size;
    // 32-weight types also get an odd number of blocks (a block pair's tail).
    const int64_t n = per_block == 256 ? 512 : 288;
    const size_t row_bytes = tensor::row_size(type, n);
    std::vector<float> weights(static_cast<size_t>(n_rows * n));
    for (float& v : weights) v = normal(rng);
    std::vector<uint8_t> w(row_bytes * n_rows);
    for (int64_t r = 0; r < n_rows; ++r) {
      tensor::quantize_row(type, weights.data() + r * n, w.data() + r * row_bytes, n);
    }
    std::vector<float> x(static_cast<size_t>(max_tokens * n));
    for (float& v : x) v = normal(rng) * 3.0f;
    const int64_t blocks = n / 32;
    std::vector<Q8Activations> acts(static_cast<size_t>(max_tokens * blocks));
    for (int64_t t = 0; t < max_tokens; ++t) {
      quantize_activations(x.data() + t * n, acts.data() + t * blocks, n);
    }
    std::vector<uint8_t> scratch(quantized_matmul_scratch_bytes(type, n, max_tokens) + 64);

    // Each token alone, all rows at once (what decode does).
    std::vector<float> alone(static_cast<size_t>(max_tokens * n_rows));
    for (int64_t t = 0; t < max_tokens; ++t) {
      quantized_matmul_rows(type, w.data(), row_bytes, n, 0, n_rows, acts.data() + t * blocks, 1,
                            alone.data() + t * n_rows, n_rows, scratch.data());
      for (int64_t r = 0; r < n_rows; ++r) {
        const float single =
            quantized_dot(type, w.data() + r * row_bytes, acts.data() + t * blocks, n);
        ASSERT_EQ(bits(single), bits(alone[t * n_rows + r]))
            << tensor::type_name(type) << " row " << r << " token " << t;
      }
    }
    for (int64_t n_tokens : {1, 3, 4, 5, 8, 17}) {
      // Batches starting at different tokens, over row ranges that start off a tile boundary.
      for (int64_t first_token : {int64_t{0}, max_tokens - n_tokens}) {
        for (int64_t row_begin : {0, 1, 3}) {
          std::vector<float> y(static_cast<size_t>(n_tokens * n_rows), -1.0f);
          quantized_matmul_rows(type, w.data(), row_bytes, n, row_begin, n_rows,
                                acts.data() + first_token * blocks, n_tokens, y.data(), n_rows,
                                scratch.data());
          for (int64_t t = 0; t < n_tokens; ++t) {
            for (int64_t r = row_begin; r < n_rows; ++r) {
              ASSERT_EQ(bits(y[t * n_rows + r]), bits(alone[(first_token + t) * n_rows + r]))
                  << tensor::type_name(type) << " batch of " << n_tokens << " from token "
                  << first_token << ", rows from " << row_begin << ": row " << r << " token "
                  << first_token + t;
            }
          }
        }
      }
    }
  }
}

// The per-target activation rounding is the reference's arithmetic, bit for bit.
TEST_P(KernelsBatchInvariance, ActivationRoundingEqualsTheScalarReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 1024;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = normal(rng) * static_cast<float>(1 + i % 97);
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // an all-zero block
  std::vector<Q8Activations> fast(n / 32), reference(n / 32);
  quantize_activations(x.data(), fast.data(), n);
  quantize_activations_reference(x.data(), reference.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    ASSERT_EQ(std::memcmp(&fast[b], &reference[b], sizeof(Q8Activations)), 0) << "block " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(CompiledTargets, KernelsBatchInvariance, testing::EveryCompiledTarget(),
                         testing::TargetName);

}  // namespace
}  // namespace cove::kernels
