// IEEE half precision (F16) and bfloat16 (BF16) conversions, scalar and exact.
//
// fp32_to_fp16 rounds to nearest even and keeps infinities and NaNs, as hardware F16C does, so
// a tensor quantized here is bit-identical to one made by the reference tools.
#pragma once

#include <cstdint>
#include <cstring>

namespace cove {

inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));  // inf/nan
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);  // signed zero
    // Subnormal: value = mantissa * 2^-24.
    float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return sign ? -magnitude : magnitude;
  }
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t bits = float_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits >= 0x7f800000u) {  // inf or nan (keep nan quiet and non-zero)
    return sign | 0x7c00u | (abs_bits > 0x7f800000u ? 0x200u : 0u);
  }
  if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: overflow to inf
  if (abs_bits < 0x38800000u) {                        // below the smallest normal half (2^-14)
    // Subnormal half: round abs * 2^24 to nearest even integer.
    float magnitude = bits_to_float(abs_bits) * 16777216.0f;
    // Adding 2^23 forces rounding to an integer with the FPU's round-to-nearest-even.
    float rounded = (magnitude + 8388608.0f) - 8388608.0f;
    return sign | static_cast<uint16_t>(rounded);
  }
  // Normal: drop 13 mantissa bits with round to nearest even.
  uint32_t rebased = abs_bits - (112u << 23);
  uint32_t round_bit = 1u << 12;
  uint32_t lower = rebased & 0x1fffu;
  uint32_t half_bits = rebased >> 13;
  if (lower > round_bit || (lower == round_bit && (half_bits & 1u))) half_bits += 1;
  return sign | static_cast<uint16_t>(half_bits);
}

inline float bf16_to_fp32(uint16_t b) { return bits_to_float(static_cast<uint32_t>(b) << 16); }

// Round to nearest even; NaNs stay NaN (quiet bit forced), as the reference converter does.
inline uint16_t fp32_to_bf16(float f) {
  uint32_t bits = float_to_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 64u);
  return static_cast<uint16_t>((bits + (0x7fffu + ((bits >> 16) & 1u))) >> 16);
}

}  // namespace cove
