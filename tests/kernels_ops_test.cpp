// The vectorized element-wise ops (kernels/ops-inl.h) against their scalar references, on every
// compiled SIMD target: SwiGLU's silu, RMS norm, the max / argmax / sum-of-exponentials over a
// row of logits, and the F16 conversion of the KV cache. Each must stay within a few ulp of the
// reference (the F16 conversion and argmax exactly), and give an element the same bits
// wherever it sits in the buffer (the batch-invariance the scheduler relies on).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "kernels/ops.h"
#include "kernels/quantized_dot.h"
#include "support/kernel_testing.h"

namespace cove::kernels {
namespace {

using testing::bits;
using testing::random_values;

class KernelsOps : public testing::PerTarget {};

TEST_P(KernelsOps, SiluMulWithinUlpsOfTheScalarReference) {
  std::vector<float> x = random_values(1003, 4.0f, 1);
  // The edges: large negative (exp(-x) overflows), large positive, zeros.
  x[0] = -200.0f;
  x[1] = -88.5f;
  x[2] = 90.0f;
  x[3] = 0.0f;
  x[4] = -0.0f;
  const std::vector<float> y = random_values(x.size(), 1.0f, 2);
  std::vector<float> fast = x, exact = x;
  silu_mul(fast.data(), y.data(), static_cast<int64_t>(x.size()));
  silu_mul_reference(exact.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const float tolerance = 4e-7f * std::abs(exact[i]) + 1e-30f;
    ASSERT_NEAR(fast[i], exact[i], tolerance) << "x=" << x[i] << " y=" << y[i] << " at " << i;
  }
  EXPECT_EQ(fast[2], exact[2]);  // silu(90) = 90 exactly in float
}

TEST_P(KernelsOps, SiluMulGivesAnElementTheSameBitsAtAnyOffset) {
  // A token's values land at different offsets of the batch buffer (and in the tail or not).
  const std::vector<float> x = random_values(77, 3.0f, 3);
  const std::vector<float> y = random_values(77, 1.0f, 4);
  std::vector<float> whole = x;
  silu_mul(whole.data(), y.data(), 77);
  for (int64_t offset = 0; offset < 20; ++offset) {
    for (int64_t len : {1, 5, 16, 33}) {
      if (offset + len > 77) continue;
      std::vector<float> part(x.begin() + offset, x.begin() + offset + len);
      silu_mul(part.data(), y.data() + offset, len);
      for (int64_t i = 0; i < len; ++i) {
        ASSERT_EQ(bits(part[i]), bits(whole[offset + i])) << offset << "+" << i;
      }
    }
  }
}

TEST_P(KernelsOps, RmsNormWithinUlpsOfTheScalarReference) {
  for (int64_t n : {1, 7, 64, 576, 1003}) {
    const std::vector<float> x = random_values(n, 2.0f, 5);
    const std::vector<float> w = random_values(n, 1.0f, 6);
    std::vector<float> fast(n), exact(n);
    rms_norm(x.data(), w.data(), 1e-5f, n, fast.data());
    rms_norm_reference(x.data(), w.data(), 1e-5f, n, exact.data());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(fast[i], exact[i], 3e-7f * std::abs(exact[i]) + 1e-30f) << n << " " << i;
    }
  }
}

TEST_P(KernelsOps, LogitReductionsMatchTheScalarOnes) {
  for (int64_t n : {1, 3, 17, 49152, 151936}) {
    std::vector<float> x = random_values(n, 3.0f, 7);
    // A tie for the maximum: the first one must win.
    if (n > 10) x[n / 2] = x[n / 3] = 40.0f;
    if (n > 20) x[5] = -std::numeric_limits<float>::infinity();  // a grammar-masked token
    const float max = *std::max_element(x.begin(), x.end());
    EXPECT_EQ(max_value(x.data(), n), max);
    EXPECT_EQ(argmax(x.data(), n), std::max_element(x.begin(), x.end()) - x.begin());
    const double fast = sum_exp(x.data(), n, max), exact = sum_exp_reference(x.data(), n, max);
    EXPECT_NEAR(fast, exact, 1e-6 * exact) << n;
  }
}

TEST_P(KernelsOps, F16ConversionEqualsTheScalarRounding) {
  std::vector<float> x = random_values(1000, 10.0f, 8);
  const float specials[] = {0.0f,
                            -0.0f,
                            65504.0f,
                            65520.0f,
                            1e6f,
                            -1e6f,
                            6e-8f,
                            3e-8f,
                            1e-5f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            1.0009765625f,
                            1.00048828125f,
                            1.00146484375f};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  std::mt19937 rng(9);
  for (int i = 0; i < 1000; ++i) {  // random bit patterns, NaNs left out
    uint32_t u = static_cast<uint32_t>(rng());
    float f;
    std::memcpy(&f, &u, 4);
    if (!std::isnan(f)) x.push_back(f);
  }
  std::vector<uint16_t> out(x.size());
  f32_to_f16(x.data(), out.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(out[i], fp32_to_fp16(x[i])) << x[i] << " at " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(CompiledTargets, KernelsOps, testing::EveryCompiledTarget(),
                         testing::TargetName);

}  // namespace
}  // namespace cove::kernels
