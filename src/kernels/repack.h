// The load-time repacked weight layout for the AVX-512 VNNI kernels (Q4_0, Q5_0, Q8_0, Q4_K,
// Q6_K).
//
// vpdpbusd multiplies 64 unsigned by 64 signed bytes and sums them in fours into 16 int32
// lanes. Row-major rows put one row's weights across the lanes, so every (row, token) pair ends
// in a horizontal sum. The repacked layout puts rows in lanes instead: 16 consecutive rows form
// a group, and every 64-byte vector holds, for each of the 16 rows, 4 bytes at bytes 4i..4i+3
// (lane i = row i). A token then broadcasts 4 activation bytes per vector, and vpdpbusd gives
// the 16 rows' integer sums in the 16 lanes.
//
// A matrix is cut into units of `unit` weights per row (32 for the block types, 256 for the
// K types); group g, unit u is one record of `weight_bytes` in the weights region (at
// (g * n_units + u) * weight_bytes) and one of `scale_bytes` in the scales region after it.
// "Row i's bytes B" below means: vector v of the record holds them at bytes 4i..4i+3.
//   Q4_0 (256 + 32): vector v (0..3) holds qs[4v..4v+3], so its low nibbles are weights
//        4v..4v+3 and its high nibbles weights 16+4v..16+4v+3 (unsigned 0..15; the -8 is
//        applied through the activation sums). Scales: the 16 rows' F16 d.
//   Q5_0 (320 + 32): the four Q4_0 vectors of qs, then one vector of high bits rearranged so
//        that byte c of row i holds, in bit 2v, the high bit of weight 4v+c and, in bit 2v+1,
//        that of weight 16+4v+c (v = 0..3): one shift and mask per vector puts a fifth bit
//        under each nibble. Scales: the 16 rows' F16 d.
//   Q8_0 (512 + 32): vector k (0..7) holds weights 4k..4k+3 plus 128 as unsigned bytes (the
//        -128 is applied through the activation sums). Scales: the 16 rows' F16 d.
//   Q4_K (2048 + 320): vector 8c + v holds qs[32c+4v..32c+4v+3] (chunk c = 0..3): low
//        nibbles are sub-block 2c's weights 4v..4v+3, high nibbles sub-block 2c+1's. Scales:
//        8 x 16 bytes of 6-bit scales (sub-block j, row i at 16j + i), 8 x 16 bytes of 6-bit
//        mins, then the 16 rows' F16 d and F16 dmin.
//   Q6_K (3072 + 288): vectors 0..31 hold ql (vector 16h + 8p + v: ql[64h+32p+4v..+3], for
//        half h, part p), vectors 32..47 hold qh (vector 32 + 8h + v: qh[32h+4v..+3]). Scales:
//        16 x 16 signed bytes (sub-block j, row i at 16j + i), then the 16 rows' F16 d.
// The last group is padded with zero rows (scale 0). Sizes equal the original's up to that
// padding (Q4_K: 6-bit scales stored as bytes, 2.8% more), so the repacked copy replaces the
// mapped file pages instead of doubling them. Every layout restores the file's bytes exactly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/matrix.h"

namespace cove::kernels {

constexpr int64_t kRepackRows = 16;

// One group-unit record of a repacked type.
struct RepackLayout {
  int64_t unit;         // weights per row in one record: 32 or 256
  size_t weight_bytes;  // its quant vectors (a multiple of 64)
  size_t scale_bytes;   // its scales
};

// Whether matrices of `type` have a repacked layout at all.
bool repack_supported(tensor::TensorType type);
// Whether repacking pays on this CPU: AVX-512 with VNNI, and the SIMD target in use is AVX3.
bool repack_pays();

// The record sizes of a supported type.
RepackLayout repack_layout(tensor::TensorType type);
// Bytes of the repacked copy of a matrix of `type` with n_rows rows of n_cols weights.
size_t repacked_bytes(tensor::TensorType type, int64_t n_rows, int64_t n_cols);

// Writes the repacked copy of rows [group_begin * 16, group_end * 16) of row-major `w` into
// `out` (repacked_bytes(...) bytes for the whole matrix; groups may be filled in parallel).
void repack_groups(const tensor::Matrix& w, int64_t group_begin, int64_t group_end, uint8_t* out);

// Restores n rows starting at `row` of a repacked matrix to the original row-major blocks
// (row_bytes each, bit-identical to the file's), for the reference kernels and the targets
// without the repacked kernels.
void unpack_repacked_rows(const tensor::Matrix& w, int64_t row, int64_t n, uint8_t* out);

}  // namespace cove::kernels
