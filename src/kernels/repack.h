// The load-time repacked weight layout for the AVX-512 VNNI kernels (Q4_0 and Q8_0).
//
// vpdpbusd multiplies 64 unsigned by 64 signed bytes and sums them in fours into 16 int32
// lanes. Row-major rows put one row's weights across the lanes, so every (row, token) pair ends
// in a horizontal sum. The repacked layout puts rows in lanes instead: 16 consecutive rows form
// a group, and for each 32-weight block b of the group one 64-byte vector holds, for each of the
// 16 rows, 4 consecutive weights (lane i = row i). A token then broadcasts 4 activation bytes
// per vector, and 8 vpdpbusd give the 16 rows' integer block sums in the 16 lanes.
//
// A repacked matrix is two regions:
//   weights: for group g, block b (at (g * n_blocks + b) * kGroupBlockBytes):
//     Q4_0: 4 vectors of 64 bytes; vector L holds row i's original bytes qs[4L..4L+3] at
//           bytes 4i..4i+3, so its low nibbles are weights 4L..4L+3 and its high nibbles
//           weights 16+4L..16+4L+3 (256 bytes, nibbles unsigned 0..15, offset -8 applied
//           through the activation sums).
//     Q8_0: 8 vectors of 64 bytes; vector k holds row i's weights 4k..4k+3 plus 128 as
//           unsigned bytes (512 bytes; offset -128 applied through the activation sums).
//   scales: for group g, block b (at (g * n_blocks + b) * 32 after the weights): the 16 rows'
//     F16 block scales.
// The last group is padded with zero rows (scale 0). Sizes equal the original's up to that
// padding, so the repacked copy replaces the mapped file pages instead of doubling them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/matrix.h"

namespace cove::kernels {

constexpr int64_t kRepackRows = 16;

// Whether matrices of `type` have a repacked layout (Q4_0, Q8_0) at all.
bool repack_supported(tensor::TensorType type);
// Whether repacking pays on this CPU: AVX-512 with VNNI, and the SIMD target in use is AVX3.
bool repack_pays();

// Bytes of the repacked copy of a matrix of `type` with n_rows rows of n_cols weights.
size_t repacked_bytes(tensor::TensorType type, int64_t n_rows, int64_t n_cols);
// Bytes of one group-block of weights (Q4_0: 256, Q8_0: 512).
size_t repacked_group_block_bytes(tensor::TensorType type);

// Writes the repacked copy of rows [group_begin * 16, group_end * 16) of row-major `w` into
// `out` (repacked_bytes(...) bytes for the whole matrix; groups may be filled in parallel).
void repack_groups(const tensor::Matrix& w, int64_t group_begin, int64_t group_end, uint8_t* out);

// Restores n rows starting at `row` of a repacked matrix to the original row-major blocks
// (row_bytes each, bit-identical to the file's), for the reference kernels and the targets
// without the repacked kernels.
void unpack_repacked_rows(const tensor::Matrix& w, int64_t row, int64_t n, uint8_t* out);

}  // namespace cove::kernels
