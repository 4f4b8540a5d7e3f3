// Per-target integer dot kernels (Highway's include pattern: this file is compiled once per
// SIMD target by quantized_dot.cpp). x86 targets use the byte multiply-add instructions
// directly (vpmaddubsw: 32 unsigned x signed byte products summed in pairs per instruction),
// which Highway 1.0 does not expose; on AVX3 with VNNI the tile kernels of
// quantized_tiles_avx512-inl.h take over for Q4_0, Q8_0, Q4_K and Q6_K, and matrices repacked
// at load (kernels/repack.h) run the kernels of quantized_repacked_avx512-inl.h. Other targets
// run portable code that the compiler vectorizes for them.

#if defined(COVE_KERNELS_QUANTIZED_DOT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef COVE_KERNELS_QUANTIZED_DOT_INL_H_
#undef COVE_KERNELS_QUANTIZED_DOT_INL_H_
#else
#define COVE_KERNELS_QUANTIZED_DOT_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <vector>

#include "hwy/highway.h"
#include "kernels/quantized_dot.h"
#include "kernels/repack.h"
#include "kernels/unpack_blocks.h"

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#define COVE_X86_KERNELS 1
#else
#define COVE_X86_KERNELS 0
#endif

HWY_BEFORE_NAMESPACE();
namespace cove::kernels::HWY_NAMESPACE {

using tensor::TensorType;

#if COVE_X86_KERNELS

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define COVE_AVX512_TILES 1
#include "kernels/quantized_tiles_avx512-inl.h"
#include "kernels/quantized_repacked_avx512-inl.h"
#else
#define COVE_AVX512_TILES 0
#endif

// Sums of q[i] * a[i] over bytes 0..15 (lanes 0-3) and 16..31 (lanes 4-7), as 8 int32 lanes
// whose per-half totals are what we need. q must be < 128 so pair sums cannot saturate.
inline __m256i dot_u8_i8(__m256i q, __m256i a) {
  const __m256i pairs = _mm256_maddubs_epi16(q, a);
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

inline float dot_q8_0(const tensor::BlockQ8_0* w, const Q8Activations* x, int64_t n_blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].q));
    // Signed x signed via |w| x (x with w's sign): vpmaddubsw wants one unsigned operand.
    const __m256i sums = dot_u8_i8(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
    const __m256 scale = _mm256_set1_ps(_cvtsh_ss(w[b].d) * x[b].d);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc);
  }
  return horizontal_sum(acc);
}

inline float dot_q4_0(const tensor::BlockQ4_0* w, const Q8Activations* x, int64_t n_blocks) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;  // the -8 of every weight, applied through the activation sums
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs));
    const __m256i wq = _mm256_and_si256(
        _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low_nibbles);
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].q));
    const float wd = _cvtsh_ss(w[b].d);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8_i8(wq, xq)), _mm256_set1_ps(wd * x[b].d), acc);
    offset += wd * (x[b].s[0] + x[b].s[1]);
  }
  return horizontal_sum(acc) - 8.0f * offset;
}

// Q4_K read directly: each 32-byte chunk holds two 32-weight sub-blocks (low and high
// nibbles), each lined up with one activation block.
inline float dot_q4_k(const tensor::BlockQ4_K* w, const Q8Activations* x, int64_t n_blocks) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < n_blocks; ++b, x += 8) {
    const float d = _cvtsh_ss(w[b].d), dmin = _cvtsh_ss(w[b].dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      const __m256i packed =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * chunk));
      const __m256i low = _mm256_and_si256(packed, low_nibbles);
      const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
      const tensor::ScaleMin first = tensor::k4_scale_min(w[b].scales, 2 * chunk);
      const tensor::ScaleMin second = tensor::k4_scale_min(w[b].scales, 2 * chunk + 1);
      const Q8Activations& xa = x[2 * chunk];
      const Q8Activations& xb = x[2 * chunk + 1];
      const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xa.q));
      const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8_i8(low, qa)),
                            _mm256_set1_ps(d * first.scale * xa.d), acc);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8_i8(high, qb)),
                            _mm256_set1_ps(d * second.scale * xb.d), acc);
      offset += dmin * (first.min * (xa.s[0] + xa.s[1]) + second.min * (xb.s[0] + xb.s[1]));
    }
  }
  return horizontal_sum(acc) - offset;
}

// Q6_K read directly: per 128-weight half, four 32-weight runs (l, l+32, l+64, l+96) are
// assembled from the low nibbles and the 2-bit planes of qh, with a signed scale per 16.
inline float dot_q6_k(const tensor::BlockQ6_K* w, const Q8Activations* x, int64_t n_blocks) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  const __m256i two_bits = _mm256_set1_epi8(3);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float d = _cvtsh_ss(w[b].d);
    for (int half = 0; half < 2; ++half, x += 4) {
      const uint8_t* ql = w[b].ql + 64 * half;
      const int8_t* scales = w[b].scales + 8 * half;
      const __m256i qh =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qh + 32 * half));
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i lows[4] = {_mm256_and_si256(ql0, low_nibbles),
                               _mm256_and_si256(ql1, low_nibbles),
                               _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_nibbles),
                               _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_nibbles)};
      for (int k = 0; k < 4; ++k) {
        const __m256i high = _mm256_slli_epi16(
            _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), two_bits), 4);
        const __m256i q = _mm256_or_si256(lows[k], high);
        const Q8Activations& a = x[k];
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q));
        const float s0 = d * scales[2 * k], s1 = d * scales[2 * k + 1];
        const __m256 scale = _mm256_set_m128(_mm_set1_ps(s1 * a.d), _mm_set1_ps(s0 * a.d));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8_i8(q, xq)), scale, acc);
        offset += 32.0f * (s0 * a.s[0] + s1 * a.s[1]);
      }
    }
  }
  return horizontal_sum(acc) - offset;
}

// Q4_0 and Q8_0 rows against four tokens at once: each weight block is loaded and unpacked
// once and used four times (prompt processing).
inline void dot_q4_0_x4(const tensor::BlockQ4_0* w, const Q8Activations* const* x,
                        int64_t n_blocks, float* out) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  float offset[4] = {0, 0, 0, 0};
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs));
    const __m256i wq = _mm256_and_si256(
        _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low_nibbles);
    const float wd = _cvtsh_ss(w[b].d);
    for (int t = 0; t < 4; ++t) {
      const Q8Activations& a = x[t][b];
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8_i8(wq, xq)), _mm256_set1_ps(wd * a.d),
                               acc[t]);
      offset[t] += wd * (a.s[0] + a.s[1]);
    }
  }
  for (int t = 0; t < 4; ++t) out[t] = horizontal_sum(acc[t]) - 8.0f * offset[t];
}

inline void dot_q8_0_x4(const tensor::BlockQ8_0* w, const Q8Activations* const* x,
                        int64_t n_blocks, float* out) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i magnitude = _mm256_sign_epi8(wq, wq);
    const float wd = _cvtsh_ss(w[b].d);
    for (int t = 0; t < 4; ++t) {
      const Q8Activations& a = x[t][b];
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q));
      const __m256i sums = dot_u8_i8(magnitude, _mm256_sign_epi8(xq, wq));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(wd * a.d), acc[t]);
    }
  }
  for (int t = 0; t < 4; ++t) out[t] = horizontal_sum(acc[t]);
}

inline bool DotRowX4(TensorType type, const void* row, const Q8Activations* const* x, int64_t n,
                     float* out) {
  if (type == TensorType::Q4_0) {
    dot_q4_0_x4(static_cast<const tensor::BlockQ4_0*>(row), x, n / 32, out);
    return true;
  }
  if (type == TensorType::Q8_0) {
    dot_q8_0_x4(static_cast<const tensor::BlockQ8_0*>(row), x, n / 32, out);
    return true;
  }
  return false;
}

// One 32-weight chunk of an unpacked row (q per weight, A and B per 16 weights) against one
// activation block. Decode (dot_unpacked) and batches (dot_prepared) both go through this, so a
// token's result is the same whatever batch it is in.
inline void accumulate_chunk(const uint8_t* q, const float* a, const float* bias,
                             const Q8Activations* x, __m256& acc, float& offsets) {
  const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->q));
  const __m256 scale = _mm256_set_m128(_mm_set1_ps(a[1] * x->d), _mm_set1_ps(a[0] * x->d));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8_i8(wq, xq)), scale, acc);
  offsets += bias[0] * x->s[0] + bias[1] * x->s[1];
}

// Any unpackable type: each block to (q, A, B), then the common integer kernel per 32.
inline float dot_unpacked(TensorType type, const void* row, const Q8Activations* x, int64_t n) {
  detail::UnpackedBlock u;
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  const int per_block = tensor::traits(type).block_size;
  const int64_t n_blocks = n / per_block;
  for (int64_t b = 0; b < n_blocks; ++b) {
    detail::unpack_block(type, row, b, u);
    for (int c = 0; c < per_block / 32; ++c, ++x) {
      accumulate_chunk(u.q + 32 * c, u.a + 2 * c, u.b + 2 * c, x, acc, offsets);
    }
  }
  return horizontal_sum(acc) + offsets;
}

// A row unpacked beforehand (q per weight, A and B per 16 weights) against activations.
inline float dot_prepared(const uint8_t* q, const float* a, const float* bias,
                          const Q8Activations* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t c = 0; c < n / 32; ++c, ++x, q += 32, a += 2, bias += 2) {
    accumulate_chunk(q, a, bias, x, acc, offsets);
  }
  return horizontal_sum(acc) + offsets;
}

// Rounds n floats into Q8 blocks with the reference's arithmetic (float max |x| / 127, float
// reciprocal, x * reciprocal rounded to nearest even), so the results are bit-identical to
// quantize_activations_reference; 32 values per step instead of one.
inline void QuantizeActivations(const float* x, Q8Activations* out, int64_t n) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
    const __m256 scale = _mm256_set1_ps(inverse);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], scale));
    // Lane sums of each half (values 0..15 and 16..31) before packing.
    const __m256i half0 = _mm256_add_epi32(q[0], q[1]), half1 = _mm256_add_epi32(q[2], q[3]);
    __m128i h0 = _mm_add_epi32(_mm256_castsi256_si128(half0), _mm256_extracti128_si256(half0, 1));
    __m128i h1 = _mm_add_epi32(_mm256_castsi256_si128(half1), _mm256_extracti128_si256(half1, 1));
    h0 = _mm_hadd_epi32(h0, h1);  // (h0 pairs, h1 pairs)
    h0 = _mm_hadd_epi32(h0, h0);  // (sum0, sum1, ...)
    // Pack 32 int32 to 32 int8 in order (the packs work per 128-bit lane, hence the permutes).
    const __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i bytes = _mm256_packs_epi16(w01, w23);
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    Q8Activations& block = out[b];
    block.d = d;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(block.q), bytes);
    block.s[0] = d * static_cast<float>(_mm_cvtsi128_si32(h0));
    block.s[1] = d * static_cast<float>(_mm_extract_epi32(h0, 1));
  }
}

// Types read directly by DotRow (never unpacked), for every token count.
inline bool has_direct_kernel(TensorType type) {
  return type == TensorType::Q8_0 || type == TensorType::Q4_0 || type == TensorType::Q4_K ||
         type == TensorType::Q6_K;
}

#else  // portable code

#define COVE_AVX512_TILES 0

// One 32-weight chunk of an unpacked row against one activation block (shared by decode and
// batches so that both give the same floats).
inline void accumulate_chunk(const uint8_t* q, const float* a, const float* bias,
                             const Q8Activations* x, float& acc) {
  int32_t s0 = 0, s1 = 0;
  for (int i = 0; i < 16; ++i) s0 += q[i] * x->q[i];
  for (int i = 16; i < 32; ++i) s1 += q[i] * x->q[i];
  acc += x->d * (a[0] * static_cast<float>(s0) + a[1] * static_cast<float>(s1)) +
         bias[0] * x->s[0] + bias[1] * x->s[1];
}

inline float dot_prepared(const uint8_t* q, const float* a, const float* bias,
                          const Q8Activations* x, int64_t n) {
  float acc = 0.0f;
  for (int64_t c = 0; c < n / 32; ++c, ++x, q += 32, a += 2, bias += 2) {
    accumulate_chunk(q, a, bias, x, acc);
  }
  return acc;
}

inline bool has_direct_kernel(TensorType type) {
  return type == TensorType::Q8_0 || type == TensorType::Q4_0;
}

inline void QuantizeActivations(const float* x, Q8Activations* out, int64_t n) {
  quantize_activations_reference(x, out, n);
}

inline float dot_q8_0(const tensor::BlockQ8_0* w, const Q8Activations* x, int64_t n_blocks) {
  float acc = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) sum += w[b].qs[i] * x[b].q[i];
    acc += static_cast<float>(sum) * (fp16_to_fp32(w[b].d) * x[b].d);
  }
  return acc;
}

inline float dot_unpacked(TensorType type, const void* row, const Q8Activations* x, int64_t n) {
  detail::UnpackedBlock u;
  float acc = 0.0f;
  const int per_block = tensor::traits(type).block_size;
  for (int64_t b = 0; b < n / per_block; ++b) {
    detail::unpack_block(type, row, b, u);
    for (int c = 0; c < per_block / 32; ++c, ++x) {
      accumulate_chunk(u.q + 32 * c, u.a + 2 * c, u.b + 2 * c, x, acc);
    }
  }
  return acc;
}

inline float dot_q4_0(const tensor::BlockQ4_0* w, const Q8Activations* x, int64_t n_blocks) {
  return dot_unpacked(TensorType::Q4_0, w, x, n_blocks * 32);
}

inline bool DotRowX4(TensorType, const void*, const Q8Activations* const*, int64_t, float*) {
  return false;
}

#endif

inline float DotRow(TensorType type, const void* row, const Q8Activations* x, int64_t n) {
  switch (type) {
    case TensorType::Q8_0:
      return dot_q8_0(static_cast<const tensor::BlockQ8_0*>(row), x, n / 32);
    case TensorType::Q4_0:
      return dot_q4_0(static_cast<const tensor::BlockQ4_0*>(row), x, n / 32);
#if COVE_X86_KERNELS
    case TensorType::Q4_K:
      return dot_q4_k(static_cast<const tensor::BlockQ4_K*>(row), x, n / 256);
    case TensorType::Q6_K:
      return dot_q6_k(static_cast<const tensor::BlockQ6_K*>(row), x, n / 256);
#endif
    default:
      return dot_unpacked(type, row, x, n);
  }
}

// y[r * y_stride] = dot(row r, x) for n_rows rows of row_bytes each.
void DotRows(TensorType type, const uint8_t* rows, size_t row_bytes, int64_t n_rows,
             const Q8Activations* x, int64_t n, float* y, int64_t y_stride) {
#if COVE_AVX512_TILES
  if (has_tiles(type)) {
    // One token: the same tiles as batches (a strided y is written one row at a time).
    if (y_stride == 1) {
      matmul_tiles(type, rows, row_bytes, n, 0, n_rows, x, 1, y, 1);
    } else {
      for (int64_t r = 0; r < n_rows; ++r) {
        matmul_tiles(type, rows + static_cast<size_t>(r) * row_bytes, row_bytes, n, 0, 1, x, 1,
                     y + r * y_stride, 1);
      }
    }
    return;
  }
#endif
  for (int64_t r = 0; r < n_rows; ++r) {
    y[r * y_stride] = DotRow(type, rows + static_cast<size_t>(r) * row_bytes, x, n);
  }
}

// Batched products: rows [row_begin, row_end) of W against n_tokens activation rows, written to
// y[t * y_stride + r].
//
// Batch invariance: every (row, token) result is computed by exactly the same instructions as
// a batch of one would use (the same kernel, the same float accumulation order), so a token's
// output never depends on the other tokens of its batch. Continuous batching relies on this.
// With AVX-512 VNNI the tile kernels guarantee it by construction; elsewhere the directly read
// types use the four-token kernels (the same per-token operations as DotRow) and the other
// types are unpacked once per row tile and run through the same per-chunk code as DotRow.
void MatmulRows(TensorType type, const uint8_t* w, size_t row_bytes, int64_t n,
                int64_t row_begin, int64_t row_end, const Q8Activations* x, int64_t n_tokens,
                float* y, int64_t y_stride, void* scratch) {
#if COVE_AVX512_TILES
  if (has_tiles(type)) {
    matmul_tiles(type, w, row_bytes, n, row_begin, row_end, x, n_tokens, y, y_stride);
    return;
  }
#endif
  constexpr int64_t kTile = detail::kMatmulTile;
  const int64_t blocks_per_row = n / 32;
  const bool direct = n_tokens == 1 || has_direct_kernel(type);
  // Unpacked tile: kTile rows of n quantized values, then A and B per 16 weights.
  uint8_t* q = static_cast<uint8_t*>(scratch);
  float* scales = direct ? nullptr : reinterpret_cast<float*>(q + kTile * n);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kTile) {
    const int64_t rows = std::min(kTile, row_end - r0);
    if (direct) {
      int64_t t = 0;
      // Four tokens at a time where the type has a four-token kernel.
      for (; t + 4 <= n_tokens; t += 4) {
        const Q8Activations* xs[4] = {x + t * blocks_per_row, x + (t + 1) * blocks_per_row,
                                      x + (t + 2) * blocks_per_row, x + (t + 3) * blocks_per_row};
        float out[4];
        bool done = true;
        for (int64_t r = 0; r < rows && done; ++r) {
          done = DotRowX4(type, w + static_cast<size_t>(r0 + r) * row_bytes, xs, n, out);
          if (done) {
            for (int k = 0; k < 4; ++k) y[(t + k) * y_stride + r0 + r] = out[k];
          }
        }
        if (!done) break;
      }
      for (; t < n_tokens; ++t) {
        DotRows(type, w + static_cast<size_t>(r0) * row_bytes, row_bytes, rows,
                x + t * blocks_per_row, n, y + t * y_stride + r0, 1);
      }
      continue;
    }
    const int per_block = tensor::traits(type).block_size;
    detail::UnpackedBlock u;
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* row = w + static_cast<size_t>(r0 + r) * row_bytes;
      uint8_t* rq = q + r * n;
      float* ra = scales + r * (n / 8);
      float* rb = ra + n / 16;
      for (int64_t b = 0; b < n / per_block; ++b) {
        detail::unpack_block(type, row, b, u);
        std::copy(u.q, u.q + per_block, rq + b * per_block);
        std::copy(u.a, u.a + per_block / 16, ra + b * (per_block / 16));
        std::copy(u.b, u.b + per_block / 16, rb + b * (per_block / 16));
      }
    }
    for (int64_t t = 0; t < n_tokens; ++t) {
      const Q8Activations* xt = x + t * blocks_per_row;
      for (int64_t r = 0; r < rows; ++r) {
        const float* ra = scales + r * (n / 8);
        y[t * y_stride + r0 + r] = dot_prepared(q + r * n, ra, ra + n / 16, xt, n);
      }
    }
  }
}

// Groups [group_begin, group_end) of a repacked matrix (kernels/repack.h) against n_tokens
// activation rows with their block offset terms xsum. With AVX-512 VNNI the repacked kernels
// run; other targets restore each group's rows into `scratch` (16 rows) and run the row-major
// kernels on them, so every target gives what it gives without repacking.
void RepackedRows(const tensor::Matrix& w, int64_t group_begin, int64_t group_end,
                  const Q8Activations* x, const int32_t* xsum, int64_t n_tokens, float* y,
                  int64_t y_stride, void* scratch) {
#if COVE_AVX512_TILES
  if (cpu_has_vnni()) {
    repacked_matmul(w, group_begin, group_end, x, xsum, n_tokens, y, y_stride);
    return;
  }
#endif
  (void)xsum;
  auto* rows = static_cast<uint8_t*>(scratch);
  uint8_t* tile = rows + (static_cast<size_t>(kRepackRows) * w.row_bytes + 63) / 64 * 64;
  for (int64_t g = group_begin; g < group_end; ++g) {
    const int64_t r0 = g * kRepackRows;
    const int64_t count = std::min<int64_t>(kRepackRows, w.n_rows - r0);
    unpack_repacked_rows(w, r0, count, rows);
    MatmulRows(w.type, rows, w.row_bytes, w.n_cols, 0, count, x, n_tokens, y + r0, y_stride,
               tile);
  }
}

void QuantizeRows(const float* x, Q8Activations* out, int64_t n) {
  QuantizeActivations(x, out, n);
}

float DotOne(TensorType type, const void* row, const Q8Activations* x, int64_t n) {
  float y = 0.0f;
  DotRows(type, static_cast<const uint8_t*>(row), 0, 1, x, n, &y, 1);
  return y;
}

}  // namespace cove::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#undef COVE_X86_KERNELS
#undef COVE_AVX512_TILES
#endif  // include guard
