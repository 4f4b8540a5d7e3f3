// Repacking row-major Q4_0 / Q8_0 matrices into the rows-in-lanes layout of kernels/repack.h,
// and restoring row-major blocks from it.
#include "kernels/repack.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/quantized_dot.h"
#include "tensor/blocks.h"

namespace cove::kernels {
namespace {

constexpr size_t kScaleBytes = 2 * kRepackRows;  // 16 F16 scales per group-block

int64_t n_groups(int64_t n_rows) { return (n_rows + kRepackRows - 1) / kRepackRows; }

// Where group g, block b's weights and scales lie in a repacked matrix.
struct GroupBlock {
  uint8_t* weights;
  uint8_t* scales;
};

GroupBlock locate(tensor::TensorType type, uint8_t* data, int64_t n_rows, int64_t n_blocks,
                  int64_t g, int64_t b) {
  const size_t wb = repacked_group_block_bytes(type);
  const size_t index = static_cast<size_t>(g * n_blocks + b);
  const size_t weight_region = static_cast<size_t>(n_groups(n_rows) * n_blocks) * wb;
  return {data + index * wb, data + weight_region + index * kScaleBytes};
}

}  // namespace

bool repack_supported(tensor::TensorType type) {
  return type == tensor::TensorType::Q4_0 || type == tensor::TensorType::Q8_0;
}

bool repack_pays() {
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  if (!vnni) return false;
  const std::string target = active_target();
  return target == "AVX3" || target == "AVX3_DL" || target == "AVX3_ZEN4" || target == "AVX3_SPR";
}

size_t repacked_group_block_bytes(tensor::TensorType type) {
  return type == tensor::TensorType::Q4_0 ? 256 : 512;
}

size_t repacked_bytes(tensor::TensorType type, int64_t n_rows, int64_t n_cols) {
  const int64_t blocks = n_groups(n_rows) * (n_cols / 32);
  return static_cast<size_t>(blocks) * (repacked_group_block_bytes(type) + kScaleBytes);
}

void repack_groups(const tensor::Matrix& w, int64_t group_begin, int64_t group_end,
                   uint8_t* out) {
  const int64_t n_blocks = w.n_cols / 32;
  const bool q4 = w.type == tensor::TensorType::Q4_0;
  for (int64_t g = group_begin; g < group_end; ++g) {
    for (int64_t b = 0; b < n_blocks; ++b) {
      GroupBlock dst = locate(w.type, out, w.n_rows, n_blocks, g, b);
      std::memset(dst.weights, 0, repacked_group_block_bytes(w.type));
      std::memset(dst.scales, 0, kScaleBytes);
      for (int64_t i = 0; i < kRepackRows; ++i) {
        const int64_t r = g * kRepackRows + i;
        if (r >= w.n_rows) break;
        if (q4) {
          const auto& blk = reinterpret_cast<const tensor::BlockQ4_0*>(w.row(r))[b];
          for (int v = 0; v < 4; ++v) std::memcpy(dst.weights + 64 * v + 4 * i, blk.qs + 4 * v, 4);
          std::memcpy(dst.scales + 2 * i, &blk.d, 2);
        } else {
          const auto& blk = reinterpret_cast<const tensor::BlockQ8_0*>(w.row(r))[b];
          for (int v = 0; v < 8; ++v) {
            for (int k = 0; k < 4; ++k) {
              dst.weights[64 * v + 4 * i + k] = static_cast<uint8_t>(blk.qs[4 * v + k] + 128);
            }
          }
          std::memcpy(dst.scales + 2 * i, &blk.d, 2);
        }
      }
    }
  }
}

void unpack_repacked_rows(const tensor::Matrix& w, int64_t row, int64_t n, uint8_t* out) {
  const int64_t n_blocks = w.n_cols / 32;
  const bool q4 = w.type == tensor::TensorType::Q4_0;
  auto* data = const_cast<uint8_t*>(w.data);  // only read through locate()
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = row + k;
    const int64_t g = r / kRepackRows, i = r % kRepackRows;
    uint8_t* dst_row = out + static_cast<size_t>(k) * w.row_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const GroupBlock src = locate(w.type, data, w.n_rows, n_blocks, g, b);
      if (q4) {
        auto& blk = reinterpret_cast<tensor::BlockQ4_0*>(dst_row)[b];
        for (int v = 0; v < 4; ++v) std::memcpy(blk.qs + 4 * v, src.weights + 64 * v + 4 * i, 4);
        std::memcpy(&blk.d, src.scales + 2 * i, 2);
      } else {
        auto& blk = reinterpret_cast<tensor::BlockQ8_0*>(dst_row)[b];
        for (int v = 0; v < 8; ++v) {
          for (int j = 0; j < 4; ++j) {
            blk.qs[4 * v + j] = static_cast<int8_t>(src.weights[64 * v + 4 * i + j] - 128);
          }
        }
        std::memcpy(&blk.d, src.scales + 2 * i, 2);
      }
    }
  }
}

}  // namespace cove::kernels
