// Per-target attention kernels (Highway's include pattern; compiled by attention.cpp).

#if defined(COVE_KERNELS_ATTENTION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef COVE_KERNELS_ATTENTION_INL_H_
#undef COVE_KERNELS_ATTENTION_INL_H_
#else
#define COVE_KERNELS_ATTENTION_INL_H_
#endif

#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace cove::kernels::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// Loads lanes of keys/values as F32 from either storage type.
template <class D>
HWY_INLINE hn::Vec<D> LoadAsF32(D df, const float* p) {
  return hn::LoadU(df, p);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadAsF32(D df, const uint16_t* p) {
  const hn::Rebind<hwy::float16_t, D> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
}

template <class T>
HWY_INLINE float DotHead(const float* q, const T* k, int64_t head_dim) {
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  auto sum0 = hn::Zero(df), sum1 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 2 * lanes <= head_dim; i += 2 * lanes) {
    sum0 = hn::MulAdd(hn::LoadU(df, q + i), LoadAsF32(df, k + i), sum0);
    sum1 = hn::MulAdd(hn::LoadU(df, q + i + lanes), LoadAsF32(df, k + i + lanes), sum1);
  }
  for (; i + lanes <= head_dim; i += lanes) {
    sum0 = hn::MulAdd(hn::LoadU(df, q + i), LoadAsF32(df, k + i), sum0);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(sum0, sum1)));
  for (; i < head_dim; ++i) {
    if constexpr (sizeof(T) == 4) {
      sum += q[i] * static_cast<float>(k[i]);
    } else {
      sum += q[i] * fp16_to_fp32(k[i]);
    }
  }
  return sum;
}

// out[0..head_dim) += sum over p < n of weights[p] * v row p (rows `stride` apart), in
// position order per lane. The output is held in registers, up to 4 vectors at a time, while
// the rows stream past; a tail of head_dim beyond whole vectors is done lane by lane.
template <class T>
HWY_INLINE void AccumulateRows(float* out, const float* weights, const T* v, size_t stride,
                               int64_t n, int64_t head_dim) {
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + 4 * lanes <= head_dim; i += 4 * lanes) {
    auto a0 = hn::LoadU(df, out + i), a1 = hn::LoadU(df, out + i + lanes);
    auto a2 = hn::LoadU(df, out + i + 2 * lanes), a3 = hn::LoadU(df, out + i + 3 * lanes);
    for (int64_t p = 0; p < n; ++p) {
      const T* row = v + static_cast<size_t>(p) * stride + i;
      const auto w = hn::Set(df, weights[p]);
      a0 = hn::MulAdd(LoadAsF32(df, row), w, a0);
      a1 = hn::MulAdd(LoadAsF32(df, row + lanes), w, a1);
      a2 = hn::MulAdd(LoadAsF32(df, row + 2 * lanes), w, a2);
      a3 = hn::MulAdd(LoadAsF32(df, row + 3 * lanes), w, a3);
    }
    hn::StoreU(a0, df, out + i);
    hn::StoreU(a1, df, out + i + lanes);
    hn::StoreU(a2, df, out + i + 2 * lanes);
    hn::StoreU(a3, df, out + i + 3 * lanes);
  }
  for (; i + lanes <= head_dim; i += lanes) {
    auto a = hn::LoadU(df, out + i);
    for (int64_t p = 0; p < n; ++p) {
      a = hn::MulAdd(LoadAsF32(df, v + static_cast<size_t>(p) * stride + i),
                     hn::Set(df, weights[p]), a);
    }
    hn::StoreU(a, df, out + i);
  }
  for (; i < head_dim; ++i) {
    float a = out[i];
    for (int64_t p = 0; p < n; ++p) {
      const T value = v[static_cast<size_t>(p) * stride + i];
      float f;
      if constexpr (sizeof(T) == 4) {
        f = static_cast<float>(value);
      } else {
        f = fp16_to_fp32(value);
      }
      a = std::fma(f, weights[p], a);
    }
    out[i] = a;
  }
}

// Online softmax over blocks of positions: per block the scores, one rescale of what was
// accumulated when the maximum grows, the block's weights exponentiated as vectors, and the
// value rows accumulated. Each query's result depends only on its own positions (the same
// instructions whatever batch the query came in).
template <class T>
HWY_INLINE void AttentionHead(const float* q, const T* k, const T* v, size_t stride,
                              int64_t n_positions, int64_t head_dim, float scale, float* out) {
  constexpr int64_t kBlock = 64;  // scores held at once
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  HWY_ALIGN float scores[kBlock];
  float running_max = -INFINITY, running_sum = 0.0f;
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t start = 0; start < n_positions; start += kBlock) {
    const int64_t n = std::min(kBlock, n_positions - start);
    float block_max = -INFINITY;
    for (int64_t p = 0; p < n; ++p) {
      scores[p] = scale * DotHead(q, k + (start + p) * stride, head_dim);
      block_max = std::max(block_max, scores[p]);
    }
    // A new maximum rescales what was accumulated so far.
    const float new_max = std::max(running_max, block_max);
    const float keep = std::exp(running_max - new_max);
    running_sum *= keep;
    running_max = new_max;
    if (keep != 1.0f) {
      for (int64_t i = 0; i < head_dim; ++i) out[i] *= keep;
    }
    // Weights exp(score - max), whole vectors (the lanes past n are computed, never used).
    std::fill(scores + n, scores + kBlock, new_max);
    const auto vmax = hn::Set(df, new_max);
    for (int64_t p = 0; p < n; p += lanes) {
      const auto x = hn::Sub(hn::Load(df, scores + p), vmax);
      hn::Store(hn::Exp(df, x), df, scores + p);
    }
    for (int64_t p = 0; p < n; ++p) running_sum += scores[p];
    AccumulateRows(out, scores, v + start * stride, stride, n, head_dim);
  }
  const float inverse = 1.0f / running_sum;
  for (int64_t i = 0; i < head_dim; ++i) out[i] *= inverse;
}

void AttentionHeadF16(const float* q, const uint16_t* k, const uint16_t* v, size_t stride,
                      int64_t n_positions, int64_t head_dim, float scale, float* out) {
  AttentionHead(q, k, v, stride, n_positions, head_dim, scale, out);
}

void AttentionHeadF32(const float* q, const float* k, const float* v, size_t stride,
                      int64_t n_positions, int64_t head_dim, float scale, float* out) {
  AttentionHead(q, k, v, stride, n_positions, head_dim, scale, out);
}

}  // namespace cove::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
