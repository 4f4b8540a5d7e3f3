// Attention of one query head against a run of cached keys and values.
//
// Keys and values of position p sit at k + p * stride (and v + p * stride), head_dim values
// each, in F32 or F16. The softmax is computed online over blocks of positions (the running
// maximum and sum are rescaled as they grow), so no score row longer than one block is ever
// held: memory stays constant however long the context.
//   out = sum_p softmax_p(scale * q.k_p) * v_p
#pragma once

#include <cstddef>
#include <cstdint>

namespace cove::kernels {

void attention_head_f16(const float* q, const uint16_t* k, const uint16_t* v, size_t stride,
                        int64_t n_positions, int64_t head_dim, float scale, float* out);
void attention_head_f32(const float* q, const float* k, const float* v, size_t stride,
                        int64_t n_positions, int64_t head_dim, float scale, float* out);

// Scalar reference: all scores, an exact softmax in double, then the weighted sum.
void attention_head_reference(const float* q, const float* k, const float* v, size_t stride,
                              int64_t n_positions, int64_t head_dim, float scale, float* out);

}  // namespace cove::kernels
