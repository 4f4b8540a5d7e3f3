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

// out = out * keep + weight * v
template <class T>
HWY_INLINE void ScaleAddHead(float* out, float keep, float weight, const T* v, int64_t head_dim) {
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vkeep = hn::Set(df, keep), vweight = hn::Set(df, weight);
  int64_t i = 0;
  for (; i + lanes <= head_dim; i += lanes) {
    const auto acc = hn::Mul(hn::LoadU(df, out + i), vkeep);
    hn::StoreU(hn::MulAdd(LoadAsF32(df, v + i), vweight, acc), df, out + i);
  }
  for (; i < head_dim; ++i) {
    float value;
    if constexpr (sizeof(T) == 4) {
      value = static_cast<float>(v[i]);
    } else {
      value = fp16_to_fp32(v[i]);
    }
    out[i] = out[i] * keep + weight * value;
  }
}

template <class T>
HWY_INLINE void AttentionHead(const float* q, const T* k, const T* v, size_t stride,
                              int64_t n_positions, int64_t head_dim, float scale, float* out) {
  constexpr int64_t kBlock = 64;  // scores held at once
  float scores[kBlock];
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
    float keep = std::exp(running_max - new_max);
    running_sum *= keep;
    running_max = new_max;
    for (int64_t p = 0; p < n; ++p) {
      const float weight = std::exp(scores[p] - new_max);
      running_sum += weight;
      ScaleAddHead(out, keep, weight, v + (start + p) * stride, head_dim);
      keep = 1.0f;
    }
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
