// Element-wise and small ops of the transformer block, scalar. They cost little next to the
// matrix products; all work in place or on caller-owned buffers and never allocate.
#pragma once

#include <cstdint>

namespace cove::kernels {

// out = x / sqrt(mean(x^2) + eps) * weight, over n values. `out` may alias `x`.
void rms_norm(const float* x, const float* weight, float eps, int64_t n, float* out);

// Rotary position embedding applied in place to one head of `head_dim` values. Only the first
// `rope_dim` values rotate. Pairs are (i, i+1) for the original layout ("normal", Llama GGUFs)
// or (i, i + rope_dim/2) for NeoX style (Qwen2). `cos_sin` holds rope_dim/2 (cos, sin) pairs
// for this position (see rope_angles).
enum class RopeStyle { kNormal, kNeox };
void rope_apply(float* head, int64_t rope_dim, RopeStyle style, const float* cos_sin);

// x[i] = silu(x[i]) * y[i]; silu(v) = v / (1 + exp(-v)).
void silu_mul(float* x, const float* y, int64_t n);

// In-place softmax of n values.
void softmax(float* x, int64_t n);

// a[i] += b[i]
void add(float* a, const float* b, int64_t n);

}  // namespace cove::kernels
