// Scalar reference dequantizers: a row of quantized blocks back to float.
//
// These are the definition of what each block format means; SIMD kernels are tested against
// them. The arithmetic is done in float in the same order as the reference tools of the GGUF
// ecosystem (for example Q4_K computes (d * scale) * q - (dmin * min)), so dequantized values
// are bit-identical to theirs and exact goldens can be compared.
#pragma once

#include <cstdint>

#include "tensor/tensor_type.h"

namespace cove::tensor {

// Dequantizes n weights from `src` (row_size(type, n) bytes) into dst[0..n).
// n must be a multiple of the type's block size, and traits(type).can_dequantize must be true:
// callers check both; anything else aborts.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

}  // namespace cove::tensor
