// Dot products of quantized weight rows with activations quantized on the fly to 8 bits.
//
// The fast path of every matrix product: activations (F32) are rounded once per token into
// Q8 blocks of 32 values with a float scale, then each weight row is multiplied with them in
// integer arithmetic and scaled per block. That is how the reference engine computes as well
// (its deviation from exact in the goldens is mostly this rounding).
//
// Every weight block is read as small unsigned integers q (0..63, or a signed 8-bit value for
// Q8_0) with an affine map per 16 weights: w = A * q + B. The dot product of a 32-weight chunk
// with an activation block (scale da, values qa, scaled half sums s0, s1) is then
//   da * (A0 * sum(q*qa over the first 16) + A1 * (the second 16)) + B0 * s0 + B1 * s1,
// so the integer inner loop is the same for all types and only the unpacking differs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/matrix.h"
#include "tensor/tensor_type.h"

namespace cove::kernels {

// One block of 32 activations: x[i] ~= d * q[i]; s[h] = d * (q[16h] + ... + q[16h + 15]), the
// block's halves summed once so that weight offsets cost one multiply per half.
struct Q8Activations {
  float d;
  float s[2];
  int8_t q[32];
};
static_assert(sizeof(Q8Activations) == 44, "Q8Activations must be 44 bytes");

// True when weights of `type` have an integer dot kernel (all quantized types cove runs).
bool has_quantized_dot(tensor::TensorType type);

// Rounds n floats (n a multiple of 32) into n / 32 blocks.
void quantize_activations(const float* x, Q8Activations* out, int64_t n);

// dot(weight row of n weights, activations of the same n values).
float quantized_dot(tensor::TensorType type, const void* row, const Q8Activations* x, int64_t n);

// Four consecutive weight rows (row_bytes apart) against one activation row: out[0..3]. Lets
// the batched kernels load each activation block once for several rows.
void quantized_dot_x4(tensor::TensorType type, const void* rows, size_t row_bytes,
                      const Q8Activations* x, int64_t n, float* out);

// y[r * y_stride] = dot(row r, x) for n_rows consecutive rows of row_bytes each.
void quantized_dot_rows(tensor::TensorType type, const uint8_t* rows, size_t row_bytes,
                        int64_t n_rows, const Q8Activations* x, int64_t n, float* y,
                        int64_t y_stride);

// Rows [row_begin, row_end) of a weight matrix (n weights per row) against n_tokens activation
// rows (n / 32 blocks each): y[t * y_stride + r]. The batched kernel behind kernels::matmul.
// `scratch` holds quantized_matmul_scratch_bytes(type, n, n_tokens) bytes (64-byte aligned) that
// the calling thread owns; it may be null when that size is 0.
void quantized_matmul_rows(tensor::TensorType type, const uint8_t* w, size_t row_bytes, int64_t n,
                           int64_t row_begin, int64_t row_end, const Q8Activations* x,
                           int64_t n_tokens, float* y, int64_t y_stride, void* scratch);
size_t quantized_matmul_scratch_bytes(tensor::TensorType type, int64_t n, int64_t n_tokens);

// A repacked matrix (w.repacked, kernels/repack.h): its 16-row groups [group_begin, group_end)
// against n_tokens activation rows; xsum holds each activation block's weight-offset
// corrections (repacked_activation_offsets), n_tokens * n / 16 values. y[t * y_stride + r] as
// above. `scratch` holds repacked_matmul_scratch_bytes(w) bytes owned by the calling thread.
void repacked_matmul_groups(const tensor::Matrix& w, int64_t group_begin, int64_t group_end,
                            const Q8Activations* x, const int32_t* xsum, int64_t n_tokens,
                            float* y, int64_t y_stride, void* scratch);
size_t repacked_matmul_scratch_bytes(const tensor::Matrix& w);
// out[2b + h] = offset * (x[b].q[16h] + ... + x[b].q[16h + 15]) for n_blocks blocks and halves
// h = 0, 1, where offset is what the repacked layout of `type` adds to every weight, negated
// (Q4_0: -8, Q5_0: -16, Q8_0: -128, Q6_K: -32; Q4_K: 0, its mins use the float sums).
void repacked_activation_offsets(tensor::TensorType type, const Q8Activations* x,
                                 int64_t n_blocks, int32_t* out);

// Scalar references: the same integer arithmetic in plain C++, block by block.
void quantize_activations_reference(const float* x, Q8Activations* out, int64_t n);
float quantized_dot_reference(tensor::TensorType type, const void* row, const Q8Activations* x,
                              int64_t n);

// The SIMD targets compiled into this binary and the one in use ("AVX3", "AVX2", ...).
std::vector<std::string> compiled_targets();
std::string active_target();
// Restricts dispatch to one compiled target (tests, --simd); false if it is not supported here.
bool force_target(const std::string& name);
void reset_target();

}  // namespace cove::kernels
