#include "tensor/quantize.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/half.h"
#include "tensor/blocks.h"

namespace cove::tensor {
namespace {

// Nearest integer with ties to even, as the reference tools round scales and K-quant levels.
// Adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits (the FPU rounds to
// nearest even); this is several times faster than std::nearbyint, which is a libm call on
// baseline x86-64, and the K-quant searches call it for every weight of every candidate.
// Input beyond +-2^22 saturates (NaN gives an arbitrary value; callers clamp).
inline int nearest_int(float x) {
  constexpr float kLimit = 4194304.0f;  // 2^22: far beyond any level or code
  const float clamped = std::min(std::max(x, -kLimit), kLimit);
  const uint32_t bits = float_to_bits(clamped + 12582912.0f);
  return static_cast<int>(bits & 0x007fffffu) - 0x00400000;
}

// std::clamp for ints, written as selects so the hot loops stay branch-free.
inline int clamp_int(int v, int lo, int hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

// Largest |x| of x[0..n) and the signed value that has it (the first one on a tie).
struct SignedMax {
  float abs_max = 0.0f;
  float value = 0.0f;
};
SignedMax signed_max(const float* x, int n) {
  SignedMax m;
  for (int i = 0; i < n; ++i) {
    if (m.abs_max < std::fabs(x[i])) {
      m.abs_max = std::fabs(x[i]);
      m.value = x[i];
    }
  }
  return m;
}

void store_u32_le(uint32_t v, uint8_t out[4]) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

// ---------------------------------------------------------------------------------------------
// 32-weight blocks: round to nearest, bit-exact with the reference tools. The odd-looking
// constants (x * id + 8.5 truncated) are theirs: a symmetric type maps the largest-magnitude
// weight to the most negative level, which has one more step than the positive side.

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kBlockWeights) {
    const float d = signed_max(x, kBlockWeights).value / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int low = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int high = std::min(15, static_cast<int>(x[j + kBlockWeights / 2] * id + 8.5f));
      y[b].qs[j] = static_cast<uint8_t>(low | (high << 4));
    }
  }
}

void min_max(const float* x, int n, float* lo, float* hi) {
  *lo = FLT_MAX;
  *hi = -FLT_MAX;
  for (int i = 0; i < n; ++i) {
    *lo = std::min(*lo, x[i]);
    *hi = std::max(*hi, x[i]);
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kBlockWeights) {
    float lo, hi;
    min_max(x, kBlockWeights, &lo, &hi);
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(lo);
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int low = std::min(15, static_cast<int>((x[j] - lo) * id + 0.5f));
      const int high = std::min(15, static_cast<int>((x[j + kBlockWeights / 2] - lo) * id + 0.5f));
      y[b].qs[j] = static_cast<uint8_t>(low | (high << 4));
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kBlockWeights) {
    const float d = signed_max(x, kBlockWeights).value / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int k = j + kBlockWeights / 2;
      const int low = std::min(31, static_cast<int>(x[j] * id + 16.5f));
      const int high = std::min(31, static_cast<int>(x[k] * id + 16.5f));
      y[b].qs[j] = static_cast<uint8_t>((low & 0x0f) | ((high & 0x0f) << 4));
      qh |= static_cast<uint32_t>(low >> 4) << j;
      qh |= static_cast<uint32_t>(high >> 4) << k;
    }
    store_u32_le(qh, y[b].qh);
  }
}

void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kBlockWeights) {
    float lo, hi;
    min_max(x, kBlockWeights, &lo, &hi);
    const float d = (hi - lo) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(lo);
    uint32_t qh = 0;
    for (int j = 0; j < kBlockWeights / 2; ++j) {
      const int k = j + kBlockWeights / 2;
      const int low = std::min(31, static_cast<int>((x[j] - lo) * id + 0.5f));
      const int high = std::min(31, static_cast<int>((x[k] - lo) * id + 0.5f));
      y[b].qs[j] = static_cast<uint8_t>((low & 0x0f) | ((high & 0x0f) << 4));
      qh |= static_cast<uint32_t>(low >> 4) << j;
      qh |= static_cast<uint32_t>(high >> 4) << k;
    }
    store_u32_le(qh, y[b].qh);
  }
}

// Q8_0 and Q8_1 share the quants: d = max|x| / 127, q = round(x / d) (half away from zero).
float quantize_8bit(const float* x, int8_t qs[kBlockWeights]) {
  const float d = signed_max(x, kBlockWeights).abs_max / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlockWeights; ++j) qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  return d;
}

void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kBlockWeights) {
    y[b].d = fp32_to_fp16(quantize_8bit(x, y[b].qs));
  }
}

void quantize_q8_1(const float* x, BlockQ8_1* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kBlockWeights) {
    const float d = quantize_8bit(x, y[b].qs);
    int sum = 0;
    for (int j = 0; j < kBlockWeights; ++j) sum += y[b].qs[j];
    y[b].d = fp32_to_fp16(d);
    y[b].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

// Q8_K maps the largest-magnitude weight to -127 (not -128): SIMD dot products take |q| with
// 8-bit sign tricks, which overflow on -128.
void quantize_q8_k(const float* x, BlockQ8_K* y, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kSuperWeights) {
    const SignedMax m = signed_max(x, kSuperWeights);
    if (m.abs_max == 0.0f) {
      std::memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    const float iscale = -127.0f / m.value;
    for (int j = 0; j < kSuperWeights; ++j) {
      y[b].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    }
    for (int g = 0; g < kSuperWeights / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[b].qs[16 * g + j];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = 1.0f / iscale;
  }
}

// ---------------------------------------------------------------------------------------------
// K super-blocks: searched scales.
//
// Each K type codes a sub-block of weights as either
//   affine:    x ~ scale * q - min,  q in [0, nmax], scale >= 0, min >= 0   (Q2_K, Q4_K, Q5_K)
//   symmetric: x ~ scale * q,        q in [-nmax, nmax - 1]                 (Q3_K, Q6_K)
// and stores the sub-block scales (and mins) as small integer codes times the super-block's d
// (and dmin). Quality is the weighted squared error sum_i w_i (x_i - y_i)^2, where the
// importance w_i grows with |x_i|: the large weights matter most to a layer's output.
//
// Quantizing takes three steps:
//   1. Per sub-block, find the real-valued scale (and min) with the least error: try a grid of
//      candidate step sizes, fit scale and min to each candidate's levels by weighted least
//      squares, then alternate re-picking levels and refitting (two rounds capture nearly all
//      of the gain).
//   2. Pick the super-block scale so the largest sub-block scale gets the largest code, round
//      each sub-block's scale to its code, and move each code by one step where that lowers the
//      error (rounding the scale to the nearest code is not always the best choice).
//   3. Refit the super-block scale by least squares with the codes and levels fixed, redo step 2
//      with it, and keep whichever coding has the lower error (up to two rounds).
//
// Measured against the reference tools' quantizers on the tiny-llama weights, this lowers the
// RMS error by 1-10% per type (most for Q2_K) and the importance-weighted error as well; it
// costs roughly 1,000-1,600 instructions per weight, about twice the reference.

constexpr int kMaxSubBlocks = 16;
constexpr int kMaxSubLength = 32;

// Weighted squared error of coding x[0..n) as scale * q - min with the nearest levels q, which
// it writes to `levels`. y = scale * q - min is exactly what the dequantizer makes.
float code_affine(const float* x, const float* w, int n, int nmax, float scale, float min,
                  uint8_t* levels) {
  const float inv_scale = scale != 0.0f ? 1.0f / scale : 0.0f;
  float error = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int q = clamp_int(nearest_int((x[i] + min) * inv_scale), 0, nmax);
    const float diff = x[i] - (scale * static_cast<float>(q) - min);
    error += w[i] * diff * diff;
    levels[i] = static_cast<uint8_t>(q);
  }
  return error;
}

// Same for x ~ scale * q, q in [-nmax, nmax - 1].
float code_symmetric(const float* x, const float* w, int n, int nmax, float scale, int8_t* levels) {
  const float inv_scale = scale != 0.0f ? 1.0f / scale : 0.0f;
  float error = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int q = clamp_int(nearest_int(x[i] * inv_scale), -nmax, nmax - 1);
    const float diff = x[i] - scale * static_cast<float>(q);
    error += w[i] * diff * diff;
    levels[i] = static_cast<int8_t>(q);
  }
  return error;
}

struct Affine {
  float scale;
  float min;  // subtracted: x ~ scale * q - min
};

// Grid of candidate step sizes for the affine search: the step that maps [lo, hi] onto
// nmax + first + k * delta levels, k = 0..count. A little below nmax clips the extremes, which
// often lowers the error of the rest.
struct AffineGrid {
  float first;
  float delta;
  int count;
};

// Weighted sums over a sub-block's levels l: with them, the least-squares fit of x to l and its
// error are closed-form, so each candidate costs one pass over the weights.
struct LevelSums {
  double l = 0, ll = 0, xl = 0;
};

// Sums for the levels l = clamp(nearest(iscale * (x - shift)), lo, hi).
LevelSums level_sums(const float* x, const float* w, int n, float iscale, float shift, int lo,
                     int hi) {
  float sum_l = 0.0f, sum_ll = 0.0f, sum_xl = 0.0f;  // at most 32 terms: float is enough
  for (int i = 0; i < n; ++i) {
    const float l = static_cast<float>(clamp_int(nearest_int(iscale * (x[i] - shift)), lo, hi));
    sum_l += w[i] * l;
    sum_ll += w[i] * l * l;
    sum_xl += w[i] * x[i] * l;
  }
  return {sum_l, sum_ll, sum_xl};
}

// Step 1 for an affine sub-block.
Affine fit_affine(const float* x, const float* w, int n, int nmax, AffineGrid grid) {
  float lo = x[0], hi = x[0];
  double sw = 0, sx = 0, sxx = 0;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sw += w[i];
    sx += w[i] * x[i];
    sxx += w[i] * x[i] * x[i];
  }
  lo = std::min(lo, 0.0f);  // the offset can only pull weights down (min >= 0)
  if (hi == lo) return {0.0f, -lo};

  // Weighted squared error of x ~ s * l + o, expanded.
  auto error_of = [&](const LevelSums& t, double s, double o) {
    return sxx - 2 * s * t.xl - 2 * o * sx + s * s * t.ll + 2 * s * o * t.l + o * o * sw;
  };
  const float scale0 = (hi - lo) / static_cast<float>(nmax);
  Affine best = {scale0, -lo};
  double best_error = error_of(level_sums(x, w, n, 1.0f / scale0, lo, 0, nmax), scale0, lo);

  // Least-squares scale and offset for the levels behind `t`; kept if they beat the best.
  auto refit = [&](const LevelSums& t) {
    const double det = sw * t.ll - t.l * t.l;
    if (!(det > 0)) return false;
    double scale = (sw * t.xl - sx * t.l) / det;
    double offset = (t.ll * sx - t.l * t.xl) / det;
    if (offset > 0) {  // a positive offset cannot be stored: refit the scale alone
      offset = 0;
      scale = t.xl / t.ll;
    }
    if (!(scale > 0)) return false;
    const double error = error_of(t, scale, offset);
    if (!(error < best_error)) return false;
    best = {static_cast<float>(scale), static_cast<float>(-offset)};
    best_error = error;
    return true;
  };

  for (int k = 0; k <= grid.count; ++k) {
    const float iscale =
        (static_cast<float>(nmax) + grid.first + grid.delta * static_cast<float>(k)) / (hi - lo);
    refit(level_sums(x, w, n, iscale, lo, 0, nmax));
  }
  for (int iteration = 0; iteration < 2; ++iteration) {
    if (!refit(level_sums(x, w, n, 1.0f / best.scale, -best.min, 0, nmax))) break;
  }
  return best;
}

// Step 1 for a symmetric sub-block: returns the scale (its sign is free). For levels l the best
// scale is xl / ll and it lowers the error from sum w x^2 by xl^2 / ll.
float fit_symmetric(const float* x, const float* w, int n, int nmax) {
  const SignedMax m = signed_max(x, n);
  if (m.abs_max < 1e-15f) return 0.0f;

  float best_scale = 0.0f;
  double best_gain = 0;
  auto refit = [&](const LevelSums& t) {
    if (!(t.ll > 0)) return false;
    const double gain = t.xl * t.xl / t.ll;
    if (!(gain > best_gain)) return false;
    best_scale = static_cast<float>(t.xl / t.ll);
    best_gain = gain;
    return true;
  };

  // The largest-magnitude weight goes to level -nmax (the side with one more step), give or
  // take up to one level.
  for (int k = -10; k <= 10; ++k) {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / m.value;
    refit(level_sums(x, w, n, iscale, 0.0f, -nmax, nmax - 1));
  }
  for (int iteration = 0; iteration < 2 && best_scale != 0.0f; ++iteration) {
    if (!refit(level_sums(x, w, n, 1.0f / best_scale, 0.0f, -nmax, nmax - 1))) break;
  }
  return best_scale;
}

// Shape of one affine K type.
struct AffineLayout {
  int n_sub;     // sub-blocks per super-block
  int sub_len;   // weights per sub-block
  int nmax;      // largest level
  int code_max;  // largest scale / min code
  AffineGrid grid;
};

// A super-block coded as affine sub-blocks.
struct AffineCoding {
  uint16_t d_bits = 0, dmin_bits = 0;  // f16 super-block scales
  uint8_t scale_code[kMaxSubBlocks] = {};
  uint8_t min_code[kMaxSubBlocks] = {};
  uint8_t levels[kSuperWeights] = {};
  float error = 0.0f;
};

// Step 2: codes every sub-block against the super-block scales d and dmin. inv_d and inv_dmin
// turn a sub-block's scale and min into codes (the reciprocals of d and dmin, or as the
// reference tools compute them).
void code_affine_super(const float* x, const float* w, const AffineLayout& layout,
                       const Affine* fits, float d, float inv_d, float dmin, float inv_dmin,
                       AffineCoding* out) {
  out->d_bits = fp32_to_fp16(d);
  out->dmin_bits = fp32_to_fp16(dmin);
  const float d16 = fp16_to_fp32(out->d_bits);
  const float dmin16 = fp16_to_fp32(out->dmin_bits);
  out->error = 0.0f;
  uint8_t trial[kMaxSubLength];
  for (int j = 0; j < layout.n_sub; ++j) {
    const float* xj = x + j * layout.sub_len;
    const float* wj = w + j * layout.sub_len;
    const int sc0 = std::clamp(nearest_int(fits[j].scale * inv_d), 0, layout.code_max);
    const int mn0 = std::clamp(nearest_int(fits[j].min * inv_dmin), 0, layout.code_max);
    uint8_t* best_levels = out->levels + j * layout.sub_len;
    float best = code_affine(xj, wj, layout.sub_len, layout.nmax, d16 * static_cast<float>(sc0),
                             dmin16 * static_cast<float>(mn0), best_levels);
    int best_sc = sc0, best_mn = mn0;
    for (int sc = std::max(0, sc0 - 1); sc <= std::min(layout.code_max, sc0 + 1); ++sc) {
      for (int mn = std::max(0, mn0 - 1); mn <= std::min(layout.code_max, mn0 + 1); ++mn) {
        if (sc == sc0 && mn == mn0) continue;
        const float error =
            code_affine(xj, wj, layout.sub_len, layout.nmax, d16 * static_cast<float>(sc),
                        dmin16 * static_cast<float>(mn), trial);
        if (error < best) {
          best = error;
          best_sc = sc;
          best_mn = mn;
          std::memcpy(best_levels, trial, static_cast<size_t>(layout.sub_len));
        }
      }
    }
    out->scale_code[j] = static_cast<uint8_t>(best_sc);
    out->min_code[j] = static_cast<uint8_t>(best_mn);
    out->error += best;
  }
}

// Steps 1-3 for one affine super-block of 256 weights with importance w.
void quantize_affine_super(const float* x, const float* w, const AffineLayout& layout,
                           AffineCoding* best) {
  Affine fits[kMaxSubBlocks];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < layout.n_sub; ++j) {
    fits[j] = fit_affine(x + j * layout.sub_len, w + j * layout.sub_len, layout.sub_len,
                         layout.nmax, layout.grid);
    max_scale = std::max(max_scale, fits[j].scale);
    max_min = std::max(max_min, fits[j].min);
  }
  const float code_max = static_cast<float>(layout.code_max);
  const float inv_d = max_scale > 0.0f ? code_max / max_scale : 0.0f;
  const float inv_dmin = max_min > 0.0f ? code_max / max_min : 0.0f;
  code_affine_super(x, w, layout, fits, max_scale / code_max, inv_d, max_min / code_max, inv_dmin,
                    best);

  for (int round = 0; round < 2; ++round) {
    // Step 3: with codes and levels fixed, x ~ d * a - dmin * b where a = scale_code * level
    // and b = min_code; solve the 2x2 normal equations for d and dmin.
    double saa = 0, sab = 0, sbb = 0, sxa = 0, sxb = 0;
    for (int i = 0; i < kSuperWeights; ++i) {
      const int j = i / layout.sub_len;
      const double a = static_cast<double>(best->scale_code[j]) * best->levels[i];
      const double b = best->min_code[j];
      saa += w[i] * a * a;
      sab += w[i] * a * b;
      sbb += w[i] * b * b;
      sxa += w[i] * x[i] * a;
      sxb += w[i] * x[i] * b;
    }
    double d, dmin;
    const double det = saa * sbb - sab * sab;
    if (sbb == 0.0 && saa > 0.0) {
      d = sxa / saa;
      dmin = fp16_to_fp32(best->dmin_bits);
    } else if (det > 1e-12 * saa * sbb) {
      d = (sxa * sbb - sab * sxb) / det;
      dmin = (sab * sxa - saa * sxb) / det;
    } else {
      break;
    }
    if (!(d > 0.0) || !(dmin >= 0.0)) break;
    AffineCoding candidate;
    code_affine_super(x, w, layout, fits, static_cast<float>(d), static_cast<float>(1.0 / d),
                      static_cast<float>(dmin), dmin > 0.0 ? static_cast<float>(1.0 / dmin) : 0.0f,
                      &candidate);
    if (!(candidate.error < best->error)) break;
    *best = candidate;
  }
}

// Shape of one symmetric K type.
struct SymmetricLayout {
  int n_sub;
  int sub_len;
  int nmax;      // levels in [-nmax, nmax - 1]
  int code_neg;  // scale codes in [-code_neg, code_neg - 1]
};

struct SymmetricCoding {
  uint16_t d_bits = 0;
  int8_t scale_code[kMaxSubBlocks] = {};
  int8_t levels[kSuperWeights] = {};
  float error = 0.0f;
};

void code_symmetric_super(const float* x, const float* w, const SymmetricLayout& layout,
                          const float* fits, float d, float inv_d, SymmetricCoding* out) {
  out->d_bits = fp32_to_fp16(d);
  const float d16 = fp16_to_fp32(out->d_bits);
  out->error = 0.0f;
  int8_t trial[kMaxSubLength];
  const int code_lo = -layout.code_neg, code_hi = layout.code_neg - 1;
  for (int j = 0; j < layout.n_sub; ++j) {
    const float* xj = x + j * layout.sub_len;
    const float* wj = w + j * layout.sub_len;
    const int sc0 = std::clamp(nearest_int(fits[j] * inv_d), code_lo, code_hi);
    int8_t* best_levels = out->levels + j * layout.sub_len;
    float best = code_symmetric(xj, wj, layout.sub_len, layout.nmax, d16 * static_cast<float>(sc0),
                                best_levels);
    int best_sc = sc0;
    for (int sc = std::max(code_lo, sc0 - 1); sc <= std::min(code_hi, sc0 + 1); ++sc) {
      if (sc == sc0) continue;
      const float error =
          code_symmetric(xj, wj, layout.sub_len, layout.nmax, d16 * static_cast<float>(sc), trial);
      if (error < best) {
        best = error;
        best_sc = sc;
        std::memcpy(best_levels, trial, static_cast<size_t>(layout.sub_len));
      }
    }
    out->scale_code[j] = static_cast<int8_t>(best_sc);
    out->error += best;
  }
}

void quantize_symmetric_super(const float* x, const float* w, const SymmetricLayout& layout,
                              SymmetricCoding* best) {
  float fits[kMaxSubBlocks];
  float max_scale = 0.0f;  // the sub-block scale of largest magnitude, signed
  for (int j = 0; j < layout.n_sub; ++j) {
    fits[j] =
        fit_symmetric(x + j * layout.sub_len, w + j * layout.sub_len, layout.sub_len, layout.nmax);
    if (std::fabs(fits[j]) > std::fabs(max_scale)) max_scale = fits[j];
  }
  if (max_scale == 0.0f) {
    *best = SymmetricCoding{};
    return;
  }
  // The largest sub-block scale gets code -code_neg, the side with one more step.
  const float iscale = -static_cast<float>(layout.code_neg) / max_scale;
  code_symmetric_super(x, w, layout, fits, 1.0f / iscale, iscale, best);

  for (int round = 0; round < 2; ++round) {
    // Step 3: x ~ d * scale_code * level; least squares for d.
    double saa = 0, sxa = 0;
    for (int i = 0; i < kSuperWeights; ++i) {
      const double a = static_cast<double>(best->scale_code[i / layout.sub_len]) * best->levels[i];
      saa += w[i] * a * a;
      sxa += w[i] * x[i] * a;
    }
    if (!(saa > 0.0)) break;
    const double d = sxa / saa;
    if (d == 0.0) break;
    SymmetricCoding candidate;
    code_symmetric_super(x, w, layout, fits, static_cast<float>(d), static_cast<float>(1.0 / d),
                         &candidate);
    if (!(candidate.error < best->error)) break;
    *best = candidate;
  }
}

// ---------------------------------------------------------------------------------------------
// Per-type importance and packing. The search grids, and the importance functions of Q4_K and
// Q5_K, are the ones the reference tools settled on by perplexity.

// Q4_K and Q5_K: |x| plus the RMS of its 32-weight sub-block, so small weights still count.
void rms_plus_abs_importance(const float* x, float* w) {
  for (int s = 0; s < kSuperWeights; s += 32) {
    float sum_x2 = 0.0f;
    for (int i = 0; i < 32; ++i) sum_x2 += x[s + i] * x[s + i];
    const float rms = std::sqrt(sum_x2 / 32.0f);
    for (int i = 0; i < 32; ++i) w[s + i] = rms + std::fabs(x[s + i]);
  }
}

// Q2_K, Q3_K and Q6_K: f(x) plus the super-block's mean of f, with f = |x| or x^2. Measured on
// real weights, this lowers both the plain RMS error and the error weighted by f alone compared
// with weighing by f alone (which lets the smallest weights drift).
template <typename F>
void plus_mean_importance(const float* x, float* w, F f) {
  float sum = 0.0f;
  for (int i = 0; i < kSuperWeights; ++i) {
    w[i] = f(x[i]);
    sum += w[i];
  }
  const float mean = sum / static_cast<float>(kSuperWeights);
  for (int i = 0; i < kSuperWeights; ++i) w[i] += mean;
}
float abs_value(float v) {
  return std::fabs(v);
}
float square(float v) {
  return v * v;
}

void quantize_q2_k(const float* x, BlockQ2_K* y, int64_t n_blocks) {
  constexpr AffineLayout kLayout = {16, 16, 3, 15, {-0.5f, 0.1f, 15}};
  float w[kSuperWeights];
  for (int64_t b = 0; b < n_blocks; ++b, x += kSuperWeights) {
    plus_mean_importance(x, w, abs_value);
    AffineCoding c;
    quantize_affine_super(x, w, kLayout, &c);
    BlockQ2_K& out = y[b];
    out.d = c.d_bits;
    out.dmin = c.dmin_bits;
    for (int j = 0; j < 16; ++j) {
      out.scales[j] = static_cast<uint8_t>(c.scale_code[j] | (c.min_code[j] << 4));
    }
    std::memset(out.qs, 0, sizeof out.qs);
    for (int i = 0; i < kSuperWeights; ++i) {  // weight 128h + 32k + l: byte 32h + l, bits 2k
      const int half = i / 128, k = (i % 128) / 32, l = i % 32;
      out.qs[32 * half + l] |= static_cast<uint8_t>(c.levels[i] << (2 * k));
    }
  }
}

void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t n_blocks) {
  constexpr AffineLayout kLayout = {8, 32, 15, 63, {-1.0f, 0.1f, 20}};
  float w[kSuperWeights];
  for (int64_t b = 0; b < n_blocks; ++b, x += kSuperWeights) {
    rms_plus_abs_importance(x, w);
    AffineCoding c;
    quantize_affine_super(x, w, kLayout, &c);
    BlockQ4_K& out = y[b];
    out.d = c.d_bits;
    out.dmin = c.dmin_bits;
    pack_k4_scales_mins(c.scale_code, c.min_code, out.scales);
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t low = c.levels[64 * chunk + l];
        const uint8_t high = c.levels[64 * chunk + 32 + l];
        out.qs[32 * chunk + l] = static_cast<uint8_t>(low | (high << 4));
      }
    }
  }
}

void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t n_blocks) {
  constexpr AffineLayout kLayout = {8, 32, 31, 63, {-0.5f, 0.1f, 15}};
  float w[kSuperWeights];
  for (int64_t b = 0; b < n_blocks; ++b, x += kSuperWeights) {
    rms_plus_abs_importance(x, w);
    AffineCoding c;
    quantize_affine_super(x, w, kLayout, &c);
    BlockQ5_K& out = y[b];
    out.d = c.d_bits;
    out.dmin = c.dmin_bits;
    pack_k4_scales_mins(c.scale_code, c.min_code, out.scales);
    std::memset(out.qh, 0, sizeof out.qh);
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t low = c.levels[64 * chunk + l];
        const uint8_t high = c.levels[64 * chunk + 32 + l];
        out.qs[32 * chunk + l] = static_cast<uint8_t>((low & 0x0f) | ((high & 0x0f) << 4));
      }
    }
    for (int i = 0; i < kSuperWeights; ++i) {  // weight 32s + l: bit s of qh[l]
      out.qh[i % 32] |= static_cast<uint8_t>((c.levels[i] >> 4) << (i / 32));
    }
  }
}

void quantize_q3_k(const float* x, BlockQ3_K* y, int64_t n_blocks) {
  constexpr SymmetricLayout kLayout = {16, 16, 4, 32};
  float w[kSuperWeights];
  for (int64_t b = 0; b < n_blocks; ++b, x += kSuperWeights) {
    plus_mean_importance(x, w, square);
    SymmetricCoding c;
    quantize_symmetric_super(x, w, kLayout, &c);
    BlockQ3_K& out = y[b];
    out.d = c.d_bits;
    uint8_t biased[16];
    for (int j = 0; j < 16; ++j) biased[j] = static_cast<uint8_t>(c.scale_code[j] + 32);
    pack_q3k_scales(biased, out.scales);
    std::memset(out.hmask, 0, sizeof out.hmask);
    std::memset(out.qs, 0, sizeof out.qs);
    for (int i = 0; i < kSuperWeights; ++i) {
      const int q = c.levels[i] + 4;  // 0..7; the third bit set means "no -4"
      const int half = i / 128, k = (i % 128) / 32, l = i % 32;
      out.qs[32 * half + l] |= static_cast<uint8_t>((q & 3) << (2 * k));
      out.hmask[l] |= static_cast<uint8_t>((q >> 2) << (i / 32));
    }
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t n_blocks) {
  constexpr SymmetricLayout kLayout = {16, 16, 32, 128};
  float w[kSuperWeights];
  for (int64_t b = 0; b < n_blocks; ++b, x += kSuperWeights) {
    plus_mean_importance(x, w, square);
    SymmetricCoding c;
    quantize_symmetric_super(x, w, kLayout, &c);
    BlockQ6_K& out = y[b];
    out.d = c.d_bits;
    for (int j = 0; j < 16; ++j) out.scales[j] = c.scale_code[j];
    for (int half = 0; half < 2; ++half) {
      const int8_t* lv = c.levels + 128 * half;
      for (int l = 0; l < 32; ++l) {
        int q[4];  // weights l, l + 32, l + 64, l + 96 of the half, unsigned 0..63
        for (int k = 0; k < 4; ++k) q[k] = lv[l + 32 * k] + 32;
        out.ql[64 * half + l] = static_cast<uint8_t>((q[0] & 0x0f) | ((q[2] & 0x0f) << 4));
        out.ql[64 * half + l + 32] = static_cast<uint8_t>((q[1] & 0x0f) | ((q[3] & 0x0f) << 4));
        out.qh[32 * half + l] = static_cast<uint8_t>((q[0] >> 4) | ((q[1] >> 4) << 2) |
                                                     ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6));
      }
    }
  }
}

}  // namespace

bool can_quantize(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q8_1:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::Q8_K:
      return true;
    default:
      return false;
  }
}

void quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  if (!can_quantize(type) || n % traits(type).block_size != 0) std::abort();
  const int64_t n_blocks = n / traits(type).block_size;
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
      return;
    }
    case TensorType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
      return;
    }
    case TensorType::Q4_0:
      return quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n_blocks);
    case TensorType::Q4_1:
      return quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), n_blocks);
    case TensorType::Q5_0:
      return quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), n_blocks);
    case TensorType::Q5_1:
      return quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), n_blocks);
    case TensorType::Q8_0:
      return quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n_blocks);
    case TensorType::Q8_1:
      return quantize_q8_1(src, static_cast<BlockQ8_1*>(dst), n_blocks);
    case TensorType::Q8_K:
      return quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), n_blocks);
    case TensorType::Q2_K:
      return quantize_q2_k(src, static_cast<BlockQ2_K*>(dst), n_blocks);
    case TensorType::Q3_K:
      return quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), n_blocks);
    case TensorType::Q4_K:
      return quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), n_blocks);
    case TensorType::Q5_K:
      return quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), n_blocks);
    case TensorType::Q6_K:
      return quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n_blocks);
    default:
      std::abort();
  }
}

}  // namespace cove::tensor
