// Unpacking quantized weight blocks into small unsigned integers with an affine map per 16
// weights (w = A * q + B), the common form the integer dot kernels consume (see
// kernels/quantized_dot.h). Shared by the scalar reference and the SIMD targets, which include
// it inside their target namespace so it compiles with their instruction set.
//
// Q8_0 is not unpacked: its signed values are used as they are.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "tensor/blocks.h"
#include "tensor/tensor_type.h"

namespace cove::kernels::detail {

// One unpacked block of up to 256 weights: q per weight, A and B per 16 weights.
// The batched kernel takes weight rows kMatmulTile at a time; types without a direct kernel
// are unpacked (quantized values, then A and B per 16 weights) into caller-owned scratch when
// several tokens share each row.
constexpr int64_t kMatmulTile = 16;
inline bool matmul_unpacks(tensor::TensorType type, int64_t n_tokens) {
  return type != tensor::TensorType::Q8_0 && type != tensor::TensorType::Q4_0 && n_tokens > 1;
}
inline size_t matmul_scratch_bytes(tensor::TensorType type, int64_t n, int64_t n_tokens) {
  if (!matmul_unpacks(type, n_tokens)) return 0;
  return static_cast<size_t>(kMatmulTile * n) + static_cast<size_t>(kMatmulTile * n / 8) * 4;
}

struct UnpackedBlock {
  uint8_t q[256];
  float a[16];
  float b[16];
};

inline void set_pair(UnpackedBlock& u, int group16, float a, float b) {
  u.a[group16] = a;
  u.b[group16] = b;
}

inline void unpack_q4_0(const tensor::BlockQ4_0& blk, UnpackedBlock& u) {
  for (int j = 0; j < 16; ++j) {
    u.q[j] = blk.qs[j] & 0x0f;
    u.q[j + 16] = blk.qs[j] >> 4;
  }
  const float d = fp16_to_fp32(blk.d);
  set_pair(u, 0, d, -8 * d);
  set_pair(u, 1, d, -8 * d);
}

inline void unpack_q4_1(const tensor::BlockQ4_1& blk, UnpackedBlock& u) {
  for (int j = 0; j < 16; ++j) {
    u.q[j] = blk.qs[j] & 0x0f;
    u.q[j + 16] = blk.qs[j] >> 4;
  }
  const float d = fp16_to_fp32(blk.d), m = fp16_to_fp32(blk.m);
  set_pair(u, 0, d, m);
  set_pair(u, 1, d, m);
}

template <class Block>
inline void unpack_q5_low_high(const Block& blk, UnpackedBlock& u) {
  uint32_t qh;
  std::memcpy(&qh, blk.qh, 4);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = static_cast<uint8_t>((blk.qs[j] & 0x0f) | (((qh >> j) & 1) << 4));
    u.q[j + 16] = static_cast<uint8_t>((blk.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
}

inline void unpack_q5_0(const tensor::BlockQ5_0& blk, UnpackedBlock& u) {
  unpack_q5_low_high(blk, u);
  const float d = fp16_to_fp32(blk.d);
  set_pair(u, 0, d, -16 * d);
  set_pair(u, 1, d, -16 * d);
}

inline void unpack_q5_1(const tensor::BlockQ5_1& blk, UnpackedBlock& u) {
  unpack_q5_low_high(blk, u);
  const float d = fp16_to_fp32(blk.d), m = fp16_to_fp32(blk.m);
  set_pair(u, 0, d, m);
  set_pair(u, 1, d, m);
}

inline void unpack_q2_k(const tensor::BlockQ2_K& blk, UnpackedBlock& u) {
  const float d = fp16_to_fp32(blk.d), dmin = fp16_to_fp32(blk.dmin);
  uint8_t* q = u.q;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* src = blk.qs + 32 * half;
    for (int shift = 0; shift < 8; shift += 2) {
      for (int part = 0; part < 2; ++part) {
        const int group = half * 8 + shift + part;
        const uint8_t packed = blk.scales[group];
        set_pair(u, group, d * static_cast<float>(packed & 0x0f),
                 -dmin * static_cast<float>(packed >> 4));
        for (int l = 0; l < 16; ++l) *q++ = (src[16 * part + l] >> shift) & 3;
      }
    }
  }
}

inline void unpack_q3_k(const tensor::BlockQ3_K& blk, UnpackedBlock& u) {
  const float d = fp16_to_fp32(blk.d);
  uint8_t* q = u.q;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* src = blk.qs + 32 * half;
    for (int pair = 0; pair < 4; ++pair) {
      const int shift = 2 * pair;
      const int plane = 4 * half + pair;
      for (int part = 0; part < 2; ++part) {
        const int group = half * 8 + pair * 2 + part;
        const float a = d * static_cast<float>(tensor::q3k_scale(blk.scales, group) - 32);
        set_pair(u, group, a, -4 * a);  // q = low | high << 2 is value + 4
        for (int l = 0; l < 16; ++l) {
          const int byte = 16 * part + l;
          *q++ = static_cast<uint8_t>(((src[byte] >> shift) & 3) |
                                      (((blk.hmask[byte] >> plane) & 1) << 2));
        }
      }
    }
  }
}

inline void unpack_q4_k(const tensor::BlockQ4_K& blk, UnpackedBlock& u) {
  const float d = fp16_to_fp32(blk.d), dmin = fp16_to_fp32(blk.dmin);
  for (int chunk = 0; chunk < 4; ++chunk) {
    const uint8_t* src = blk.qs + 32 * chunk;
    uint8_t* q = u.q + 64 * chunk;
    for (int l = 0; l < 32; ++l) {
      q[l] = src[l] & 0x0f;
      q[l + 32] = src[l] >> 4;
    }
    for (int s = 0; s < 2; ++s) {
      const tensor::ScaleMin sm = tensor::k4_scale_min(blk.scales, 2 * chunk + s);
      const float a = d * static_cast<float>(sm.scale), b = -dmin * static_cast<float>(sm.min);
      set_pair(u, 4 * chunk + 2 * s, a, b);
      set_pair(u, 4 * chunk + 2 * s + 1, a, b);
    }
  }
}

inline void unpack_q5_k(const tensor::BlockQ5_K& blk, UnpackedBlock& u) {
  const float d = fp16_to_fp32(blk.d), dmin = fp16_to_fp32(blk.dmin);
  for (int chunk = 0; chunk < 4; ++chunk) {
    const uint8_t* src = blk.qs + 32 * chunk;
    uint8_t* q = u.q + 64 * chunk;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<uint8_t>((src[l] & 0x0f) | (((blk.qh[l] >> (2 * chunk)) & 1) << 4));
      q[l + 32] = static_cast<uint8_t>((src[l] >> 4) | (((blk.qh[l] >> (2 * chunk + 1)) & 1) << 4));
    }
    for (int s = 0; s < 2; ++s) {
      const tensor::ScaleMin sm = tensor::k4_scale_min(blk.scales, 2 * chunk + s);
      const float a = d * static_cast<float>(sm.scale), b = -dmin * static_cast<float>(sm.min);
      set_pair(u, 4 * chunk + 2 * s, a, b);
      set_pair(u, 4 * chunk + 2 * s + 1, a, b);
    }
  }
}

inline void unpack_q6_k(const tensor::BlockQ6_K& blk, UnpackedBlock& u) {
  const float d = fp16_to_fp32(blk.d);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = blk.ql + 64 * half;
    const uint8_t* qh = blk.qh + 32 * half;
    uint8_t* q = u.q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<uint8_t>((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4));
      q[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4));
      q[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      q[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
    for (int g = 0; g < 8; ++g) {
      const float a = d * static_cast<float>(blk.scales[8 * half + g]);
      set_pair(u, 8 * half + g, a, -32 * a);
    }
  }
}

// Unpacks block `index` of a row of `type` (not Q8_0). Returns the weights per block.
inline int unpack_block(tensor::TensorType type, const void* row, int64_t index,
                        UnpackedBlock& u) {
  using tensor::TensorType;
  switch (type) {
    case TensorType::Q4_0: unpack_q4_0(static_cast<const tensor::BlockQ4_0*>(row)[index], u); return 32;
    case TensorType::Q4_1: unpack_q4_1(static_cast<const tensor::BlockQ4_1*>(row)[index], u); return 32;
    case TensorType::Q5_0: unpack_q5_0(static_cast<const tensor::BlockQ5_0*>(row)[index], u); return 32;
    case TensorType::Q5_1: unpack_q5_1(static_cast<const tensor::BlockQ5_1*>(row)[index], u); return 32;
    case TensorType::Q2_K: unpack_q2_k(static_cast<const tensor::BlockQ2_K*>(row)[index], u); return 256;
    case TensorType::Q3_K: unpack_q3_k(static_cast<const tensor::BlockQ3_K*>(row)[index], u); return 256;
    case TensorType::Q4_K: unpack_q4_k(static_cast<const tensor::BlockQ4_K*>(row)[index], u); return 256;
    case TensorType::Q5_K: unpack_q5_k(static_cast<const tensor::BlockQ5_K*>(row)[index], u); return 256;
    case TensorType::Q6_K: unpack_q6_k(static_cast<const tensor::BlockQ6_K*>(row)[index], u); return 256;
    default: return 0;
  }
}

}  // namespace cove::kernels::detail
