// Every compiled SIMD target's integer dot kernels against the scalar reference, for every
// quantized weight type, on random rows quantized by the reference quantizer.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/quantized_dot.h"
#include "support/kernel_testing.h"
#include "tensor/dequantize.h"
#include "tensor/quantize.h"

namespace cove::kernels {
namespace {

using tensor::TensorType;

constexpr TensorType kTypes[] = {
    TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
    TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

struct Row {
  std::vector<uint8_t> bytes;
  std::vector<float> weights;  // dequantized, exact
};

Row random_row(TensorType type, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  Row row;
  row.bytes.resize(tensor::row_size(type, n));
  tensor::quantize_row(type, x.data(), row.bytes.data(), n);
  row.weights.resize(static_cast<size_t>(n));
  tensor::dequantize_row(type, row.bytes.data(), row.weights.data(), n);
  return row;
}

class QuantizedDotAllTargets : public testing::PerTarget {};

TEST_P(QuantizedDotAllTargets, MatchesScalarReferenceForEveryType) {
  std::mt19937 rng(1234);
  const int64_t n = 512;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (TensorType type : kTypes) {
    for (int trial = 0; trial < 8; ++trial) {
      Row row = random_row(type, n, rng);
      std::vector<float> x(n);
      for (float& v : x) v = normal(rng) * (trial + 1);
      std::vector<Q8Activations> acts(n / 32);
      quantize_activations(x.data(), acts.data(), n);
      const float expected = quantized_dot_reference(type, row.bytes.data(), acts.data(), n);
      // Scale of the rounding the float sums may legitimately differ by.
      double magnitude = 0;
      for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(row.weights[i] * x[i]);
      const float got = quantized_dot(type, row.bytes.data(), acts.data(), n);
      EXPECT_NEAR(got, expected, 1e-5 * magnitude + 1e-6)
          << tensor::type_name(type) << " trial " << trial;

      // The integer path stays close to the exact float product (8-bit activation rounding).
      double exact = 0;
      for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(row.weights[i]) * x[i];
      EXPECT_NEAR(got, exact, 0.02 * magnitude) << tensor::type_name(type);
    }
  }
}

TEST_P(QuantizedDotAllTargets, BatchedRowsMatchSingleDots) {
  std::mt19937 rng(99);
  const int64_t n = 256, n_rows = 37, n_tokens = 5;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (TensorType type : kTypes) {
    const size_t row_bytes = tensor::row_size(type, n);
    std::vector<uint8_t> w;
    for (int64_t r = 0; r < n_rows; ++r) {
      Row row = random_row(type, n, rng);
      w.insert(w.end(), row.bytes.begin(), row.bytes.end());
    }
    std::vector<float> x(n * n_tokens);
    for (float& v : x) v = normal(rng);
    std::vector<Q8Activations> acts(n_tokens * n / 32);
    for (int64_t t = 0; t < n_tokens; ++t) {
      quantize_activations(x.data() + t * n, acts.data() + t * n / 32, n);
    }
    std::vector<float> y(n_tokens * n_rows, -1.0f);
    std::vector<float> scratch(quantized_matmul_scratch_bytes(type, n, n_tokens) / 4 + 1);
    quantized_matmul_rows(type, w.data(), row_bytes, n, 0, n_rows, acts.data(), n_tokens, y.data(),
                          n_rows, scratch.data());
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t r = 0; r < n_rows; ++r) {
        const float expected =
            quantized_dot_reference(type, w.data() + r * row_bytes, acts.data() + t * n / 32, n);
        EXPECT_NEAR(y[t * n_rows + r], expected, 1e-4 * (std::fabs(expected) + 1))
            << tensor::type_name(type) << " token " << t << " row " << r;
      }
    }
  }
}

TEST(QuantizedDot, ActivationRoundingIsWithinHalfAStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(64);
  for (float& v : x) v = normal(rng);
  x[7] = 0.0f;
  std::vector<Q8Activations> acts(2);
  quantize_activations(x.data(), acts.data(), 64);
  for (int i = 0; i < 64; ++i) {
    const Q8Activations& b = acts[i / 32];
    EXPECT_LE(std::fabs(b.d * b.q[i % 32] - x[i]), 0.5f * b.d + 1e-6f);
  }
  int sum = 0;
  for (int i = 0; i < 16; ++i) sum += acts[0].q[i];
  EXPECT_FLOAT_EQ(acts[0].s[0], acts[0].d * sum);
}

INSTANTIATE_TEST_SUITE_P(CompiledTargets, QuantizedDotAllTargets, testing::EveryCompiledTarget(),
                         testing::TargetName);

}  // namespace
}  // namespace cove::kernels
