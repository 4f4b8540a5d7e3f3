// AVX-512 VNNI kernels over the repacked Q4_0 / Q8_0 layout of kernels/repack.h (HWY_AVX3
// only; included by kernels/quantized_dot-inl.h inside its per-target namespace after
// quantized_tiles_avx512-inl.h, whose dpbusd and cpu_has_vnni it uses; no include guard).
//
// Lane i of every vector is row i of a 16-row group. Per 32-weight block and token:
//   sums = offset * sum(x)       (int32 from xsum, broadcast; offset -8 for Q4_0, -128 for Q8_0)
//   sums += dpbusd(weights k = 4v..4v+3, broadcast x[4v..4v+3])   for v = 0..7
//   acc = fma(float(sums), row scales * token scale, acc)
// so the 16 lanes hold 16 rows' exact integer block dot products, scaled and summed in block
// order. A tile runs NT tokens over one group so each block's weights are loaded and unpacked
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

// Tokens [0, NT) of x / xsum against one group's weights `wq` and F16 scales `wd`; lanes
// selected by `store` are written to y[t * y_stride + lane].
template <int NT, bool kQ4>
inline void repacked_tile(const uint8_t* wq, const uint16_t* wd, int64_t n_blocks,
                          const Q8Activations* const* x, const int32_t* const* xsum, float* y,
                          int64_t y_stride, __mmask16 store) {
  constexpr size_t kBlockBytes = kQ4 ? 256 : 512;
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* p = wq + static_cast<size_t>(b) * kBlockBytes;
    __m512i q[8];
    if constexpr (kQ4) {
      for (int v = 0; v < 4; ++v) {
        const __m512i packed = _mm512_loadu_si512(p + 64 * v);
        q[v] = _mm512_and_si512(packed, nibble);
        q[v + 4] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
      }
    } else {
      for (int v = 0; v < 8; ++v) q[v] = _mm512_loadu_si512(p + 64 * v);
    }
    const __m512 wscale = _mm512_cvtph_ps(load256(wd + 16 * b));
    __m512i sums[NT];
    for (int t = 0; t < NT; ++t) sums[t] = _mm512_set1_epi32(xsum[t][b]);
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

template <int NT>
inline void run_repacked_tile(bool q4, const uint8_t* wq, const uint16_t* wd, int64_t n_blocks,
                              const Q8Activations* x, const int32_t* xsum, int64_t t,
                              float* y, int64_t y_stride, __mmask16 store) {
  const Q8Activations* xs[NT];
  const int32_t* sums[NT];
  for (int k = 0; k < NT; ++k) {
    xs[k] = x + (t + k) * n_blocks;
    sums[k] = xsum + (t + k) * n_blocks;
  }
  float* yt = y + t * y_stride;
  if (q4) {
    repacked_tile<NT, true>(wq, wd, n_blocks, xs, sums, yt, y_stride, store);
  } else {
    repacked_tile<NT, false>(wq, wd, n_blocks, xs, sums, yt, y_stride, store);
  }
}

// Groups [group_begin, group_end) of a repacked matrix against n_tokens tokens. Tokens are
// taken in chunks whose activations stay in the core's L2 cache while the chunk meets every
// group of the range; within a chunk, 8 tokens per tile, then single tokens.
inline void repacked_matmul(const tensor::Matrix& w, int64_t group_begin, int64_t group_end,
                            const Q8Activations* x, const int32_t* xsum, int64_t n_tokens,
                            float* y, int64_t y_stride) {
  const bool q4 = w.type == TensorType::Q4_0;
  const int64_t n_blocks = w.n_cols / 32;
  const int64_t n_groups = (w.n_rows + kRepackRows - 1) / kRepackRows;
  const size_t block_bytes = repacked_group_block_bytes(w.type);
  const uint8_t* weights = w.data;
  const auto* scales = reinterpret_cast<const uint16_t*>(
      w.data + static_cast<size_t>(n_groups * n_blocks) * block_bytes);
  constexpr int64_t kTokens = 8;
  const int64_t token_bytes = n_blocks * static_cast<int64_t>(sizeof(Q8Activations) + 4);
  const int64_t chunk =
      std::max<int64_t>(kTokens, (384 * 1024) / token_bytes / kTokens * kTokens);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const int64_t t_end = std::min(n_tokens, t0 + chunk);
    for (int64_t g = group_begin; g < group_end; ++g) {
      const int64_t rows = std::min<int64_t>(kRepackRows, w.n_rows - g * kRepackRows);
      const auto store = static_cast<__mmask16>(rows == 16 ? 0xffff : (1u << rows) - 1);
      const uint8_t* wq = weights + static_cast<size_t>(g * n_blocks) * block_bytes;
      const uint16_t* wd = scales + g * n_blocks * kRepackRows;
      float* yg = y + g * kRepackRows;
      int64_t t = t0;
      for (; t + kTokens <= t_end; t += kTokens) {
        run_repacked_tile<kTokens>(q4, wq, wd, n_blocks, x, xsum, t, yg, y_stride, store);
      }
      for (; t < t_end; ++t) {
        run_repacked_tile<1>(q4, wq, wd, n_blocks, x, xsum, t, yg, y_stride, store);
      }
    }
  }
}
