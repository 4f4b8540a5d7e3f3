// A read-only view of a 2-D weight matrix stored in any tensor type.
//
// Orientation, used by every kernel: a matrix has n_rows rows of n_cols weights; each row is
// contiguous (n_cols is the GGUF tensor's shape[0]). A matrix-vector product is
// y[r] = dot(row r, x) with x of length n_cols and y of length n_rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/tensor_type.h"

namespace cove::tensor {

struct Matrix {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  int64_t n_cols = 0;
  int64_t n_rows = 0;
  size_t row_bytes = 0;
  // True when `data` holds the load-time repacked layout of kernels/repack.h (16 rows
  // interleaved per block) instead of row-major rows; row() is then meaningless, and row_bytes
  // still gives the size of one row in the original layout.
  bool repacked = false;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
  size_t n_bytes() const { return row_bytes * static_cast<size_t>(n_rows); }
};

}  // namespace cove::tensor
