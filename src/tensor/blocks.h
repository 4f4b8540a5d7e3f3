// Quantized block formats, bit-exact with the blocks in GGUF files.
//
// Each struct is one block as it lies in a tensor's data: plain bytes, no padding, fields in file
// order, little-endian. Scales stored as IEEE half precision are `uint16_t` bit patterns (convert
// with cove::fp16_to_fp32 from core/half.h). Weight w of a block is rebuilt from its small
// integer q as the comment on each struct says; tensor/dequantize.cpp is the reference for it.
//
// Two families:
//   - 32-weight blocks (Q4_0 .. Q8_1): one scale (and for *_1 one offset) per 32 weights.
//   - 256-weight "K" super-blocks (Q2_K .. Q8_K): the 256 weights are split into sub-blocks of
//     16 or 32, each with a small integer scale (and min), which are in turn scaled by the
//     super-block's half-precision d (and dmin). That second level is why the K types reach a
//     lower bits-per-weight for the same error.
#pragma once

#include <cstdint>

namespace cove::tensor {

inline constexpr int kBlockWeights = 32;   // weights per block of Q4_0 .. Q8_1
inline constexpr int kSuperWeights = 256;  // weights per super-block of the K types

// Q4_0: 4.5 bits per weight. qs[j] holds weight j in its low nibble and weight j + 16 in its
// high nibble. w = (q - 8) * d.
struct BlockQ4_0 {
  uint16_t d;                     // f16 scale
  uint8_t qs[kBlockWeights / 2];  // 4-bit quants
};
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block must be 18 bytes");

// Q4_1: 5 bits per weight. Nibbles as Q4_0. w = q * d + m.
struct BlockQ4_1 {
  uint16_t d;                     // f16 scale
  uint16_t m;                     // f16 offset (the block's minimum)
  uint8_t qs[kBlockWeights / 2];  // 4-bit quants
};
static_assert(sizeof(BlockQ4_1) == 20, "Q4_1 block must be 20 bytes");

// Q5_0: 5.5 bits per weight. The low 4 bits of each quant are nibbles as in Q4_0; qh, read as
// one little-endian 32-bit word, holds the fifth (high) bit of weight j in bit j.
// w = (q - 16) * d.
struct BlockQ5_0 {
  uint16_t d;                     // f16 scale
  uint8_t qh[4];                  // high bits, bit j for weight j
  uint8_t qs[kBlockWeights / 2];  // low 4 bits
};
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 block must be 22 bytes");

// Q5_1: 6 bits per weight. Quants as Q5_0, unsigned. w = q * d + m.
struct BlockQ5_1 {
  uint16_t d;                     // f16 scale
  uint16_t m;                     // f16 offset (the block's minimum)
  uint8_t qh[4];                  // high bits, bit j for weight j
  uint8_t qs[kBlockWeights / 2];  // low 4 bits
};
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 block must be 24 bytes");

// Q8_0: 8.5 bits per weight. w = qs[j] * d.
struct BlockQ8_0 {
  uint16_t d;                // f16 scale
  int8_t qs[kBlockWeights];  // quants, in weight order
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must be 34 bytes");

// Q8_1: 9 bits per weight. As Q8_0 plus s = d * sum(qs), kept for dot products with Q4_1/Q5_1
// (it folds their offset into one multiply). Used for activations, never stored in files.
struct BlockQ8_1 {
  uint16_t d;                // f16 scale
  uint16_t s;                // f16 d * sum(qs)
  int8_t qs[kBlockWeights];  // quants, in weight order
};
static_assert(sizeof(BlockQ8_1) == 36, "Q8_1 block must be 36 bytes");

// Q2_K: 2.625 bits per weight. 16 sub-blocks of 16 weights. scales[i] holds sub-block i's 4-bit
// scale in its low nibble and 4-bit min in its high nibble; w = d * scale * q - dmin * min with
// q in 0..3. qs: each 128-weight half uses 32 bytes; within a half, bits 2k..2k+1 of byte l hold
// weight 32k + l of the half (k = 0..3, l = 0..31).
struct BlockQ2_K {
  uint8_t scales[kSuperWeights / 16];  // low nibble scale, high nibble min, per 16 weights
  uint8_t qs[kSuperWeights / 4];       // 2-bit quants, 4 per byte
  uint16_t d;                          // f16 super-block scale for the scales
  uint16_t dmin;                       // f16 super-block scale for the mins
};
static_assert(sizeof(BlockQ2_K) == 84, "Q2_K block must be 84 bytes");

// Q3_K: 3.4375 bits per weight. 16 sub-blocks of 16 weights, symmetric. The 2 low bits of each
// quant are laid out as in Q2_K; the third bit of weight 32k + l (k = 0..7, l = 0..31) is bit k
// of hmask[l]. q3 = low2 - (high bit set ? 0 : 4), in -4..3. The 16 6-bit scales are packed in
// 12 bytes: the low 4 bits of scale i are the low nibble of scales[i] for i < 8 and the high
// nibble of scales[i - 8] otherwise; its high 2 bits are bits 2*(i/4)..+1 of scales[8 + i%4].
// w = d * (scale - 32) * q3.
struct BlockQ3_K {
  uint8_t hmask[kSuperWeights / 8];  // high bits, one bit plane per 32 weights
  uint8_t qs[kSuperWeights / 4];     // low 2 bits, 4 per byte
  uint8_t scales[12];                // 16 6-bit scales, packed
  uint16_t d;                        // f16 super-block scale
};
static_assert(sizeof(BlockQ3_K) == 110, "Q3_K block must be 110 bytes");

// Q4_K: 4.5 bits per weight. 8 sub-blocks of 32 weights, each with a 6-bit scale and 6-bit min
// packed into 12 bytes. For i < 4: scale = scales[i] & 63, min = scales[i + 4] & 63. For i >= 4
// the low 4 bits are the low (scale) and high (min) nibble of scales[i + 4], and the high 2 bits
// are the top 2 bits of scales[i - 4] (scale) and of scales[i] (min).
// qs: each 32-byte chunk c holds sub-block 2c in its low nibbles and 2c + 1 in its high ones.
// w = d * scale * q - dmin * min with q in 0..15.
struct BlockQ4_K {
  uint16_t d;                     // f16 super-block scale for the scales
  uint16_t dmin;                  // f16 super-block scale for the mins
  uint8_t scales[12];             // 8 6-bit scales + 8 6-bit mins, packed
  uint8_t qs[kSuperWeights / 2];  // 4-bit quants
};
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block must be 144 bytes");

// Q5_K: 5.5 bits per weight. As Q4_K plus a fifth bit per weight: the high bit of weight l of
// sub-block i (l = 0..31) is bit i of qh[l]. w = d * scale * q - dmin * min with q in 0..31.
struct BlockQ5_K {
  uint16_t d;                     // f16 super-block scale for the scales
  uint16_t dmin;                  // f16 super-block scale for the mins
  uint8_t scales[12];             // 8 6-bit scales + 8 6-bit mins, packed as in Q4_K
  uint8_t qh[kSuperWeights / 8];  // high bits, one bit plane per sub-block
  uint8_t qs[kSuperWeights / 2];  // low 4 bits, as Q4_K
};
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K block must be 176 bytes");

// Q6_K: 6.5625 bits per weight. 16 sub-blocks of 16 weights with signed 8-bit scales. Each
// 128-weight half uses 64 bytes of ql and 32 of qh; for l = 0..31, weights l, l + 32, l + 64 and
// l + 96 of the half take their low 4 bits from the low nibble of ql[l], the low nibble of
// ql[l + 32], the high nibble of ql[l] and the high nibble of ql[l + 32], and their high 2 bits
// from bits 0-1, 2-3, 4-5 and 6-7 of qh[l]. w = d * scales[weight / 16] * (q - 32).
struct BlockQ6_K {
  uint8_t ql[kSuperWeights / 2];      // low 4 bits
  uint8_t qh[kSuperWeights / 4];      // high 2 bits
  int8_t scales[kSuperWeights / 16];  // signed scale per 16 weights
  uint16_t d;                         // f16 super-block scale
};
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block must be 210 bytes");

// Q8_K: 9.125 bits per weight. w = d * qs[j], with a float d. bsums[i] is the sum of
// qs[16i .. 16i + 15], which K-quant dot products use to apply mins without a second pass.
// Used for activations, never stored in files.
struct BlockQ8_K {
  float d;                            // f32 scale
  int8_t qs[kSuperWeights];           // quants, in weight order
  int16_t bsums[kSuperWeights / 16];  // sums of each 16 quants
};
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K block must be 292 bytes");

// ---------------------------------------------------------------------------------------------
// Packed sub-block scales of the K types. Shared by the dequantizer, the quantizers and the
// kernels so that the bit layout is written down once.

// Scale and min of sub-block i (0..7) of a Q4_K or Q5_K block, both 6-bit.
struct ScaleMin {
  uint8_t scale;
  uint8_t min;
};
inline ScaleMin k4_scale_min(const uint8_t* scales, int i) {
  if (i < 4) {
    return {static_cast<uint8_t>(scales[i] & 63), static_cast<uint8_t>(scales[i + 4] & 63)};
  }
  return {static_cast<uint8_t>((scales[i + 4] & 0x0f) | ((scales[i - 4] >> 6) << 4)),
          static_cast<uint8_t>((scales[i + 4] >> 4) | ((scales[i] >> 6) << 4))};
}

// Packs 8 6-bit scales and 8 6-bit mins (each < 64) into the 12 bytes that k4_scale_min reads.
inline void pack_k4_scales_mins(const uint8_t scale[8], const uint8_t min[8], uint8_t out[12]) {
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>((scale[i] & 63) | ((scale[i + 4] >> 4) << 6));
    out[i + 4] = static_cast<uint8_t>((min[i] & 63) | ((min[i + 4] >> 4) << 6));
    out[i + 8] = static_cast<uint8_t>((scale[i + 4] & 0x0f) | ((min[i + 4] & 0x0f) << 4));
  }
}

// Stored (biased) 6-bit scale of sub-block i (0..15) of a Q3_K block; the scale is this - 32.
inline uint8_t q3k_scale(const uint8_t* scales, int i) {
  const uint8_t low = i < 8 ? (scales[i] & 0x0f) : (scales[i - 8] >> 4);
  const uint8_t high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
  return static_cast<uint8_t>(low | (high << 4));
}

// Packs 16 biased 6-bit scales (each < 64) into the 12 bytes that q3k_scale reads.
inline void pack_q3k_scales(const uint8_t biased[16], uint8_t out[12]) {
  for (int i = 0; i < 12; ++i) out[i] = 0;
  for (int i = 0; i < 16; ++i) {
    const uint8_t low = biased[i] & 0x0f;
    const uint8_t high = (biased[i] >> 4) & 3;
    if (i < 8) {
      out[i] |= low;
    } else {
      out[i - 8] |= static_cast<uint8_t>(low << 4);
    }
    out[8 + i % 4] |= static_cast<uint8_t>(high << (2 * (i / 4)));
  }
}

}  // namespace cove::tensor
