// AVX-512 + VNNI tile kernels for the integer matrix products (HWY_AVX3 only; included by
// kernels/quantized_dot-inl.h inside its per-target namespace, so no include guard).
//
// A tile is NR weight rows x NT activation rows. Every (row, token) pair keeps its own
// 16-lane float accumulator and sees exactly the same sequence of instructions whatever NR and
// NT are, so a token's result does not depend on which other tokens share its batch (decode
// uses 4 x 1 tiles, prompt processing 4 x 4; both give bit-identical floats per pair).
//
// The integer work is vpdpbusd (64 unsigned x signed byte products summed in fours into 16
// int32 lanes per instruction). Weight offsets are folded into the integer sums, so no float
// correction is needed: for Q4_0 and Q6_K the activations' own lane sums times -8 / -32 seed
// the accumulator (computed once per token, shared by the tile's rows); for Q8_0 the signed
// activations are biased to unsigned (x + 128) and -128 x the weights' lane sums seed it.
// Per 32-weight block the int32 lanes are converted once and scaled by weight scale x
// activation scale with one fused multiply-add. Q4_K's mins use the activation blocks' sums.
//
// Highway 1.0 has no VNNI operation, so vpdpbusd is written as inline assembly; callers check
// the CPU flag at run time (cpu_has_vnni) and otherwise use the 256-bit kernels.

inline bool cpu_has_vnni() {
  static const bool has = __builtin_cpu_supports("avx512vnni");
  return has;
}

// acc[i] += sum_{k < 4} u[4i + k] (unsigned) * s[4i + k] (signed).
inline __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
  return acc;
}

inline float hsum512(__m512 v) {
  return horizontal_sum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

// Two 32-byte halves into one 512-bit vector.
inline __m512i join256(__m256i low, __m256i high) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Two floats (a, b) spread over 16 lanes by `index` (entries 0 or 1).
inline __m512 spread2(float a, float b, __m512i index) {
  return _mm512_permutexvar_ps(index, _mm512_castps128_ps512(_mm_setr_ps(a, b, 0.0f, 0.0f)));
}

inline __m512 spread2_f16(uint16_t a, uint16_t b, __m512i index) {
  const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(a | (uint32_t{b} << 16))));
  return _mm512_permutexvar_ps(index, _mm512_castps128_ps512(both));
}

// ---------------------------------------------------------------------------------------------
// Q4_0: blocks are taken in pairs (b, b + 1). The 64 nibbles are laid out
// [b: 0..15, b+1: 0..15, b: 16..31, b+1: 16..31] (cheapest to unpack from the packed bytes) and
// the activations are shuffled once per token into the same order. Lanes 0-3 and 8-11 belong to
// block b, 4-7 and 12-15 to block b + 1. An odd last block pairs with zeros.
template <int NR, int NT>
void tile_q4_0(const uint8_t* w, size_t row_bytes, const Q8Activations* const* x,
               int64_t n_blocks, float* y, int64_t y_stride) {
  const __m512i scale_index = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
  const __m512i nibble = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
  const __m512i zero = _mm512_setzero_si512();
  __m512 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; b += 2) {
    const bool pair = b + 1 < n_blocks;
    __m512i xq[NT], seed[NT];
    __m512 xd[NT];
    for (int t = 0; t < NT; ++t) {
      const Q8Activations& a0 = x[t][b];
      const __m512i v = join256(load256(a0.q), pair ? load256(x[t][b + 1].q) : _mm256_setzero_si256());
      xq[t] = _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
      seed[t] = _mm512_sub_epi32(zero, dpbusd(zero, eight, xq[t]));  // -8 * sum(x) per lane
      xd[t] = spread2(a0.d, pair ? x[t][b + 1].d : 0.0f, scale_index);
    }
    for (int r = 0; r < NR; ++r) {
      const auto* blk = reinterpret_cast<const tensor::BlockQ4_0*>(w + r * row_bytes) + b;
      const __m128i p0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[0].qs));
      const __m128i p1 =
          pair ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[1].qs)) : _mm_setzero_si128();
      const __m256i packed = _mm256_inserti128_si256(_mm256_castsi128_si256(p0), p1, 1);
      const __m512i q = _mm512_and_si512(join256(packed, _mm256_srli_epi16(packed, 4)), nibble);
      const __m512 wd = spread2_f16(blk[0].d, pair ? blk[1].d : 0, scale_index);
      for (int t = 0; t < NT; ++t) {
        const __m512i sums = dpbusd(seed[t], q, xq[t]);  // sum((q - 8) * x) per lane
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(wd, xd[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = hsum512(acc[r][t]);
}

// Q8_0: block pairs in natural order (lanes 0-7 block b, 8-15 block b + 1).
template <int NR, int NT>
void tile_q8_0(const uint8_t* w, size_t row_bytes, const Q8Activations* const* x,
               int64_t n_blocks, float* y, int64_t y_stride) {
  const __m512i scale_index = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i zero = _mm512_setzero_si512();
  __m512 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; b += 2) {
    const bool pair = b + 1 < n_blocks;
    __m512i xu[NT];
    __m512 xd[NT];
    for (int t = 0; t < NT; ++t) {
      const Q8Activations& a0 = x[t][b];
      const __m512i v = join256(load256(a0.q), pair ? load256(x[t][b + 1].q) : _mm256_setzero_si256());
      xu[t] = _mm512_xor_si512(v, bias);  // x + 128 as unsigned bytes
      xd[t] = spread2(a0.d, pair ? x[t][b + 1].d : 0.0f, scale_index);
    }
    for (int r = 0; r < NR; ++r) {
      const auto* blk = reinterpret_cast<const tensor::BlockQ8_0*>(w + r * row_bytes) + b;
      const __m512i q = join256(load256(blk[0].qs), pair ? load256(blk[1].qs) : _mm256_setzero_si256());
      const __m512i seed = _mm512_sub_epi32(zero, dpbusd(zero, bias, q));  // -128 * sum(w)
      const __m512 wd = spread2_f16(blk[0].d, pair ? blk[1].d : 0, scale_index);
      for (int t = 0; t < NT; ++t) {
        const __m512i sums = dpbusd(seed, xu[t], q);  // sum(x * w) per lane
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(wd, xd[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = hsum512(acc[r][t]);
}

// The 8 activation scales (or block sums s0 + s1) of one 256-weight super-block.
inline __m256 activation_scales8(const Q8Activations* a) {
  const __m256i stride = _mm256_setr_epi32(0, 11, 22, 33, 44, 55, 66, 77);  // 44 bytes apart
  return _mm256_i32gather_ps(&a->d, stride, 4);
}
inline __m256 activation_sums8(const Q8Activations* a) {
  const __m256i stride = _mm256_setr_epi32(0, 11, 22, 33, 44, 55, 66, 77);
  return _mm256_add_ps(_mm256_i32gather_ps(&a->s[0], stride, 4),
                       _mm256_i32gather_ps(&a->s[1], stride, 4));
}

// Q4_K: per super-block, 64-byte loads of qs give sub-blocks (0, 2), (1, 3), (4, 6), (5, 7)
// (low and high nibbles of chunks 0-1 and 2-3). Mins are applied with the activation sums.
template <int NR, int NT>
void tile_q4_k(const uint8_t* w, size_t row_bytes, const Q8Activations* const* x,
               int64_t n_super, float* y, int64_t y_stride) {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i spread[4] = {
      _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
      _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
      _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6),
      _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7)};
  constexpr int kFirst[4] = {0, 1, 4, 5};
  __m512 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < n_super; ++s) {
    __m512i xq[NT][4];
    __m256 xd[NT], xsum[NT];
    for (int t = 0; t < NT; ++t) {
      const Q8Activations* a = x[t] + 8 * s;
      for (int k = 0; k < 4; ++k) {
        xq[t][k] = join256(load256(a[kFirst[k]].q), load256(a[kFirst[k] + 2].q));
      }
      xd[t] = activation_scales8(a);
      xsum[t] = activation_sums8(a);
    }
    for (int r = 0; r < NR; ++r) {
      const auto& blk = reinterpret_cast<const tensor::BlockQ4_K*>(w + r * row_bytes)[s];
      uint32_t packed[3];
      std::memcpy(packed, blk.scales, 12);
      const uint32_t scales_low = packed[0] & 0x3f3f3f3f;
      const uint32_t scales_high = (packed[2] & 0x0f0f0f0f) | (((packed[0] >> 6) & 0x03030303) << 4);
      const uint32_t mins_low = packed[1] & 0x3f3f3f3f;
      const uint32_t mins_high =
          ((packed[2] >> 4) & 0x0f0f0f0f) | (((packed[1] >> 6) & 0x03030303) << 4);
      const __m256 scales = _mm256_mul_ps(
          _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_setr_epi32(
              static_cast<int>(scales_low), static_cast<int>(scales_high), 0, 0))),
          _mm256_set1_ps(_cvtsh_ss(blk.d)));
      const __m256 mins = _mm256_mul_ps(
          _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
              _mm_setr_epi32(static_cast<int>(mins_low), static_cast<int>(mins_high), 0, 0))),
          _mm256_set1_ps(_cvtsh_ss(blk.dmin)));
      const __m512i p01 = _mm512_loadu_si512(blk.qs), p23 = _mm512_loadu_si512(blk.qs + 64);
      const __m512i q[4] = {_mm512_and_si512(p01, nibble),
                            _mm512_and_si512(_mm512_srli_epi16(p01, 4), nibble),
                            _mm512_and_si512(p23, nibble),
                            _mm512_and_si512(_mm512_srli_epi16(p23, 4), nibble)};
      for (int t = 0; t < NT; ++t) {
        const __m512 scale8 = _mm512_castps256_ps512(_mm256_mul_ps(scales, xd[t]));
        for (int k = 0; k < 4; ++k) {
          const __m512i sums = dpbusd(zero, q[k], xq[t][k]);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums),
                                      _mm512_permutexvar_ps(spread[k], scale8), acc[r][t]);
        }
        acc[r][t] = _mm512_fnmadd_ps(_mm512_zextps256_ps512(mins),
                                     _mm512_zextps256_ps512(xsum[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = hsum512(acc[r][t]);
}

// Q6_K: per 128-weight half, runs (0, 1) come from the low nibbles of ql[0..63] and runs (2, 3)
// from the high nibbles, each with 2 bits of qh; a signed scale per 16 weights (4 lanes).
template <int NR, int NT>
void tile_q6_k(const uint8_t* w, size_t row_bytes, const Q8Activations* const* x,
               int64_t n_super, float* y, int64_t y_stride) {
  const __m512i nibble = _mm512_set1_epi8(0x0f), two_bits = _mm512_set1_epi8(3);
  const __m512i thirty_two = _mm512_set1_epi8(32);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i shift01 = _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2);
  const __m512i shift23 = _mm512_setr_epi64(4, 4, 4, 4, 6, 6, 6, 6);
  const __m512i spread01 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i spread23 = _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
  const __m256i scale_stride = _mm256_setr_epi32(0, 0, 11, 11, 22, 22, 33, 33);
  __m512 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < n_super; ++s) {
    for (int half = 0; half < 2; ++half) {
      __m512i x01[NT], x23[NT], seed01[NT], seed23[NT];
      __m256 xd[NT];
      for (int t = 0; t < NT; ++t) {
        const Q8Activations* a = x[t] + 8 * s + 4 * half;
        x01[t] = join256(load256(a[0].q), load256(a[1].q));
        x23[t] = join256(load256(a[2].q), load256(a[3].q));
        seed01[t] = _mm512_sub_epi32(zero, dpbusd(zero, thirty_two, x01[t]));
        seed23[t] = _mm512_sub_epi32(zero, dpbusd(zero, thirty_two, x23[t]));
        xd[t] = _mm256_i32gather_ps(&a->d, scale_stride, 4);  // each block's scale twice
      }
      for (int r = 0; r < NR; ++r) {
        const auto& blk = reinterpret_cast<const tensor::BlockQ6_K*>(w + r * row_bytes)[s];
        const __m256 scales = _mm256_mul_ps(
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk.scales + 8 * half)))),
            _mm256_set1_ps(_cvtsh_ss(blk.d)));
        const __m512i ql = _mm512_loadu_si512(blk.ql + 64 * half);
        const __m512i qh = _mm512_broadcast_i64x4(load256(blk.qh + 32 * half));
        const __m512i high01 = _mm512_slli_epi16(
            _mm512_and_si512(_mm512_srlv_epi64(qh, shift01), two_bits), 4);
        const __m512i high23 = _mm512_slli_epi16(
            _mm512_and_si512(_mm512_srlv_epi64(qh, shift23), two_bits), 4);
        const __m512i q01 = _mm512_or_si512(_mm512_and_si512(ql, nibble), high01);
        const __m512i q23 =
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), nibble), high23);
        for (int t = 0; t < NT; ++t) {
          const __m512 scale8 = _mm512_castps256_ps512(_mm256_mul_ps(scales, xd[t]));
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dpbusd(seed01[t], q01, x01[t])),
                                      _mm512_permutexvar_ps(spread01, scale8), acc[r][t]);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dpbusd(seed23[t], q23, x23[t])),
                                      _mm512_permutexvar_ps(spread23, scale8), acc[r][t]);
        }
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = hsum512(acc[r][t]);
}

// Whether `type` has a tile kernel here (and the CPU runs vpdpbusd).
inline bool has_tiles(TensorType type) {
  if (!cpu_has_vnni()) return false;
  return type == TensorType::Q4_0 || type == TensorType::Q8_0 || type == TensorType::Q4_K ||
         type == TensorType::Q6_K;
}

template <int NR, int NT>
inline void run_tile(TensorType type, const uint8_t* w, size_t row_bytes,
                     const Q8Activations* const* x, int64_t n, float* y, int64_t y_stride) {
  switch (type) {
    case TensorType::Q4_0: tile_q4_0<NR, NT>(w, row_bytes, x, n / 32, y, y_stride); break;
    case TensorType::Q8_0: tile_q8_0<NR, NT>(w, row_bytes, x, n / 32, y, y_stride); break;
    case TensorType::Q4_K: tile_q4_k<NR, NT>(w, row_bytes, x, n / 256, y, y_stride); break;
    case TensorType::Q6_K: tile_q6_k<NR, NT>(w, row_bytes, x, n / 256, y, y_stride); break;
    default: break;
  }
}

// Rows [row_begin, row_end) x all tokens in tiles. Tokens are taken in chunks whose activations
// stay in the core's L2 cache while the chunk meets every row of the range.
inline void matmul_tiles(TensorType type, const uint8_t* w, size_t row_bytes, int64_t n,
                         int64_t row_begin, int64_t row_end, const Q8Activations* x,
                         int64_t n_tokens, float* y, int64_t y_stride) {
  constexpr int kRows = 4;
  constexpr int kTokens = 4;
  const int64_t blocks = n / 32;
  const int64_t chunk_bytes = 256 * 1024;
  const int64_t chunk = std::max<int64_t>(
      kTokens, chunk_bytes / (blocks * static_cast<int64_t>(sizeof(Q8Activations))) / kTokens * kTokens);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const int64_t t_end = std::min(n_tokens, t0 + chunk);
    int64_t r = row_begin;
    for (; r < row_end; r += kRows) {
      const int64_t rows = std::min<int64_t>(kRows, row_end - r);
      const uint8_t* wr = w + static_cast<size_t>(r) * row_bytes;
      int64_t t = t0;
      for (; t + kTokens <= t_end; t += kTokens) {
        const Q8Activations* xs[kTokens];
        for (int k = 0; k < kTokens; ++k) xs[k] = x + (t + k) * blocks;
        if (rows == kRows) {
          run_tile<kRows, kTokens>(type, wr, row_bytes, xs, n, y + t * y_stride + r, y_stride);
        } else {
          for (int64_t i = 0; i < rows; ++i) {
            run_tile<1, kTokens>(type, wr + i * row_bytes, row_bytes, xs, n,
                                 y + t * y_stride + r + i, y_stride);
          }
        }
      }
      for (; t < t_end; ++t) {
        const Q8Activations* xs[1] = {x + t * blocks};
        if (rows == kRows) {
          run_tile<kRows, 1>(type, wr, row_bytes, xs, n, y + t * y_stride + r, y_stride);
        } else {
          for (int64_t i = 0; i < rows; ++i) {
            run_tile<1, 1>(type, wr + i * row_bytes, row_bytes, xs, n, y + t * y_stride + r + i,
                           y_stride);
          }
        }
      }
    }
  }
}
