// Element-wise and small ops of the transformer block. All work in place or on caller-owned
// buffers and never allocate.
//
// The fast path's kernels (rms_norm, silu_mul, ...) are vectorized per SIMD target (ops-inl.h)
// and differ from their scalar references (the *_reference functions, used by the reference
// engine) in the last bits only. Every result depends on its own element or row alone, never
// on the batch around it.
#pragma once

#include <cstdint>

namespace cove::kernels {

// out = x / sqrt(mean(x^2) + eps) * weight, over n values. `out` may alias `x`.
void rms_norm(const float* x, const float* weight, float eps, int64_t n, float* out);
void rms_norm_reference(const float* x, const float* weight, float eps, int64_t n, float* out);

// Rotary position embedding applied in place to one head of `head_dim` values. Only the first
// `rope_dim` values rotate. Pairs are (i, i+1) for the original layout ("normal", Llama GGUFs)
// or (i, i + rope_dim/2) for NeoX style (Qwen2). `cos_sin` holds rope_dim/2 (cos, sin) pairs
// for this position (see rope_angles).
enum class RopeStyle { kNormal, kNeox };
void rope_apply(float* head, int64_t rope_dim, RopeStyle style, const float* cos_sin);

// x[i] = silu(x[i]) * y[i]; silu(v) = v / (1 + exp(-v)). The fast one uses a vector exp
// (1 ulp); the reference calls std::exp per element.
void silu_mul(float* x, const float* y, int64_t n);
void silu_mul_reference(float* x, const float* y, int64_t n);

// In-place softmax of n values.
void softmax(float* x, int64_t n);

// a[i] += b[i]
void add(float* a, const float* b, int64_t n);

// Reductions over a row of logits (n >= 1), for sampling and log-probabilities.
// The largest value.
float max_value(const float* x, int64_t n);
// The first index of the largest value (NaNs are never chosen unless all are NaN).
int64_t argmax(const float* x, int64_t n);
// sum of exp(x[i] - shift), with exp in float and the sum in double.
double sum_exp(const float* x, int64_t n, float shift);
double sum_exp_reference(const float* x, int64_t n, float shift);

// F32 to F16 bits, rounding to nearest even (as core/half.h's fp32_to_fp16, which is the
// reference).
void f32_to_f16(const float* x, uint16_t* out, int64_t n);

}  // namespace cove::kernels
