// The repacked weight layout (kernels/repack.h) and its kernels: the layout round-trips to the
// file's bytes; on every compiled SIMD target a repacked matrix gives, for every token, the same
// bits alone and in batches of 1..17 tokens, whatever group range a thread takes; the AVX-512
// VNNI kernels compute exactly the block-wise integer sums and float accumulation they promise
// (checked against a scalar model of that arithmetic), and other targets give the bits of the
// row-major path. Odd shapes: row counts that are not multiples of 16, odd block counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/quantized_dot.h"
#include "kernels/repack.h"
#include "support/kernel_testing.h"
#include "tensor/blocks.h"
#include "tensor/quantize.h"

namespace cove::kernels {
namespace {

using testing::bits;

using tensor::TensorType;

// A row-major quantized matrix, its repacked copy and rounded activations for max_tokens.
struct Fixture {
  TensorType type;
  int64_t n_rows, n, max_tokens;
  std::vector<uint8_t> rows;
  std::vector<uint8_t> packed;
  tensor::Matrix original, repacked;
  std::vector<float> x;
  std::vector<Q8Activations> acts;
  std::vector<int32_t> sums;

  Fixture(TensorType t, int64_t rows_count, int64_t cols, int64_t tokens, uint32_t seed)
      : type(t), n_rows(rows_count), n(cols), max_tokens(tokens) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const size_t row_bytes = tensor::row_size(type, n);
    std::vector<float> weights(static_cast<size_t>(n_rows * n));
    for (float& v : weights) v = normal(rng);
    rows.resize(row_bytes * static_cast<size_t>(n_rows));
    for (int64_t r = 0; r < n_rows; ++r) {
      tensor::quantize_row(type, weights.data() + r * n, rows.data() + r * row_bytes, n);
    }
    original = tensor::Matrix{type, rows.data(), n, n_rows, row_bytes};
    packed.resize(repacked_bytes(type, n_rows, n));
    repack_groups(original, 0, (n_rows + 15) / 16, packed.data());
    repacked = original;
    repacked.data = packed.data();
    repacked.repacked = true;
    x.resize(static_cast<size_t>(max_tokens * n));
    for (float& v : x) v = normal(rng) * 3.0f;
    const int64_t blocks = n / 32;
    acts.resize(static_cast<size_t>(max_tokens * blocks));
    sums.resize(2 * acts.size());
    for (int64_t t = 0; t < max_tokens; ++t) {
      quantize_activations(x.data() + t * n, acts.data() + t * blocks, n);
      repacked_activation_offsets(type, acts.data() + t * blocks, blocks,
                                  sums.data() + 2 * t * blocks);
    }
  }

  // Tokens [first, first + n_tokens) against groups [g0, g1): y[t * n_rows + r].
  std::vector<float> run(int64_t first, int64_t n_tokens, int64_t g0, int64_t g1) const {
    std::vector<float> y(static_cast<size_t>(n_tokens * n_rows), -1.0f);
    std::vector<uint8_t> scratch(repacked_matmul_scratch_bytes(repacked));
    const int64_t blocks = n / 32;
    repacked_matmul_groups(repacked, g0, g1, acts.data() + first * blocks,
                           sums.data() + 2 * first * blocks, n_tokens, y.data(), n_rows,
                           scratch.data());
    return y;
  }

  // The VNNI kernels' arithmetic in scalar code: exact integer sums per run of weights sharing
  // a scale, then acc = fma(float(sum), row scale * token scale, acc) in weight order (Q4_K:
  // then acc = fma(-dmin * min, s0 + s1, acc) per sub-block).
  float model_of_vnni(int64_t r, int64_t t) const {
    const int64_t blocks = n / 32;
    const Q8Activations* x = acts.data() + t * blocks;
    float acc = 0.0f;
    auto half_sum = [](const Q8Activations& a, int h) {
      int32_t s = 0;
      for (int i = 16 * h; i < 16 * h + 16; ++i) s += a.q[i];
      return s;
    };
    if (type == TensorType::Q4_K) {
      for (int64_t s = 0; s < n / 256; ++s) {
        const auto& blk = reinterpret_cast<const tensor::BlockQ4_K*>(original.row(r))[s];
        for (int j = 0; j < 8; ++j) {
          const Q8Activations& a = x[8 * s + j];
          int32_t sum = 0;
          for (int l = 0; l < 32; ++l) {
            const uint8_t byte = blk.qs[32 * (j / 2) + l];
            sum += (j % 2 ? byte >> 4 : byte & 0x0f) * a.q[l];
          }
          const tensor::ScaleMin sm = tensor::k4_scale_min(blk.scales, j);
          const float scale = fp16_to_fp32(blk.d) * static_cast<float>(sm.scale);
          const float min = fp16_to_fp32(blk.dmin) * static_cast<float>(sm.min);
          acc = std::fma(static_cast<float>(sum), scale * a.d, acc);
          acc = std::fma(-min, a.s[0] + a.s[1], acc);
        }
      }
      return acc;
    }
    if (type == TensorType::Q6_K) {
      for (int64_t s = 0; s < n / 256; ++s) {
        const auto& blk = reinterpret_cast<const tensor::BlockQ6_K*>(original.row(r))[s];
        for (int h = 0; h < 2; ++h) {
          for (int k = 0; k < 4; ++k) {
            const Q8Activations& a = x[8 * s + 4 * h + k];
            for (int u = 0; u < 2; ++u) {
              int32_t sum = -32 * half_sum(a, u);
              for (int l = 16 * u; l < 16 * u + 16; ++l) {
                const uint8_t ql = blk.ql[64 * h + l + 32 * (k % 2)];
                const int low = k < 2 ? ql & 0x0f : ql >> 4;
                const int high = (blk.qh[32 * h + l] >> (2 * k)) & 3;
                sum += (low | high << 4) * a.q[l];
              }
              const float scale =
                  fp16_to_fp32(blk.d) * static_cast<float>(blk.scales[8 * h + 2 * k + u]);
              acc = std::fma(static_cast<float>(sum), scale * a.d, acc);
            }
          }
        }
      }
      return acc;
    }
    for (int64_t b = 0; b < blocks; ++b) {
      const Q8Activations& a = x[b];
      int32_t sum = 0;
      float d;
      if (type == TensorType::Q4_0) {
        const auto& blk = reinterpret_cast<const tensor::BlockQ4_0*>(original.row(r))[b];
        for (int j = 0; j < 16; ++j) {
          sum += ((blk.qs[j] & 0x0f) - 8) * a.q[j] + ((blk.qs[j] >> 4) - 8) * a.q[j + 16];
        }
        d = fp16_to_fp32(blk.d);
      } else if (type == TensorType::Q5_0) {
        const auto& blk = reinterpret_cast<const tensor::BlockQ5_0*>(original.row(r))[b];
        uint32_t qh;
        std::memcpy(&qh, blk.qh, 4);
        for (int j = 0; j < 16; ++j) {
          const int low = (blk.qs[j] & 0x0f) | ((qh >> j) & 1) << 4;
          const int high = (blk.qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
          sum += (low - 16) * a.q[j] + (high - 16) * a.q[j + 16];
        }
        d = fp16_to_fp32(blk.d);
      } else {
        const auto& blk = reinterpret_cast<const tensor::BlockQ8_0*>(original.row(r))[b];
        for (int j = 0; j < 32; ++j) sum += blk.qs[j] * a.q[j];
        d = fp16_to_fp32(blk.d);
      }
      acc = std::fma(static_cast<float>(sum), d * a.d, acc);
    }
    return acc;
  }
};

// Every repacked type, with a row length that fits it (K types: 256-weight super-blocks).
const TensorType kRepackedTypes[] = {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0,
                                     TensorType::Q4_K, TensorType::Q6_K};
int64_t columns_for(TensorType type, int64_t blocks_of_32) {
  return tensor::traits(type).block_size == 256 ? 256 * ((blocks_of_32 + 7) / 8)
                                                : 32 * blocks_of_32;
}

TEST(KernelsRepack, LayoutRestoresTheFileBytes) {
  for (TensorType type : kRepackedTypes) {
    for (int64_t n_rows : {1, 16, 37}) {
      Fixture f(type, n_rows, columns_for(type, 3), 1, 3);
      std::vector<uint8_t> restored(f.rows.size());
      unpack_repacked_rows(f.repacked, 0, n_rows, restored.data());
      EXPECT_EQ(restored, f.rows) << tensor::type_name(type) << " rows " << n_rows;
      // A single row from the middle of a group.
      std::vector<uint8_t> one(f.original.row_bytes);
      unpack_repacked_rows(f.repacked, n_rows / 2, 1, one.data());
      EXPECT_EQ(0, std::memcmp(one.data(), f.original.row(n_rows / 2), one.size()));
    }
  }
  EXPECT_TRUE(repack_supported(TensorType::Q4_0));
  EXPECT_TRUE(repack_supported(TensorType::Q6_K));
  EXPECT_FALSE(repack_supported(TensorType::Q5_K));
  EXPECT_EQ(repacked_bytes(TensorType::Q5_0, 16, 64), size_t{2 * 352});
  EXPECT_EQ(repacked_bytes(TensorType::Q6_K, 32, 256), size_t{2 * 16 * 210});
  EXPECT_EQ(repacked_bytes(TensorType::Q4_K, 16, 512), size_t{2 * 2368});
  EXPECT_EQ(repacked_bytes(TensorType::Q4_0, 32, 64), size_t{2 * 2 * 288});
  EXPECT_EQ(repacked_bytes(TensorType::Q8_0, 17, 32), size_t{2 * 544});
}

class KernelsRepackTarget : public testing::PerTarget {};

TEST_P(KernelsRepackTarget, EveryBatchSizeGivesTheSingleTokenBits) {
  const int64_t max_tokens = 17;
  for (TensorType type : kRepackedTypes) {
    for (int64_t n_rows : {5, 16, 45}) {
      Fixture f(type, n_rows, columns_for(type, 9), max_tokens, 7 + static_cast<uint32_t>(n_rows));
      const int64_t n_groups = (n_rows + 15) / 16;
      std::vector<float> alone(static_cast<size_t>(max_tokens * n_rows));
      for (int64_t t = 0; t < max_tokens; ++t) {
        const std::vector<float> y = f.run(t, 1, 0, n_groups);
        std::copy(y.begin(), y.end(), alone.begin() + t * n_rows);
      }
      for (int64_t n_tokens = 1; n_tokens <= max_tokens; ++n_tokens) {
        for (int64_t first : {int64_t{0}, max_tokens - n_tokens}) {
          // All groups at once, and the groups split as two threads would take them.
          std::vector<float> y = f.run(first, n_tokens, 0, n_groups);
          if (n_groups > 1) {
            const std::vector<float> tail = f.run(first, n_tokens, 1, n_groups);
            for (int64_t t = 0; t < n_tokens; ++t) {
              for (int64_t r = 16; r < n_rows; ++r) {
                ASSERT_EQ(bits(tail[t * n_rows + r]), bits(y[t * n_rows + r])) << r;
              }
            }
          }
          for (int64_t t = 0; t < n_tokens; ++t) {
            for (int64_t r = 0; r < n_rows; ++r) {
              ASSERT_EQ(bits(y[t * n_rows + r]), bits(alone[(first + t) * n_rows + r]))
                  << tensor::type_name(type) << " rows " << n_rows << ", batch of " << n_tokens
                  << " from " << first << ": row " << r << " token " << first + t;
            }
          }
        }
      }
    }
  }
}

TEST_P(KernelsRepackTarget, RepackedArithmeticIsWhatTheTargetPromises) {
  const bool vnni_kernels = repack_pays();  // AVX3 target on a VNNI CPU
  for (TensorType type : kRepackedTypes) {
    Fixture f(type, 37, columns_for(type, 5), 9, 21);
    const std::vector<float> y = f.run(0, f.max_tokens, 0, 3);
    // The row-major kernels of the same target on the file's layout.
    std::vector<float> row_major(y.size());
    std::vector<uint8_t> scratch(quantized_matmul_scratch_bytes(type, f.n, f.max_tokens) + 64);
    quantized_matmul_rows(type, f.rows.data(), f.original.row_bytes, f.n, 0, f.n_rows,
                          f.acts.data(), f.max_tokens, row_major.data(), f.n_rows, scratch.data());
    for (int64_t t = 0; t < f.max_tokens; ++t) {
      for (int64_t r = 0; r < f.n_rows; ++r) {
        const float got = y[t * f.n_rows + r];
        const float exact =
            quantized_dot_reference(type, f.original.row(r), f.acts.data() + t * (f.n / 32), f.n);
        EXPECT_NEAR(got, exact, 1e-3f * (1.0f + std::fabs(exact)))
            << tensor::type_name(type) << " row " << r << " token " << t;
        if (vnni_kernels) {
          ASSERT_EQ(bits(got), bits(f.model_of_vnni(r, t)))
              << tensor::type_name(type) << " row " << r << " token " << t;
        } else {
          ASSERT_EQ(bits(got), bits(row_major[t * f.n_rows + r]))
              << tensor::type_name(type) << " row " << r << " token " << t;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(CompiledTargets, KernelsRepackTarget, testing::EveryCompiledTarget(),
                         testing::TargetName);

// kernels::matmul and matmul_reference accept a repacked matrix: the reference restores rows
// (same bits as on the original), the fast path splits groups over threads.
TEST(KernelsRepack, MatmulOnARepackedMatrix) {
  ThreadPool pool(2);
  for (TensorType type : kRepackedTypes) {
    Fixture f(type, 50, columns_for(type, 2), 6, 5);
    std::vector<float> ref_original(static_cast<size_t>(f.max_tokens * f.n_rows));
    std::vector<float> ref_repacked(ref_original.size()), fast(ref_original.size());
    matmul_reference(f.original, f.x.data(), f.max_tokens, ref_original.data());
    matmul_reference(f.repacked, f.x.data(), f.max_tokens, ref_repacked.data());
    EXPECT_EQ(ref_original, ref_repacked);
    std::vector<float> row_major(fast.size());
    matmul(f.repacked, f.x.data(), f.max_tokens, fast.data(), pool);
    matmul(f.original, f.x.data(), f.max_tokens, row_major.data(), pool);
    const std::vector<float> direct = f.run(0, f.max_tokens, 0, 4);
    for (size_t i = 0; i < fast.size(); ++i) {
      ASSERT_EQ(bits(fast[i]), bits(direct[i])) << i;
      // Same 8-bit activations as the row-major path: only the float summation order differs.
      EXPECT_NEAR(fast[i], row_major[i], 1e-4f * (1.0f + std::fabs(row_major[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace cove::kernels
