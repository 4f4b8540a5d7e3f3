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

// Several queries against the same keys and values: query j (head_dim floats at queries[j])
// attends to positions [0, n_positions[j]) and writes outs[j]. Each query's result is
// bit-identical to attention_head_* for it alone; the point is that a block of keys and values
// is loaded once for all the queries that reach it (the heads sharing a KV head, a prompt
// chunk's tokens), instead of once per query.
void attention_queries_f16(const float* const* queries, float* const* outs,
                           const int64_t* n_positions, int64_t n_queries, const uint16_t* k,
                           const uint16_t* v, size_t stride, int64_t head_dim, float scale);
void attention_queries_f32(const float* const* queries, float* const* outs,
                           const int64_t* n_positions, int64_t n_queries, const float* k,
                           const float* v, size_t stride, int64_t head_dim, float scale);

// Scalar reference: all scores, an exact softmax in double, then the weighted sum.
void attention_head_reference(const float* q, const float* k, const float* v, size_t stride,
                              int64_t n_positions, int64_t head_dim, float scale, float* out);

}  // namespace cove::kernels
