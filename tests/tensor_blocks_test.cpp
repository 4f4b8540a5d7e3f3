// Block formats, the reference dequantizer and the quantizers.
//
// The dequantizer tests build blocks by hand and compute every expected weight in the test from
// the format's description (which bits of which byte belong to weight g), not by mirroring the
// decoder's loops, so a wrong weight order or sign convention fails here. The quantizer tests
// check exact bytes for the round-to-nearest types and an error budget for all of them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "tensor/blocks.h"
#include "tensor/dequantize.h"
#include "tensor/quantize.h"
#include "tensor/tensor_type.h"

namespace cove::tensor {
namespace {

// Deterministic filler for the bytes of hand-built blocks.
std::vector<uint8_t> pattern_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng() & 0xff);
  return bytes;
}

template <typename Block>
std::vector<float> dequantize_block(TensorType type, const Block& block) {
  std::vector<float> out(static_cast<size_t>(traits(type).block_size));
  dequantize_row(type, &block, out.data(), traits(type).block_size);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Layouts

TEST(BlockLayout, StructSizesMatchTypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), traits(TensorType::Q4_0).type_size);
  EXPECT_EQ(sizeof(BlockQ4_1), traits(TensorType::Q4_1).type_size);
  EXPECT_EQ(sizeof(BlockQ5_0), traits(TensorType::Q5_0).type_size);
  EXPECT_EQ(sizeof(BlockQ5_1), traits(TensorType::Q5_1).type_size);
  EXPECT_EQ(sizeof(BlockQ8_0), traits(TensorType::Q8_0).type_size);
  EXPECT_EQ(sizeof(BlockQ8_1), traits(TensorType::Q8_1).type_size);
  EXPECT_EQ(sizeof(BlockQ2_K), traits(TensorType::Q2_K).type_size);
  EXPECT_EQ(sizeof(BlockQ3_K), traits(TensorType::Q3_K).type_size);
  EXPECT_EQ(sizeof(BlockQ4_K), traits(TensorType::Q4_K).type_size);
  EXPECT_EQ(sizeof(BlockQ5_K), traits(TensorType::Q5_K).type_size);
  EXPECT_EQ(sizeof(BlockQ6_K), traits(TensorType::Q6_K).type_size);
  EXPECT_EQ(sizeof(BlockQ8_K), traits(TensorType::Q8_K).type_size);
}

TEST(BlockLayout, K4ScaleMinPackingPlacesBitsAsDescribed) {
  // Sub-blocks 0..3 keep their 6 bits in the low bits of bytes 0..3 (scales) and 4..7 (mins);
  // 4..7 split into a nibble in bytes 8..11 and 2 bits on top of bytes 0..3 / 4..7.
  const uint8_t scale[8] = {1, 2, 3, 63, 0x2a, 0x15, 0x30, 0x0f};
  const uint8_t min[8] = {60, 0, 7, 33, 0x3c, 0x01, 0x22, 0x3f};
  uint8_t packed[12];
  pack_k4_scales_mins(scale, min, packed);
  EXPECT_EQ(packed[0], 1 | (0x2a >> 4) << 6);
  EXPECT_EQ(packed[3], 63 | (0x0f >> 4) << 6);
  EXPECT_EQ(packed[4], 60 | (0x3c >> 4) << 6);
  EXPECT_EQ(packed[7], 33 | (0x3f >> 4) << 6);
  EXPECT_EQ(packed[8], (0x2a & 0xf) | (0x3c & 0xf) << 4);
  EXPECT_EQ(packed[11], (0x0f & 0xf) | (0x3f & 0xf) << 4);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(k4_scale_min(packed, i).scale, scale[i]) << i;
    EXPECT_EQ(k4_scale_min(packed, i).min, min[i]) << i;
  }
}

TEST(BlockLayout, K4ScaleMinPackingRoundTripsEveryValue) {
  for (int v = 0; v < 64; ++v) {
    uint8_t scale[8], min[8], packed[12];
    for (int i = 0; i < 8; ++i) {
      scale[i] = static_cast<uint8_t>((v + 7 * i) & 63);
      min[i] = static_cast<uint8_t>((63 - v + 5 * i) & 63);
    }
    pack_k4_scales_mins(scale, min, packed);
    for (int i = 0; i < 8; ++i) {
      ASSERT_EQ(k4_scale_min(packed, i).scale, scale[i]);
      ASSERT_EQ(k4_scale_min(packed, i).min, min[i]);
    }
  }
}

TEST(BlockLayout, Q3KScalePackingPlacesBitsAsDescribed) {
  uint8_t biased[16];
  for (int i = 0; i < 16; ++i) biased[i] = static_cast<uint8_t>((i * 13 + 5) & 63);
  uint8_t packed[12];
  pack_q3k_scales(biased, packed);
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? packed[i] & 0xf : packed[i - 8] >> 4;
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    EXPECT_EQ(low | high << 4, biased[i]) << i;
    EXPECT_EQ(q3k_scale(packed, i), biased[i]) << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Dequantizing hand-built blocks

TEST(DequantizeBlock, Q4_0LowNibblesAreFirstHalfAndOffsetIsEight) {
  BlockQ4_0 b;
  b.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const std::vector<float> y = dequantize_block(TensorType::Q4_0, b);
  EXPECT_EQ(y[0], -4.0f);   // q = 0: (0 - 8) * 0.5
  EXPECT_EQ(y[8], 0.0f);    // q = 8 is zero
  EXPECT_EQ(y[15], 3.5f);   // q = 15
  EXPECT_EQ(y[16], 3.5f);   // high nibble of byte 0 is weight 16: q = 15
  EXPECT_EQ(y[31], -4.0f);  // high nibble of byte 15: q = 0
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], ((15 - j) - 8) * 0.5f);
  }
}

TEST(DequantizeBlock, Q4_1AddsMinToScaledNibbles) {
  BlockQ4_1 b;
  b.d = fp32_to_fp16(0.25f);
  b.m = fp32_to_fp16(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const std::vector<float> y = dequantize_block(TensorType::Q4_1, b);
  EXPECT_EQ(y[0], -1.0f);   // 0 * 0.25 - 1
  EXPECT_EQ(y[15], 2.75f);  // 15 * 0.25 - 1
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j * 0.25f - 1.0f);
    EXPECT_EQ(y[j + 16], (15 - j) * 0.25f - 1.0f);
  }
}

TEST(DequantizeBlock, Q5_0FifthBitOfWeightJIsBitJOfQh) {
  BlockQ5_0 b;
  b.d = fp32_to_fp16(2.0f);
  const uint32_t qh = 0x8000'0001u | (1u << 17);  // weights 0, 17 and 31 get the high bit
  std::memcpy(b.qh, &qh, 4);                      // little-endian, as in files
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((j % 16) | ((j + 3) % 16) << 4);
  const std::vector<float> y = dequantize_block(TensorType::Q5_0, b);
  EXPECT_EQ(y[0], (16 + 0 - 16) * 2.0f);   // q = 16: zero
  EXPECT_EQ(y[1], (1 - 16) * 2.0f);        // no high bit
  EXPECT_EQ(y[17], (16 + 4 - 16) * 2.0f);  // high nibble of byte 1 is 4, high bit set
  EXPECT_EQ(y[31], (16 + 2 - 16) * 2.0f);  // high nibble of byte 15 is (15 + 3) % 16 = 2
  for (int g = 0; g < 32; ++g) {
    const int nibble = g < 16 ? g % 16 : ((g - 16) + 3) % 16;
    const int q = nibble | static_cast<int>((qh >> g) & 1u) << 4;
    EXPECT_EQ(y[g], (q - 16) * 2.0f) << g;
  }
}

TEST(DequantizeBlock, Q5_1IsUnsignedWithMin) {
  BlockQ5_1 b;
  b.d = fp32_to_fp16(0.5f);
  b.m = fp32_to_fp16(-3.0f);
  const uint32_t qh = 0xf0f0'0ff0u;
  std::memcpy(b.qh, &qh, 4);
  const std::vector<uint8_t> qs = pattern_bytes(16, 11);
  std::memcpy(b.qs, qs.data(), 16);
  const std::vector<float> y = dequantize_block(TensorType::Q5_1, b);
  for (int g = 0; g < 32; ++g) {
    const int nibble = g < 16 ? qs[g] & 0xf : qs[g - 16] >> 4;
    const int q = nibble | static_cast<int>((qh >> g) & 1u) << 4;
    EXPECT_EQ(y[g], q * 0.5f - 3.0f) << g;
  }
}

TEST(DequantizeBlock, Q8_0ScalesSignedBytesInOrder) {
  BlockQ8_0 b;
  b.d = fp32_to_fp16(0.125f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
  const std::vector<float> y = dequantize_block(TensorType::Q8_0, b);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[31], 15.0f);
}

TEST(DequantizeBlock, Q2KMatchesFormatDescription) {
  BlockQ2_K b;
  b.d = fp32_to_fp16(0.5f);
  b.dmin = fp32_to_fp16(0.25f);
  const std::vector<uint8_t> scales = pattern_bytes(16, 1), qs = pattern_bytes(64, 2);
  std::memcpy(b.scales, scales.data(), 16);
  std::memcpy(b.qs, qs.data(), 64);
  const std::vector<float> y = dequantize_block(TensorType::Q2_K, b);
  for (int g = 0; g < 256; ++g) {
    // Weight g: 128-weight half g / 128; within it, bits 2k..2k+1 of byte l for g = 32k + l.
    const int half = g / 128, k = (g % 128) / 32, l = g % 32;
    const int q = (qs[32 * half + l] >> (2 * k)) & 3;
    const int sub = g / 16;
    const float scale = 0.5f * static_cast<float>(scales[sub] & 0xf);
    const float min = 0.25f * static_cast<float>(scales[sub] >> 4);
    EXPECT_EQ(y[g], scale * static_cast<float>(q) - min) << g;
  }
}

TEST(DequantizeBlock, Q2KSpotValues) {
  BlockQ2_K b = {};
  b.d = fp32_to_fp16(1.0f);
  b.dmin = fp32_to_fp16(0.5f);
  b.scales[0] = 3 | 2 << 4;   // sub-block 0 (weights 0..15): scale 3, min 2
  b.scales[3] = 5 | 0 << 4;   // sub-block 3 (weights 48..63): scale 5, min 0
  b.scales[6] = 7 | 0 << 4;   // sub-block 6 (weights 96..111)
  b.scales[8] = 2 | 1 << 4;   // sub-block 8 (weights 128..143)
  b.scales[9] = 1 | 4 << 4;   // sub-block 9 (weights 144..159)
  b.scales[11] = 4 | 0 << 4;  // sub-block 11 (weights 176..191)
  b.qs[1] = 0b11'00'00'10;    // weight 1 = 2, weight 96 + 1 = 97 (bits 6-7) = 3
  b.qs[16] = 0b00'00'01'00;   // weight 32 + 16 = 48 (bits 2-3) = 1
  b.qs[32] = 0b00'00'00'01;   // second half, byte 0: weight 128 = 1
  b.qs[48] = 0b00'00'11'00;   // second half, byte 16: weight 128 + 32 + 16 = 176 = 3
  const std::vector<float> y = dequantize_block(TensorType::Q2_K, b);
  EXPECT_EQ(y[1], 3.0f * 2 - 1.0f);  // d * 3 * 2 - dmin * 2
  EXPECT_EQ(y[0], -1.0f);            // q = 0 leaves - dmin * min
  EXPECT_EQ(y[48], 5.0f * 1);
  EXPECT_EQ(y[97], 7.0f * 3);
  EXPECT_EQ(y[128], 2.0f * 1 - 0.5f);
  EXPECT_EQ(y[176], 4.0f * 3);
  EXPECT_EQ(y[144], -2.0f);  // sub-block 9, q = 0 (byte 16 of the half, bits 0-1): - 0.5 * 4
}

TEST(DequantizeBlock, Q3KMatchesFormatDescription) {
  BlockQ3_K b;
  b.d = fp32_to_fp16(0.125f);
  const std::vector<uint8_t> hmask = pattern_bytes(32, 3), qs = pattern_bytes(64, 4),
                             scales = pattern_bytes(12, 5);
  std::memcpy(b.hmask, hmask.data(), 32);
  std::memcpy(b.qs, qs.data(), 64);
  std::memcpy(b.scales, scales.data(), 12);
  const std::vector<float> y = dequantize_block(TensorType::Q3_K, b);
  for (int g = 0; g < 256; ++g) {
    const int sub = g / 16;
    const int low4 = sub < 8 ? scales[sub] & 0xf : scales[sub - 8] >> 4;
    const int high2 = (scales[8 + sub % 4] >> (2 * (sub / 4))) & 3;
    const int scale = (low4 | high2 << 4) - 32;
    const int half = g / 128, k = (g % 128) / 32, l = g % 32;
    const int low2 = (qs[32 * half + l] >> (2 * k)) & 3;
    const bool high_bit = (hmask[l] >> (g / 32)) & 1;  // bit plane g / 32 of byte g % 32
    const int q = low2 - (high_bit ? 0 : 4);
    EXPECT_EQ(y[g], 0.125f * static_cast<float>(scale) * static_cast<float>(q)) << g;
  }
}

TEST(DequantizeBlock, Q3KSpotValuesShowOffsetAndBitPlanes) {
  BlockQ3_K b = {};
  b.d = fp32_to_fp16(1.0f);
  uint8_t biased[16];
  for (int i = 0; i < 16; ++i) biased[i] = 32;  // scale 0
  biased[0] = 32 + 2;                           // weights 0..15: scale 2
  biased[2] = 32 - 3;                           // weights 32..47: scale -3
  biased[15] = 63;                              // weights 240..255: scale 31
  pack_q3k_scales(biased, b.scales);
  b.hmask[0] = 0x01;   // weight 0 has its high bit: q = low2
  b.qs[0] = 0x03;      // weight 0: low2 = 3 -> q = 3; weight 32 (bits 2-3): low2 = 0, no high bit
  b.qs[63] = 0xc0;     // second half byte 31, bits 6-7: weight 128 + 96 + 31 = 255, low2 = 3
  b.hmask[31] = 0x80;  // bit plane 7 of byte 31: weight 255 has its high bit
  const std::vector<float> y = dequantize_block(TensorType::Q3_K, b);
  EXPECT_EQ(y[0], 2.0f * 3);     // scale 2, q = 3
  EXPECT_EQ(y[1], 2.0f * -4);    // low2 = 0 and no high bit: q = -4
  EXPECT_EQ(y[32], -3.0f * -4);  // scale -3, q = -4
  EXPECT_EQ(y[255], 31.0f * 3);  // scale 31, q = 3
  EXPECT_EQ(y[254], 31.0f * -4);
}

// Packs 8 scales and mins the way the Q4_K/Q5_K description says, independently of
// pack_k4_scales_mins.
void pack_k4_by_hand(const int scale[8], const int min[8], uint8_t out[12]) {
  std::memset(out, 0, 12);
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>(scale[i]);
    out[i + 4] = static_cast<uint8_t>(min[i]);
  }
  for (int i = 4; i < 8; ++i) {
    out[i + 4] = static_cast<uint8_t>((scale[i] & 0xf) | (min[i] & 0xf) << 4);
    out[i - 4] |= static_cast<uint8_t>((scale[i] >> 4) << 6);
    out[i] |= static_cast<uint8_t>((min[i] >> 4) << 6);
  }
}

TEST(DequantizeBlock, Q4KMatchesFormatDescription) {
  BlockQ4_K b;
  b.d = fp32_to_fp16(0.5f);
  b.dmin = fp32_to_fp16(0.25f);
  const int scale[8] = {1, 17, 33, 63, 2, 40, 19, 60};
  const int min[8] = {0, 5, 62, 31, 48, 7, 16, 63};
  pack_k4_by_hand(scale, min, b.scales);
  const std::vector<uint8_t> qs = pattern_bytes(128, 6);
  std::memcpy(b.qs, qs.data(), 128);
  const std::vector<float> y = dequantize_block(TensorType::Q4_K, b);
  for (int g = 0; g < 256; ++g) {
    // Sub-block s = g / 32 lives in 32-byte chunk s / 2: low nibbles if s is even, else high.
    const int s = g / 32, l = g % 32;
    const uint8_t byte = qs[32 * (s / 2) + l];
    const int q = s % 2 == 0 ? byte & 0xf : byte >> 4;
    const float expected = (0.5f * static_cast<float>(scale[s])) * static_cast<float>(q) -
                           (0.25f * static_cast<float>(min[s]));
    EXPECT_EQ(y[g], expected) << g;
  }
}

TEST(DequantizeBlock, Q4KSpotValues) {
  BlockQ4_K b = {};
  b.d = fp32_to_fp16(1.0f);
  b.dmin = fp32_to_fp16(1.0f);
  const int scale[8] = {2, 3, 0, 0, 0, 0, 0, 50};
  const int min[8] = {1, 0, 0, 0, 0, 0, 0, 20};
  pack_k4_by_hand(scale, min, b.scales);
  b.qs[8] = 0x5a;    // weight 8 (sub-block 0) = 10, weight 40 (sub-block 1) = 5
  b.qs[127] = 0xf0;  // weight 223 (sub-block 6) = 0, weight 255 (sub-block 7) = 15
  const std::vector<float> y = dequantize_block(TensorType::Q4_K, b);
  EXPECT_EQ(y[8], 2.0f * 10 - 1);
  EXPECT_EQ(y[40], 3.0f * 5);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[255], 50.0f * 15 - 20);
  EXPECT_EQ(y[224], -20.0f);
}

TEST(DequantizeBlock, Q5KMatchesFormatDescription) {
  BlockQ5_K b;
  b.d = fp32_to_fp16(0.25f);
  b.dmin = fp32_to_fp16(0.5f);
  const int scale[8] = {63, 0, 21, 42, 9, 18, 36, 1};
  const int min[8] = {2, 61, 0, 33, 15, 47, 5, 58};
  pack_k4_by_hand(scale, min, b.scales);
  const std::vector<uint8_t> qs = pattern_bytes(128, 7), qh = pattern_bytes(32, 8);
  std::memcpy(b.qs, qs.data(), 128);
  std::memcpy(b.qh, qh.data(), 32);
  const std::vector<float> y = dequantize_block(TensorType::Q5_K, b);
  for (int g = 0; g < 256; ++g) {
    const int s = g / 32, l = g % 32;
    const uint8_t byte = qs[32 * (s / 2) + l];
    const int low = s % 2 == 0 ? byte & 0xf : byte >> 4;
    const int q = low | ((qh[l] >> s) & 1) << 4;  // bit s of qh[l] is the fifth bit
    const float expected = (0.25f * static_cast<float>(scale[s])) * static_cast<float>(q) -
                           (0.5f * static_cast<float>(min[s]));
    EXPECT_EQ(y[g], expected) << g;
  }
}

TEST(DequantizeBlock, Q6KMatchesFormatDescription) {
  BlockQ6_K b;
  b.d = fp32_to_fp16(0.0625f);
  const std::vector<uint8_t> ql = pattern_bytes(128, 9), qh = pattern_bytes(64, 10),
                             scales = pattern_bytes(16, 12);
  std::memcpy(b.ql, ql.data(), 128);
  std::memcpy(b.qh, qh.data(), 64);
  std::memcpy(b.scales, scales.data(), 16);
  const std::vector<float> y = dequantize_block(TensorType::Q6_K, b);
  for (int g = 0; g < 256; ++g) {
    // In half h, weight 32k + l: low 4 bits from ql[64h + l] (k = 0, 2) or ql[64h + 32 + l]
    // (k = 1, 3), low nibble for k < 2 and high for k >= 2; high 2 bits at 2k of qh[32h + l].
    const int h = g / 128, k = (g % 128) / 32, l = g % 32;
    const uint8_t low_byte = ql[64 * h + (k % 2) * 32 + l];
    const int low = k < 2 ? low_byte & 0xf : low_byte >> 4;
    const int high = (qh[32 * h + l] >> (2 * k)) & 3;
    const int q = (low | high << 4) - 32;
    const float scale = static_cast<float>(static_cast<int8_t>(scales[g / 16]));
    EXPECT_EQ(y[g], 0.0625f * scale * static_cast<float>(q)) << g;
  }
}

TEST(DequantizeBlock, Q6KSpotValuesShowSignedScaleAndOffset) {
  BlockQ6_K b = {};
  b.d = fp32_to_fp16(1.0f);
  b.scales[0] = -2;
  b.scales[5] = 3;            // weights 80..95: half 0, k = 2
  b.scales[15] = 1;           // weights 240..255
  b.ql[0] = 0x21;             // weight 0: low 1; weight 64 (k = 2): low 2
  b.qh[0] = 0x03;             // weight 0: high 2 bits = 3 -> q = 1 | 48 = 49
  b.ql[64 + 32 + 31] = 0xf0;  // half 1, byte 63: weight 128 + 96 + 31 = 255 has low 15
  b.qh[32 + 31] = 0xc0;       // its high bits (6-7) = 3 -> q = 63
  b.ql[20] = 0x30;            // weight 84 (k = 2, l = 20): low 3, high 0 -> q = 3
  const std::vector<float> y = dequantize_block(TensorType::Q6_K, b);
  EXPECT_EQ(y[0], -2.0f * (49 - 32));
  EXPECT_EQ(y[1], -2.0f * -32);  // all-zero bits: q - 32 = -32
  EXPECT_EQ(y[255], 1.0f * 31);
  EXPECT_EQ(y[84], 3.0f * (3 - 32));
}

TEST(DequantizeBlock, RowOfSeveralBlocksDecodesEachInOrder) {
  BlockQ8_0 blocks[3];
  for (int b = 0; b < 3; ++b) {
    blocks[b].d = fp32_to_fp16(static_cast<float>(b + 1));
    for (int j = 0; j < 32; ++j) blocks[b].qs[j] = static_cast<int8_t>(j);
  }
  std::vector<float> y(96);
  dequantize_row(TensorType::Q8_0, blocks, y.data(), 96);
  for (int i = 0; i < 96; ++i) EXPECT_EQ(y[i], static_cast<float>((i / 32 + 1) * (i % 32)));
}

// ---------------------------------------------------------------------------------------------
// Exact quantization of the round-to-nearest types

TEST(QuantizeExact, Q8_0ScaleIsAbsMaxOver127AndRoundsHalfAwayFromZero) {
  // Multiples of 0.5 with absmax 63.5: d = 0.5 exactly, so q = 2x.
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = 0.5f * static_cast<float>(j * 4 - 64);
  x[5] = 63.5f;
  BlockQ8_0 b;
  quantize_row(TensorType::Q8_0, x, &b, 32);
  EXPECT_EQ(b.d, 0x3800);  // 0.5
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.qs[j], j == 5 ? 127 : j * 4 - 64) << j;

  // absmax 1: d = 1/127, stored as half 0x2008; q = round(127 x).
  float y[32] = {};
  y[0] = 1.0f;
  y[1] = 0.3f;    // 38.1 -> 38
  y[2] = -0.26f;  // -33.02 -> -33
  y[3] = -1.0f;   // -127
  y[4] = 0.004f;  // 0.508 -> 1
  quantize_row(TensorType::Q8_0, y, &b, 32);
  EXPECT_EQ(b.d, 0x2008);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 38);
  EXPECT_EQ(b.qs[2], -33);
  EXPECT_EQ(b.qs[3], -127);
  EXPECT_EQ(b.qs[4], 1);
  EXPECT_EQ(b.qs[5], 0);
}

TEST(QuantizeExact, Q4_0MapsSignedMaxToLevelZero) {
  // The largest magnitude is -8: d = -8 / -8 = 1, q = min(15, trunc(x + 8.5)).
  float x[32] = {};
  x[0] = -8.0f;   // q = 0
  x[1] = -7.6f;   // trunc(0.9) = 0
  x[2] = 0.49f;   // trunc(8.99) = 8
  x[3] = 0.5f;    // trunc(9.0) = 9
  x[4] = 7.0f;    // 15
  x[5] = 7.4f;    // trunc(15.9) = 15
  x[16] = -3.0f;  // 5, in the high nibble of byte 0
  x[31] = 2.2f;   // trunc(10.7) = 10, high nibble of byte 15
  BlockQ4_0 b;
  quantize_row(TensorType::Q4_0, x, &b, 32);
  EXPECT_EQ(b.d, 0x3c00);  // 1.0
  EXPECT_EQ(b.qs[0], 0x50);
  EXPECT_EQ(b.qs[1], 0x80);  // weight 1 = 0, weight 17 = 0.0 -> 8
  EXPECT_EQ(b.qs[2], 0x88);
  EXPECT_EQ(b.qs[3], 0x89);
  EXPECT_EQ(b.qs[4], 0x8f);
  EXPECT_EQ(b.qs[5], 0x8f);
  EXPECT_EQ(b.qs[15], 0xa8);

  // With a positive signed max the scale is negative: x = 8 gives d = -1 and level 0, and -7.9
  // needs level 16, which clamps to 15 (-7 after dequantizing).
  float y[32] = {};
  y[0] = 8.0f;
  y[1] = -7.9f;
  quantize_row(TensorType::Q4_0, y, &b, 32);
  EXPECT_EQ(b.d, 0xbc00);  // -1.0
  EXPECT_EQ(b.qs[0] & 0xf, 0);
  EXPECT_EQ(b.qs[1] & 0xf, 15);
  float back[32];
  dequantize_row(TensorType::Q4_0, &b, back, 32);
  EXPECT_EQ(back[0], 8.0f);
  EXPECT_EQ(back[1], -7.0f);
}

TEST(QuantizeExact, Q4_1AndQ5_1SpanMinToMax) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = -1.0f + 0.125f * static_cast<float>(j % 16);  // -1 .. 0.875
  BlockQ4_1 b4;
  quantize_row(TensorType::Q4_1, x, &b4, 32);
  EXPECT_EQ(b4.m, fp32_to_fp16(-1.0f));
  EXPECT_EQ(b4.d, fp32_to_fp16(1.875f / 15));
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b4.qs[j], j | j << 4) << j;

  BlockQ5_1 b5;
  quantize_row(TensorType::Q5_1, x, &b5, 32);
  EXPECT_EQ(b5.m, fp32_to_fp16(-1.0f));
  EXPECT_EQ(b5.d, fp32_to_fp16(1.875f / 31));
  // x = -1 + 0.125 k is level 31 k / 15 rounded: k = 15 -> 31 (fifth bit set).
  EXPECT_EQ(b5.qs[15] & 0xf, 31 & 0xf);
  uint32_t qh;
  std::memcpy(&qh, b5.qh, 4);
  EXPECT_EQ((qh >> 15) & 1u, 1u);
  EXPECT_EQ(qh & 1u, 0u);
}

TEST(QuantizeExact, Q5_0UsesSixteenLevelsEachSide) {
  float x[32] = {};
  x[0] = -16.0f;  // d = 1, q = 0
  x[1] = 15.0f;   // q = 31: low nibble 15, fifth bit set
  x[20] = 1.0f;   // q = 17: fifth bit 20 set
  BlockQ5_0 b;
  quantize_row(TensorType::Q5_0, x, &b, 32);
  EXPECT_EQ(b.d, 0x3c00);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  EXPECT_EQ(b.qs[0] & 0xf, 0);
  EXPECT_EQ(b.qs[1] & 0xf, 15);
  EXPECT_EQ(b.qs[4] >> 4, 1);   // weight 20 is the high nibble of byte 4
  EXPECT_EQ(qh, 0xffff'fffeu);  // zeros are level 16, so every weight but 0 has the fifth bit
}

TEST(QuantizeExact, Q8_1StoresScaledSumOfQuants) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = std::sin(0.3f * static_cast<float>(i)) * 2.0f;
  BlockQ8_1 b1[2];
  BlockQ8_0 b0[2];
  quantize_row(TensorType::Q8_1, x.data(), b1, 64);
  quantize_row(TensorType::Q8_0, x.data(), b0, 64);
  for (int b = 0; b < 2; ++b) {
    EXPECT_EQ(b1[b].d, b0[b].d);
    EXPECT_EQ(std::memcmp(b1[b].qs, b0[b].qs, 32), 0);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += b1[b].qs[j];
    // s is the sum times the unrounded d, then rounded to half.
    const float d = fp16_to_fp32(b1[b].d);
    EXPECT_NEAR(fp16_to_fp32(b1[b].s), static_cast<float>(sum) * d,
                std::fabs(static_cast<float>(sum) * d) * 2e-3f + 1e-6f);
  }
}

TEST(QuantizeExact, Q8_KMapsLargestMagnitudeToMinus127AndSumsGroupsOf16) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = 0.01f * static_cast<float>((i * 37) % 101 - 50);
  x[77] = 2.54f;  // the largest magnitude: -127 / 2.54 = -50 per unit
  BlockQ8_K b;
  quantize_row(TensorType::Q8_K, x.data(), &b, 256);
  EXPECT_EQ(b.qs[77], -127);
  EXPECT_FLOAT_EQ(b.d, 2.54f / -127.0f);
  for (int i = 0; i < 256; ++i) {
    ASSERT_EQ(b.qs[i], static_cast<int>(std::nearbyint(x[i] * (-127.0f / 2.54f)))) << i;
  }
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
    EXPECT_EQ(b.bsums[g], sum) << g;
  }
}

// ---------------------------------------------------------------------------------------------
// Round trips

// Gaussian weights with a heavier tail (every 97th weight 8x larger), like a real layer.
std::vector<float> layer_like_weights(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  for (int64_t i = 0; i < n; i += 97) x[static_cast<size_t>(i)] *= 8.0f;
  return x;
}

// RMS of dequantize(quantize(x)) - x over the RMS of x.
double relative_rms_error(TensorType type, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_size(type, n));
  std::vector<float> y(x.size());
  quantize_row(type, x.data(), q.data(), n);
  dequantize_row(type, q.data(), y.data(), n);
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

TEST(QuantizeRoundTrip, ErrorStaysWithinEachTypesBudget) {
  // Bounds sit about 25% above what these quantizers reach on this data; the K-quant bounds
  // are also below what plain round-to-nearest reaches at the same bits per weight.
  struct Budget {
    TensorType type;
    double max_relative_rms;
  };
  const Budget budgets[] = {
      {TensorType::F32, 0.0},    {TensorType::F16, 3e-4},   {TensorType::BF16, 2.5e-3},
      {TensorType::Q8_0, 0.012}, {TensorType::Q5_1, 0.06},  {TensorType::Q5_0, 0.09},
      {TensorType::Q4_1, 0.125}, {TensorType::Q4_0, 0.18},  {TensorType::Q6_K, 0.034},
      {TensorType::Q5_K, 0.056}, {TensorType::Q4_K, 0.115}, {TensorType::Q3_K, 0.24},
      {TensorType::Q2_K, 0.36},
  };
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::vector<float> x = layer_like_weights(256 * 16, seed);
    for (const Budget& b : budgets) {
      SCOPED_TRACE(std::string(type_name(b.type)) + " seed " + std::to_string(seed));
      EXPECT_LE(relative_rms_error(b.type, x), b.max_relative_rms);
    }
  }
}

TEST(QuantizeRoundTrip, KQuantErrorFallsAsBitsRise) {
  const std::vector<float> x = layer_like_weights(256 * 32, 4);
  const double q2 = relative_rms_error(TensorType::Q2_K, x);
  const double q3 = relative_rms_error(TensorType::Q3_K, x);
  const double q4 = relative_rms_error(TensorType::Q4_K, x);
  const double q5 = relative_rms_error(TensorType::Q5_K, x);
  const double q6 = relative_rms_error(TensorType::Q6_K, x);
  EXPECT_LT(q3, q2);
  EXPECT_LT(q4, q3);
  EXPECT_LT(q5, q4);
  EXPECT_LT(q6, q5);
}

TEST(QuantizeRoundTrip, KQuantsBeatRoundToNearestAtTheSameBitsPerWeight) {
  // Q4_K and Q4_0 both spend 4.5 bits per weight, Q5_K and Q5_0 5.5: the searched scales and
  // the second level of scales must pay off.
  const std::vector<float> x = layer_like_weights(256 * 32, 5);
  EXPECT_LT(relative_rms_error(TensorType::Q4_K, x), 0.8 * relative_rms_error(TensorType::Q4_0, x));
  EXPECT_LT(relative_rms_error(TensorType::Q5_K, x), 0.8 * relative_rms_error(TensorType::Q5_0, x));
}

TEST(QuantizeRoundTrip, ZeroRowsStayExactlyZero) {
  const TensorType types[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                              TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K,
                              TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                              TensorType::Q6_K, TensorType::F16,  TensorType::BF16};
  const std::vector<float> zeros(512, 0.0f);
  for (TensorType t : types) {
    SCOPED_TRACE(std::string(type_name(t)));
    std::vector<uint8_t> q(row_size(t, 512), 0xcd);
    std::vector<float> y(512, 1.0f);
    quantize_row(t, zeros.data(), q.data(), 512);
    dequantize_row(t, q.data(), y.data(), 512);
    for (float v : y) ASSERT_EQ(v, 0.0f);
  }
}

TEST(QuantizeRoundTrip, OneSignedAndConstantBlocksStayClose) {
  // All-positive data (the min is clamped to 0 in the affine K types), all-negative data and a
  // constant block exercise the edges of the scale searches.
  const TensorType types[] = {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                              TensorType::Q5_K, TensorType::Q6_K};
  const double budgets[] = {0.36, 0.24, 0.115, 0.056, 0.034};
  std::vector<float> positive = layer_like_weights(512, 6), negative(512), constant(512, 0.75f);
  for (size_t i = 0; i < positive.size(); ++i) {
    positive[i] = std::fabs(positive[i]) + 0.01f;
    negative[i] = -positive[i];
  }
  for (int k = 0; k < 5; ++k) {
    SCOPED_TRACE(std::string(type_name(types[k])));
    EXPECT_LE(relative_rms_error(types[k], positive), budgets[k]);
    EXPECT_LE(relative_rms_error(types[k], negative), budgets[k]);
    EXPECT_LE(relative_rms_error(types[k], constant), budgets[k]);
  }
}

// ---------------------------------------------------------------------------------------------
// Float rows

TEST(QuantizeFloatRows, F16RowHasExpectedBitsAndDecodesExactly) {
  const float x[4] = {1.0f, -2.0f, 0.5f, 65504.0f};
  uint16_t h[4];
  quantize_row(TensorType::F16, x, h, 4);
  EXPECT_EQ(h[0], 0x3c00);
  EXPECT_EQ(h[1], 0xc000);
  EXPECT_EQ(h[2], 0x3800);
  EXPECT_EQ(h[3], 0x7bff);
  float y[4];
  dequantize_row(TensorType::F16, h, y, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], x[i]);
}

TEST(QuantizeFloatRows, Bf16RowKeepsTheTop16BitsRounded) {
  const float x[4] = {1.0f, -2.0f, 3.140625f, bits_to_float(0x3f818000u)};  // last: a tie
  uint16_t h[4];
  quantize_row(TensorType::BF16, x, h, 4);
  EXPECT_EQ(h[0], 0x3f80);
  EXPECT_EQ(h[1], 0xc000);
  EXPECT_EQ(h[2], 0x4049);
  EXPECT_EQ(h[3], 0x3f82);  // tie rounds to even
  float y[4];
  dequantize_row(TensorType::BF16, h, y, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[2], 3.140625f);
  EXPECT_EQ(y[3], bits_to_float(0x3f820000u));
}

TEST(QuantizeFloatRows, F32RowIsCopied) {
  const float x[3] = {1.5f, -0.0f, 1e-30f};
  float q[3], y[3];
  quantize_row(TensorType::F32, x, q, 3);
  dequantize_row(TensorType::F32, q, y, 3);
  EXPECT_EQ(std::memcmp(x, y, sizeof x), 0);
}

}  // namespace
}  // namespace cove::tensor
