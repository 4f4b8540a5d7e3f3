#include "tensor/dequantize.h"

#include <cstdlib>
#include <cstring>

#include "core/half.h"
#include "tensor/blocks.h"

namespace cove::tensor {
namespace {

// ---------------------------------------------------------------------------------------------
// 32-weight blocks

void dequantize_q4_0(const BlockQ4_0* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, y += kBlockWeights) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int low = (blocks[b].qs[j] & 0x0f) - 8;
      const int high = (blocks[b].qs[j] >> 4) - 8;
      y[j] = static_cast<float>(low) * d;
      y[j + kBlockWeights / 2] = static_cast<float>(high) * d;
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, y += kBlockWeights) {
    const float d = fp16_to_fp32(blocks[b].d);
    const float m = fp16_to_fp32(blocks[b].m);
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int low = blocks[b].qs[j] & 0x0f;
      const int high = blocks[b].qs[j] >> 4;
      y[j] = static_cast<float>(low) * d + m;
      y[j + kBlockWeights / 2] = static_cast<float>(high) * d + m;
    }
  }
}

// Fifth bits of a Q5 block as one word: bit j belongs to weight j.
uint32_t load_high_bits(const uint8_t qh[4]) {
  return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
         (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

void dequantize_q5_0(const BlockQ5_0* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, y += kBlockWeights) {
    const float d = fp16_to_fp32(blocks[b].d);
    const uint32_t qh = load_high_bits(blocks[b].qh);
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int k = j + kBlockWeights / 2;
      const int low = (blocks[b].qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int high = (blocks[b].qs[j] >> 4) | static_cast<int>(((qh >> k) & 1u) << 4);
      y[j] = static_cast<float>(low - 16) * d;
      y[k] = static_cast<float>(high - 16) * d;
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, y += kBlockWeights) {
    const float d = fp16_to_fp32(blocks[b].d);
    const float m = fp16_to_fp32(blocks[b].m);
    const uint32_t qh = load_high_bits(blocks[b].qh);
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int k = j + kBlockWeights / 2;
      const int low = (blocks[b].qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int high = (blocks[b].qs[j] >> 4) | static_cast<int>(((qh >> k) & 1u) << 4);
      y[j] = static_cast<float>(low) * d + m;
      y[k] = static_cast<float>(high) * d + m;
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, y += kBlockWeights) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int j = 0; j < kBlockWeights; ++j) y[j] = static_cast<float>(blocks[b].qs[j]) * d;
  }
}

// ---------------------------------------------------------------------------------------------
// 256-weight K super-blocks. Weight g of a super-block lies in 128-weight half g / 128; within a
// half, the 2-bit types (Q2_K, Q3_K) put weight 32k + l in bits 2k..2k+1 of byte l of the half's
// 32 bytes.

void dequantize_q2_k(const BlockQ2_K* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ2_K& block = blocks[b];
    const float d = fp16_to_fp32(block.d);
    const float dmin = fp16_to_fp32(block.dmin);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = block.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {  // two sub-blocks of 16 share the bit pair
          const uint8_t packed = block.scales[half * 8 + shift + part];
          const float scale = d * static_cast<float>(packed & 0x0f);
          const float min = dmin * static_cast<float>(packed >> 4);
          for (int l = 0; l < 16; ++l) {
            const int value = (q[16 * part + l] >> shift) & 3;
            *y++ = scale * static_cast<float>(value) - min;
          }
        }
      }
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ3_K& block = blocks[b];
    const float d = fp16_to_fp32(block.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = block.qs + 32 * half;
      for (int pair = 0; pair < 4; ++pair) {
        const int shift = 2 * pair;
        const uint8_t plane = static_cast<uint8_t>(1u << (4 * half + pair));  // hmask bit
        for (int part = 0; part < 2; ++part) {
          const int sub_block = half * 8 + pair * 2 + part;
          const int scale_int = static_cast<int>(q3k_scale(block.scales, sub_block)) - 32;
          const float scale = d * static_cast<float>(scale_int);
          for (int l = 0; l < 16; ++l) {
            const int byte = 16 * part + l;
            const int low = (q[byte] >> shift) & 3;
            const int value = low - ((block.hmask[byte] & plane) ? 0 : 4);
            *y++ = scale * static_cast<float>(value);
          }
        }
      }
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_K& block = blocks[b];
    const float d = fp16_to_fp32(block.d);
    const float dmin = fp16_to_fp32(block.dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {  // 32 bytes: sub-blocks 2c (low), 2c + 1 (high)
      const uint8_t* q = block.qs + 32 * chunk;
      const ScaleMin first = k4_scale_min(block.scales, 2 * chunk);
      const ScaleMin second = k4_scale_min(block.scales, 2 * chunk + 1);
      const float scale1 = d * static_cast<float>(first.scale);
      const float min1 = dmin * static_cast<float>(first.min);
      const float scale2 = d * static_cast<float>(second.scale);
      const float min2 = dmin * static_cast<float>(second.min);
      for (int l = 0; l < 32; ++l) *y++ = scale1 * static_cast<float>(q[l] & 0x0f) - min1;
      for (int l = 0; l < 32; ++l) *y++ = scale2 * static_cast<float>(q[l] >> 4) - min2;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ5_K& block = blocks[b];
    const float d = fp16_to_fp32(block.d);
    const float dmin = fp16_to_fp32(block.dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = block.qs + 32 * chunk;
      const uint8_t bit1 = static_cast<uint8_t>(1u << (2 * chunk));  // qh plane of sub-block 2c
      const uint8_t bit2 = static_cast<uint8_t>(1u << (2 * chunk + 1));
      const ScaleMin first = k4_scale_min(block.scales, 2 * chunk);
      const ScaleMin second = k4_scale_min(block.scales, 2 * chunk + 1);
      const float scale1 = d * static_cast<float>(first.scale);
      const float min1 = dmin * static_cast<float>(first.min);
      const float scale2 = d * static_cast<float>(second.scale);
      const float min2 = dmin * static_cast<float>(second.min);
      for (int l = 0; l < 32; ++l) {
        const int value = (q[l] & 0x0f) + ((block.qh[l] & bit1) ? 16 : 0);
        *y++ = scale1 * static_cast<float>(value) - min1;
      }
      for (int l = 0; l < 32; ++l) {
        const int value = (q[l] >> 4) + ((block.qh[l] & bit2) ? 16 : 0);
        *y++ = scale2 * static_cast<float>(value) - min2;
      }
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* blocks, float* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ6_K& block = blocks[b];
    const float d = fp16_to_fp32(block.d);
    for (int half = 0; half < 2; ++half, y += 128) {
      const uint8_t* ql = block.ql + 64 * half;
      const uint8_t* qh = block.qh + 32 * half;
      const int8_t* scales = block.scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        // The four weights l, l + 32, l + 64, l + 96 of this half, in that order.
        const int q[4] = {
            ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32,
            ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32,
            ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32,
            ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32,
        };
        for (int k = 0; k < 4; ++k) {
          const int weight = l + 32 * k;
          const float scale = static_cast<float>(scales[weight / 16]);
          y[weight] = d * scale * static_cast<float>(q[k]);
        }
      }
    }
  }
}

}  // namespace

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  const TypeTraits& t = traits(type);
  if (!t.can_dequantize || n % t.block_size != 0) std::abort();
  const int64_t n_blocks = n / t.block_size;
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
      return;
    }
    case TensorType::Q4_0:
      return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n_blocks);
    case TensorType::Q4_1:
      return dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n_blocks);
    case TensorType::Q5_0:
      return dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, n_blocks);
    case TensorType::Q5_1:
      return dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, n_blocks);
    case TensorType::Q8_0:
      return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n_blocks);
    case TensorType::Q2_K:
      return dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, n_blocks);
    case TensorType::Q3_K:
      return dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, n_blocks);
    case TensorType::Q4_K:
      return dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n_blocks);
    case TensorType::Q5_K:
      return dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n_blocks);
    case TensorType::Q6_K:
      return dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n_blocks);
    default:
      std::abort();  // can_dequantize is true only for the types above
  }
}

}  // namespace cove::tensor
