#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/attention-inl.h"

#if HWY_ONCE
#include <cmath>
#include <vector>

#include "kernels/attention.h"

namespace cove::kernels {

HWY_EXPORT(AttentionHeadF16);
HWY_EXPORT(AttentionHeadF32);
HWY_EXPORT(AttentionQueriesF16);
HWY_EXPORT(AttentionQueriesF32);

void attention_head_f16(const float* q, const uint16_t* k, const uint16_t* v, size_t stride,
                        int64_t n_positions, int64_t head_dim, float scale, float* out) {
  HWY_DYNAMIC_DISPATCH(AttentionHeadF16)(q, k, v, stride, n_positions, head_dim, scale, out);
}

void attention_head_f32(const float* q, const float* k, const float* v, size_t stride,
                        int64_t n_positions, int64_t head_dim, float scale, float* out) {
  HWY_DYNAMIC_DISPATCH(AttentionHeadF32)(q, k, v, stride, n_positions, head_dim, scale, out);
}

void attention_queries_f16(const float* const* queries, float* const* outs,
                           const int64_t* n_positions, int64_t n_queries, const uint16_t* k,
                           const uint16_t* v, size_t stride, int64_t head_dim, float scale) {
  HWY_DYNAMIC_DISPATCH(AttentionQueriesF16)(queries, outs, n_positions, n_queries, k, v, stride,
                                            head_dim, scale);
}

void attention_queries_f32(const float* const* queries, float* const* outs,
                           const int64_t* n_positions, int64_t n_queries, const float* k,
                           const float* v, size_t stride, int64_t head_dim, float scale) {
  HWY_DYNAMIC_DISPATCH(AttentionQueriesF32)(queries, outs, n_positions, n_queries, k, v, stride,
                                            head_dim, scale);
}

void attention_head_reference(const float* q, const float* k, const float* v, size_t stride,
                              int64_t n_positions, int64_t head_dim, float scale, float* out) {
  std::vector<double> scores(static_cast<size_t>(n_positions));
  double max = -INFINITY;
  for (int64_t p = 0; p < n_positions; ++p) {
    double dot = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) dot += static_cast<double>(q[i]) * k[p * stride + i];
    scores[p] = dot * scale;
    max = std::max(max, scores[p]);
  }
  double sum = 0.0;
  for (double& s : scores) {
    s = std::exp(s - max);
    sum += s;
  }
  for (int64_t i = 0; i < head_dim; ++i) {
    double acc = 0.0;
    for (int64_t p = 0; p < n_positions; ++p) acc += scores[p] * v[p * stride + i];
    out[i] = static_cast<float>(acc / sum);
  }
}

}  // namespace cove::kernels
#endif  // HWY_ONCE
