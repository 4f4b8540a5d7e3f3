// AVX-512 VNNI kernels over the repacked layouts of kernels/repack.h (HWY_AVX3 only; included
// by kernels/quantized_dot-inl.h inside its per-target namespace after
// quantized_tiles_avx512-inl.h, whose dpbusd and cpu_has_vnni it uses; no include guard).
//
// Lane i of every vector is row i of a 16-row group. Per run of weights sharing one scale (a
// 32-weight block, a Q4_K sub-block of 32, a Q6_K sub-block of 16) and token:
//   sums = offset * sum(x)   (int32 from xsum, broadcast: -8 Q4_0, -16 Q5_0, -128 Q8_0,
//                             -32 Q6_K; Q4_K starts at 0 and subtracts its mins in float)
//   sums += dpbusd(weights 4v..4v+3 of each row, broadcast x[4v..4v+3])   for each v
//   acc = fma(float(sums), row scales * token scale, acc)
// so the 16 lanes hold 16 rows' exact integer dot products per run, scaled and summed in weight
// order. A tile runs NT tokens over one group so each record's weights are loaded and unpacked
// once for NT tokens; the instructions each token sees are the same for every NT (decode is
// NT = 1), so results are bit-identical whatever the batch.

// acc[i] += sum_{k < 4} u[4i + k] * (the 4 signed bytes at `four`, broadcast to every lane):
// the broadcast rides in the instruction's memory operand.
inline __m512i dpbusd_broadcast(__m512i acc, __m512i u, const int8_t* four) {
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(u), "m"(*reinterpret_cast<const int32_t*>(four)));
  return acc;
}

// The 8 vectors of one 32-weight block of the block types (weights 4v..4v+3 of each row in
// vector v, 16..31 in vectors 4..7) as unsigned bytes.
template <tensor::TensorType kType>
inline void unpack_block_vectors(const uint8_t* p, __m512i q[8]) {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  if constexpr (kType == TensorType::Q8_0) {
    for (int v = 0; v < 8; ++v) q[v] = _mm512_loadu_si512(p + 64 * v);
  } else {
    for (int v = 0; v < 4; ++v) {
      const __m512i packed = _mm512_loadu_si512(p + 64 * v);
      q[v] = _mm512_and_si512(packed, nibble);
      q[v + 4] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
    }
    if constexpr (kType == TensorType::Q5_0) {
      // Bit 2v (weights 4v + c) and bit 2v + 1 (weights 16 + 4v + c) of each high-bit byte
      // moved to bit 4. 16-bit shifts are safe: the masked bit never crosses a byte.
      const __m512i high = _mm512_loadu_si512(p + 256);
      const __m512i bit4 = _mm512_set1_epi8(0x10);
      const __m512i h[8] = {
          _mm512_slli_epi16(high, 4), _mm512_slli_epi16(high, 2), high,
          _mm512_srli_epi16(high, 2), _mm512_slli_epi16(high, 3), _mm512_slli_epi16(high, 1),
          _mm512_srli_epi16(high, 1), _mm512_srli_epi16(high, 3)};
      for (int v = 0; v < 8; ++v) q[v] = _mm512_or_si512(q[v], _mm512_and_si512(h[v], bit4));
    }
  }
}

// Decode streams every weight once, faster than the hardware prefetcher alone keeps up with:
// each record asks for the bytes `distance` ahead of it (2 KiB for the block types, every
// token count; two records for the K types, single tokens; a hint, so addresses past the
// matrix are harmless). Measured: llama-1b decode Q8_0 +7%, Q4_0 +10%, Q4_K_M +1%; 8 streams
// of the 135m shape +6%.
constexpr size_t kPrefetchBytes = 2048;
inline void prefetch_ahead(const uint8_t* record, size_t bytes, size_t distance = kPrefetchBytes) {
  for (size_t line = 0; line < bytes; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(record + distance + line), _MM_HINT_T0);
  }
}

// Block types (Q4_0, Q5_0, Q8_0): tokens [0, NT) of x / xsum against one group's records;
// lanes selected by `store` are written to y[t * y_stride + lane].
template <int NT, tensor::TensorType kType>
inline void repacked_tile_blocks(const uint8_t* wq, const uint8_t* ws, int64_t n_blocks,
                                 const Q8Activations* const* x, const int32_t* const* xsum,
                                 float* y, int64_t y_stride, __mmask16 store) {
  constexpr size_t kBlockBytes = kType == TensorType::Q4_0   ? 256
                                 : kType == TensorType::Q5_0 ? 320
                                                             : 512;
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m512i q[8];
    prefetch_ahead(wq + static_cast<size_t>(b) * kBlockBytes, kBlockBytes);
    unpack_block_vectors<kType>(wq + static_cast<size_t>(b) * kBlockBytes, q);
    const __m512 wscale = _mm512_cvtph_ps(load256(ws + 32 * b));
    __m512i sums[NT];
    for (int t = 0; t < NT; ++t) sums[t] = _mm512_set1_epi32(xsum[t][2 * b] + xsum[t][2 * b + 1]);
    for (int v = 0; v < 8; ++v) {
      for (int t = 0; t < NT; ++t) sums[t] = dpbusd_broadcast(sums[t], q[v], x[t][b].q + 4 * v);
    }
    for (int t = 0; t < NT; ++t) {
      const __m512 scale = _mm512_mul_ps(wscale, _mm512_set1_ps(x[t][b].d));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]), scale, acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, store, acc[t]);
}

// 16 bytes of per-row 6-bit (unsigned) or 8-bit (signed) scales as floats times `d`.
inline __m512 row_scales_u8(const uint8_t* p, __m512 d) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))),
                       d);
}
inline __m512 row_scales_i8(const uint8_t* p, __m512 d) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))),
                       d);
}

// Q4_K: per sub-block j of 32 weights, the integer sums of q (0..15) times the activations,
// then acc += float(sum) * (d * scale_j) * x.d and acc -= (dmin * min_j) * (x.s0 + x.s1).
template <int NT>
inline void repacked_tile_q4_k(const uint8_t* wq, const uint8_t* ws, int64_t n_super,
                               const Q8Activations* const* x, float* y, int64_t y_stride,
                               __mmask16 store) {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const __m512i zero = _mm512_setzero_si512();
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < n_super; ++s) {
    const uint8_t* p = wq + static_cast<size_t>(s) * 2048;
    const uint8_t* sc = ws + static_cast<size_t>(s) * 320;
    if constexpr (NT == 1) prefetch_ahead(p, 2048, 4096);
    const __m512 d = _mm512_cvtph_ps(load256(sc + 256));
    const __m512 dmin = _mm512_cvtph_ps(load256(sc + 288));
    for (int j = 0; j < 8; ++j) {
      __m512i q[8];
      for (int v = 0; v < 8; ++v) {
        const __m512i packed = _mm512_loadu_si512(p + 64 * (8 * (j / 2) + v));
        q[v] = _mm512_and_si512(j % 2 ? _mm512_srli_epi16(packed, 4) : packed, nibble);
      }
      const __m512 scale = row_scales_u8(sc + 16 * j, d);
      const __m512 min = row_scales_u8(sc + 128 + 16 * j, dmin);
      __m512i sums[NT];
      for (int t = 0; t < NT; ++t) sums[t] = zero;
      for (int v = 0; v < 8; ++v) {
        for (int t = 0; t < NT; ++t) {
          sums[t] = dpbusd_broadcast(sums[t], q[v], x[t][8 * s + j].q + 4 * v);
        }
      }
      for (int t = 0; t < NT; ++t) {
        const Q8Activations& a = x[t][8 * s + j];
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]),
                                 _mm512_mul_ps(scale, _mm512_set1_ps(a.d)), acc[t]);
        acc[t] = _mm512_fnmadd_ps(min, _mm512_set1_ps(a.s[0] + a.s[1]), acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, store, acc[t]);
}

// Q6_K: per 128-weight half h and run k (weights 128h + 32k + l), q = low 4 bits from ql and
// high 2 bits from qh; per 16 weights (sub-block j = 8h + 2k + l / 16) the integer sums of
// (q - 32) times the activations, then acc += float(sum) * (d * scale_j) * x.d.
template <int NT>
inline void repacked_tile_q6_k(const uint8_t* wq, const uint8_t* ws, int64_t n_super,
                               const Q8Activations* const* x, const int32_t* const* xsum, float* y,
                               int64_t y_stride, __mmask16 store) {
  const __m512i nibble = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < n_super; ++s) {
    const uint8_t* p = wq + static_cast<size_t>(s) * 3072;
    const uint8_t* sc = ws + static_cast<size_t>(s) * 288;
    if constexpr (NT == 1) prefetch_ahead(p, 3072, 6144);
    const __m512 d = _mm512_cvtph_ps(load256(sc + 256));
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        __m512i q[8];
        for (int v = 0; v < 8; ++v) {
          const __m512i ql = _mm512_loadu_si512(p + 64 * (16 * h + 8 * (k % 2) + v));
          const __m512i qh = _mm512_loadu_si512(p + 64 * (32 + 8 * h + v));
          const __m512i low = _mm512_and_si512(k < 2 ? ql : _mm512_srli_epi16(ql, 4), nibble);
          const __m512i high = k == 0   ? _mm512_slli_epi16(qh, 4)
                               : k == 1 ? _mm512_slli_epi16(qh, 2)
                               : k == 2 ? qh
                                        : _mm512_srli_epi16(qh, 2);
          q[v] = _mm512_or_si512(low, _mm512_and_si512(high, bits45));
        }
        const int64_t b = 8 * s + 4 * h + k;  // the activation block of this run
        for (int u = 0; u < 2; ++u) {
          const __m512 scale = row_scales_i8(sc + 16 * (8 * h + 2 * k + u), d);
          __m512i sums[NT];
          for (int t = 0; t < NT; ++t) sums[t] = _mm512_set1_epi32(xsum[t][2 * b + u]);
          for (int v = 0; v < 4; ++v) {
            for (int t = 0; t < NT; ++t) {
              sums[t] = dpbusd_broadcast(sums[t], q[4 * u + v], x[t][b].q + 16 * u + 4 * v);
            }
          }
          for (int t = 0; t < NT; ++t) {
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]),
                                     _mm512_mul_ps(scale, _mm512_set1_ps(x[t][b].d)), acc[t]);
          }
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, store, acc[t]);
}

// Tokens [t, t + NT) against one group (records at wq / ws).
template <int NT>
inline void run_repacked_tile(TensorType type, const uint8_t* wq, const uint8_t* ws,
                              int64_t n_units, int64_t n_blocks, const Q8Activations* x,
                              const int32_t* xsum, int64_t t, float* y, int64_t y_stride,
                              __mmask16 store) {
  const Q8Activations* xs[NT];
  const int32_t* sums[NT];
  for (int k = 0; k < NT; ++k) {
    xs[k] = x + (t + k) * n_blocks;
    sums[k] = xsum + 2 * (t + k) * n_blocks;
  }
  float* yt = y + t * y_stride;
  switch (type) {
    case TensorType::Q4_0:
      repacked_tile_blocks<NT, TensorType::Q4_0>(wq, ws, n_units, xs, sums, yt, y_stride, store);
      break;
    case TensorType::Q5_0:
      repacked_tile_blocks<NT, TensorType::Q5_0>(wq, ws, n_units, xs, sums, yt, y_stride, store);
      break;
    case TensorType::Q8_0:
      repacked_tile_blocks<NT, TensorType::Q8_0>(wq, ws, n_units, xs, sums, yt, y_stride, store);
      break;
    case TensorType::Q4_K:
      repacked_tile_q4_k<NT>(wq, ws, n_units, xs, yt, y_stride, store);
      break;
    case TensorType::Q6_K:
      repacked_tile_q6_k<NT>(wq, ws, n_units, xs, sums, yt, y_stride, store);
      break;
    default:
      break;
  }
}

// Groups [group_begin, group_end) of a repacked matrix against n_tokens tokens. Tokens are
// taken in chunks whose activations stay in the core's L2 cache while the chunk meets every
// group of the range; within a chunk, 8 tokens per tile, then single tokens.
inline void repacked_matmul(const tensor::Matrix& w, int64_t group_begin, int64_t group_end,
                            const Q8Activations* x, const int32_t* xsum, int64_t n_tokens, float* y,
                            int64_t y_stride) {
  const RepackLayout layout = repack_layout(w.type);
  const int64_t n_blocks = w.n_cols / 32;
  const int64_t n_units = w.n_cols / layout.unit;
  const int64_t n_groups = (w.n_rows + kRepackRows - 1) / kRepackRows;
  const size_t group_weight_bytes = static_cast<size_t>(n_units) * layout.weight_bytes;
  const size_t group_scale_bytes = static_cast<size_t>(n_units) * layout.scale_bytes;
  const uint8_t* scales = w.data + static_cast<size_t>(n_groups) * group_weight_bytes;
  constexpr int64_t kTokens = 8;
  const int64_t token_bytes = n_blocks * static_cast<int64_t>(sizeof(Q8Activations) + 8);
  const int64_t chunk = std::max<int64_t>(kTokens, (384 * 1024) / token_bytes / kTokens * kTokens);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const int64_t t_end = std::min(n_tokens, t0 + chunk);
    for (int64_t g = group_begin; g < group_end; ++g) {
      const int64_t rows = std::min<int64_t>(kRepackRows, w.n_rows - g * kRepackRows);
      const auto store = static_cast<__mmask16>(rows == 16 ? 0xffff : (1u << rows) - 1);
      const uint8_t* wq = w.data + static_cast<size_t>(g) * group_weight_bytes;
      const uint8_t* ws = scales + static_cast<size_t>(g) * group_scale_bytes;
      float* yg = y + g * kRepackRows;
      int64_t t = t0;
      for (; t + kTokens <= t_end; t += kTokens) {
        run_repacked_tile<kTokens>(w.type, wq, ws, n_units, n_blocks, x, xsum, t, yg, y_stride,
                                   store);
      }
      for (; t < t_end; ++t) {
        run_repacked_tile<1>(w.type, wq, ws, n_units, n_blocks, x, xsum, t, yg, y_stride, store);
      }
    }
  }
}
