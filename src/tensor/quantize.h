// Scalar reference quantizers: a row of floats into blocks (the inverse of dequantize.h).
//
// Two kinds:
//   - Round-to-nearest, bit-exact with the reference tools of the GGUF ecosystem: F32, F16, BF16,
//     Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 and Q8_K (the last two quantize activations for dot
//     products with the K types and with Q4_1/Q5_1).
//   - Searched, for the K types Q2_K, Q3_K, Q4_K, Q5_K and Q6_K: each sub-block's scale (and min)
//     is chosen by a weighted least-squares search, the sub-block scales are then quantized
//     against the super-block scale, and a last pass moves each quantized scale by one step where
//     that lowers the error. The result is not byte-identical to other tools; it is meant to be
//     at least as close to the input.
#pragma once

#include <cstdint>

#include "tensor/tensor_type.h"

namespace cove::tensor {

// True for the types quantize_row accepts.
bool can_quantize(TensorType type);

// Quantizes n floats from `src` into row_size(type, n) bytes at `dst`. n must be a multiple of
// the type's block size and can_quantize(type) true: callers check both; anything else aborts.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n);

}  // namespace cove::tensor
