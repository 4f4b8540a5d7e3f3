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

#if HWY_TARGET != HWY_SCALAR
// Stores the sum of v's 4-lane blocks (lane j of the result: lane j of every block, added).
template <class D, class V>
HWY_INLINE void StoreSumOfBlocks(D d, V v, float* out4) {
  if constexpr (hn::MaxLanes(d) > 4) {
    const hn::Half<D> dh;
    StoreSumOfBlocks(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)), out4);
  } else {
    hn::StoreU(v, d, out4);
  }
}
#endif

// q . k for four key rows at once. Each row's lanes accumulate their share of the products
// (one chain per row, four chains in flight), then the four vectors are summed across lanes
// together: two interleave-and-add levels leave [sum a, sum b, sum c, sum d] in every 4-lane
// block, and the blocks are added: far fewer shuffles than four separate horizontal sums, which
// dominated the scores. A row's sum involves its own lanes only, so a score does not depend on
// the rows beside it.
template <class T>
HWY_INLINE void DotHead4(const float* q, const T* const* rows, int64_t head_dim, float* out) {
#if HWY_TARGET == HWY_SCALAR
  for (int j = 0; j < 4; ++j) out[j] = DotHead(q, rows[j], head_dim);
#else
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  auto a = hn::Zero(df), b = hn::Zero(df), c = hn::Zero(df), d = hn::Zero(df);
  int64_t i = 0;
  for (; i + lanes <= head_dim; i += lanes) {
    const auto qv = hn::LoadU(df, q + i);
    a = hn::MulAdd(qv, LoadAsF32(df, rows[0] + i), a);
    b = hn::MulAdd(qv, LoadAsF32(df, rows[1] + i), b);
    c = hn::MulAdd(qv, LoadAsF32(df, rows[2] + i), c);
    d = hn::MulAdd(qv, LoadAsF32(df, rows[3] + i), d);
  }
  const hn::RepartitionToWide<decltype(df)> dw;  // 64-bit lanes: pairs of floats
  const auto ab = hn::Add(hn::InterleaveLower(df, a, b), hn::InterleaveUpper(df, a, b));
  const auto cd = hn::Add(hn::InterleaveLower(df, c, d), hn::InterleaveUpper(df, c, d));
  const auto abw = hn::BitCast(dw, ab), cdw = hn::BitCast(dw, cd);
  const auto sums = hn::Add(hn::BitCast(df, hn::InterleaveLower(dw, abw, cdw)),
                            hn::BitCast(df, hn::InterleaveUpper(dw, abw, cdw)));
  StoreSumOfBlocks(df, sums, out);
  for (; i < head_dim; ++i) {
    for (int j = 0; j < 4; ++j) {
      if constexpr (sizeof(T) == 4) {
        out[j] += q[i] * static_cast<float>(rows[j][i]);
      } else {
        out[j] += q[i] * fp16_to_fp32(rows[j][i]);
      }
    }
  }
#endif
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

constexpr int64_t kAttentionBlock = 64;  // scores held at once

// One query's online-softmax state between blocks (its output accumulates in `out`).
struct QueryState {
  float running_max = -INFINITY;
  float running_sum = 0.0f;
};

// One block of n positions (n <= kAttentionBlock) starting at `start` for one query: the
// scores, one rescale of what was accumulated when the maximum grows, the block's weights
// exponentiated as vectors, and the value rows accumulated. A query's result depends only on
// its own positions and the block boundaries (multiples of kAttentionBlock from position 0),
// so it is the same whichever other queries were processed beside it.
template <class T>
HWY_INLINE void AttendBlock(const float* q, const T* k, const T* v, size_t stride, int64_t start,
                            int64_t n, int64_t head_dim, float scale, float* out,
                            QueryState& state) {
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  HWY_ALIGN float scores[kAttentionBlock];
  float block_max = -INFINITY;
  for (int64_t p = 0; p < n; p += 4) {
    // Past the block's end the last row is repeated; those scores are overwritten below.
    const T* rows[4];
    for (int64_t j = 0; j < 4; ++j) rows[j] = k + (start + std::min(p + j, n - 1)) * stride;
    DotHead4(q, rows, head_dim, scores + p);
  }
  for (int64_t p = 0; p < n; ++p) {
    scores[p] *= scale;
    block_max = std::max(block_max, scores[p]);
  }
  // A new maximum rescales what was accumulated so far.
  const float new_max = std::max(state.running_max, block_max);
  const float keep = std::exp(state.running_max - new_max);
  state.running_sum *= keep;
  state.running_max = new_max;
  if (keep != 1.0f) {
    for (int64_t i = 0; i < head_dim; ++i) out[i] *= keep;
  }
  // Weights exp(score - max), whole vectors (the lanes past n are computed, never used).
  std::fill(scores + n, scores + kAttentionBlock, new_max);
  const auto vmax = hn::Set(df, new_max);
  for (int64_t p = 0; p < n; p += lanes) {
    const auto x = hn::Sub(hn::Load(df, scores + p), vmax);
    hn::Store(hn::Exp(df, x), df, scores + p);
  }
  for (int64_t p = 0; p < n; ++p) state.running_sum += scores[p];
  AccumulateRows(out, scores, v + start * stride, stride, n, head_dim);
}

HWY_INLINE void FinishQuery(const QueryState& state, int64_t head_dim, float* out) {
  const float inverse = 1.0f / state.running_sum;
  for (int64_t i = 0; i < head_dim; ++i) out[i] *= inverse;
}

template <class T>
HWY_INLINE void AttentionHead(const float* q, const T* k, const T* v, size_t stride,
                              int64_t n_positions, int64_t head_dim, float scale, float* out) {
  QueryState state;
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t start = 0; start < n_positions; start += kAttentionBlock) {
    AttendBlock(q, k, v, stride, start, std::min(kAttentionBlock, n_positions - start), head_dim,
                scale, out, state);
  }
  FinishQuery(state, head_dim, out);
}

// Several queries against the same keys and values (the heads of a KV group, the tokens of a
// prompt chunk): block by block, every query that reaches the block takes it in turn while the
// block's keys and values are still in the L1 cache. Per query, exactly AttentionHead's
// arithmetic.
template <class T>
HWY_INLINE void AttentionQueries(const float* const* queries, float* const* outs,
                                 const int64_t* n_positions, int64_t n_queries, const T* k,
                                 const T* v, size_t stride, int64_t head_dim, float scale) {
  constexpr int64_t kMaxQueries = 64;
  QueryState states[kMaxQueries];
  for (int64_t first = 0; first < n_queries; first += kMaxQueries) {
    const int64_t count = std::min(kMaxQueries, n_queries - first);
    int64_t longest = 0;
    for (int64_t j = 0; j < count; ++j) {
      states[j] = QueryState{};
      std::fill(outs[first + j], outs[first + j] + head_dim, 0.0f);
      longest = std::max(longest, n_positions[first + j]);
    }
    for (int64_t start = 0; start < longest; start += kAttentionBlock) {
      for (int64_t j = 0; j < count; ++j) {
        const int64_t n = std::min(kAttentionBlock, n_positions[first + j] - start);
        if (n <= 0) continue;
        AttendBlock(queries[first + j], k, v, stride, start, n, head_dim, scale, outs[first + j],
                    states[j]);
      }
    }
    for (int64_t j = 0; j < count; ++j) FinishQuery(states[j], head_dim, outs[first + j]);
  }
}

void AttentionHeadF16(const float* q, const uint16_t* k, const uint16_t* v, size_t stride,
                      int64_t n_positions, int64_t head_dim, float scale, float* out) {
  AttentionHead(q, k, v, stride, n_positions, head_dim, scale, out);
}

void AttentionHeadF32(const float* q, const float* k, const float* v, size_t stride,
                      int64_t n_positions, int64_t head_dim, float scale, float* out) {
  AttentionHead(q, k, v, stride, n_positions, head_dim, scale, out);
}

void AttentionQueriesF16(const float* const* queries, float* const* outs,
                         const int64_t* n_positions, int64_t n_queries, const uint16_t* k,
                         const uint16_t* v, size_t stride, int64_t head_dim, float scale) {
  AttentionQueries(queries, outs, n_positions, n_queries, k, v, stride, head_dim, scale);
}

void AttentionQueriesF32(const float* const* queries, float* const* outs,
                         const int64_t* n_positions, int64_t n_queries, const float* k,
                         const float* v, size_t stride, int64_t head_dim, float scale) {
  AttentionQueries(queries, outs, n_positions, n_queries, k, v, stride, head_dim, scale);
}

}  // namespace cove::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
