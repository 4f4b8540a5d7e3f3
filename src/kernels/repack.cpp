// Repacking row-major quantized matrices into the rows-in-lanes layout of kernels/repack.h, and
// restoring row-major blocks from it. Each type has a pair of functions that move one row's
// block into lane i of a group record and back; everything else is shared.
#include "kernels/repack.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/quantized_dot.h"
#include "tensor/blocks.h"

namespace cove::kernels {
namespace {

using tensor::TensorType;

int64_t n_groups(int64_t n_rows) {
  return (n_rows + kRepackRows - 1) / kRepackRows;
}

// Group g, unit u of a repacked matrix: its quant vectors and its scales.
struct Record {
  uint8_t* weights;
  uint8_t* scales;
};

Record locate(const RepackLayout& layout, uint8_t* data, int64_t n_rows, int64_t n_units, int64_t g,
              int64_t u) {
  const size_t index = static_cast<size_t>(g * n_units + u);
  const size_t weight_region =
      static_cast<size_t>(n_groups(n_rows) * n_units) * layout.weight_bytes;
  return {data + index * layout.weight_bytes, data + weight_region + index * layout.scale_bytes};
}

// The 4 bytes of row i in vector v of a record.
uint8_t* lane(uint8_t* weights, int v, int64_t i) {
  return weights + 64 * v + 4 * i;
}

uint32_t load_u32(const uint8_t* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24;
}

// ---- Q4_0 ----
void pack_q4_0(const tensor::BlockQ4_0& blk, int64_t i, Record r) {
  for (int v = 0; v < 4; ++v) std::memcpy(lane(r.weights, v, i), blk.qs + 4 * v, 4);
  std::memcpy(r.scales + 2 * i, &blk.d, 2);
}
void unpack_q4_0(Record r, int64_t i, tensor::BlockQ4_0& blk) {
  for (int v = 0; v < 4; ++v) std::memcpy(blk.qs + 4 * v, lane(r.weights, v, i), 4);
  std::memcpy(&blk.d, r.scales + 2 * i, 2);
}

// ---- Q5_0: the Q4_0 vectors, then the high bits rearranged (bit 2v of byte c: weight 4v + c;
// bit 2v + 1: weight 16 + 4v + c). ----
void pack_q5_0(const tensor::BlockQ5_0& blk, int64_t i, Record r) {
  for (int v = 0; v < 4; ++v) std::memcpy(lane(r.weights, v, i), blk.qs + 4 * v, 4);
  const uint32_t qh = load_u32(blk.qh);
  uint8_t* high = lane(r.weights, 4, i);
  for (int c = 0; c < 4; ++c) {
    uint8_t byte = 0;
    for (int v = 0; v < 4; ++v) {
      byte |= static_cast<uint8_t>(((qh >> (4 * v + c)) & 1) << (2 * v));
      byte |= static_cast<uint8_t>(((qh >> (16 + 4 * v + c)) & 1) << (2 * v + 1));
    }
    high[c] = byte;
  }
  std::memcpy(r.scales + 2 * i, &blk.d, 2);
}
void unpack_q5_0(Record r, int64_t i, tensor::BlockQ5_0& blk) {
  for (int v = 0; v < 4; ++v) std::memcpy(blk.qs + 4 * v, lane(r.weights, v, i), 4);
  const uint8_t* high = lane(r.weights, 4, i);
  uint32_t qh = 0;
  for (int c = 0; c < 4; ++c) {
    for (int v = 0; v < 4; ++v) {
      qh |= uint32_t{(high[c] >> (2 * v)) & 1u} << (4 * v + c);
      qh |= uint32_t{(high[c] >> (2 * v + 1)) & 1u} << (16 + 4 * v + c);
    }
  }
  for (int k = 0; k < 4; ++k) blk.qh[k] = static_cast<uint8_t>(qh >> (8 * k));
  std::memcpy(&blk.d, r.scales + 2 * i, 2);
}

// ---- Q8_0: weights + 128 as unsigned bytes ----
void pack_q8_0(const tensor::BlockQ8_0& blk, int64_t i, Record r) {
  for (int v = 0; v < 8; ++v) {
    for (int k = 0; k < 4; ++k) {
      lane(r.weights, v, i)[k] = static_cast<uint8_t>(blk.qs[4 * v + k] + 128);
    }
  }
  std::memcpy(r.scales + 2 * i, &blk.d, 2);
}
void unpack_q8_0(Record r, int64_t i, tensor::BlockQ8_0& blk) {
  for (int v = 0; v < 8; ++v) {
    for (int k = 0; k < 4; ++k) {
      blk.qs[4 * v + k] = static_cast<int8_t>(lane(r.weights, v, i)[k] - 128);
    }
  }
  std::memcpy(&blk.d, r.scales + 2 * i, 2);
}

// ---- Q4_K ----
void pack_q4_k(const tensor::BlockQ4_K& blk, int64_t i, Record r) {
  for (int v = 0; v < 32; ++v) std::memcpy(lane(r.weights, v, i), blk.qs + 4 * v, 4);
  for (int j = 0; j < 8; ++j) {
    const tensor::ScaleMin sm = tensor::k4_scale_min(blk.scales, j);
    r.scales[16 * j + i] = sm.scale;
    r.scales[128 + 16 * j + i] = sm.min;
  }
  std::memcpy(r.scales + 256 + 2 * i, &blk.d, 2);
  std::memcpy(r.scales + 288 + 2 * i, &blk.dmin, 2);
}
void unpack_q4_k(Record r, int64_t i, tensor::BlockQ4_K& blk) {
  for (int v = 0; v < 32; ++v) std::memcpy(blk.qs + 4 * v, lane(r.weights, v, i), 4);
  uint8_t scale[8], min[8];
  for (int j = 0; j < 8; ++j) {
    scale[j] = r.scales[16 * j + i];
    min[j] = r.scales[128 + 16 * j + i];
  }
  tensor::pack_k4_scales_mins(scale, min, blk.scales);
  std::memcpy(&blk.d, r.scales + 256 + 2 * i, 2);
  std::memcpy(&blk.dmin, r.scales + 288 + 2 * i, 2);
}

// ---- Q6_K: ql in 32 vectors, qh in 16, both in their original byte order per row ----
void pack_q6_k(const tensor::BlockQ6_K& blk, int64_t i, Record r) {
  for (int v = 0; v < 32; ++v) std::memcpy(lane(r.weights, v, i), blk.ql + 4 * v, 4);
  for (int v = 0; v < 16; ++v) std::memcpy(lane(r.weights, 32 + v, i), blk.qh + 4 * v, 4);
  for (int j = 0; j < 16; ++j) r.scales[16 * j + i] = static_cast<uint8_t>(blk.scales[j]);
  std::memcpy(r.scales + 256 + 2 * i, &blk.d, 2);
}
void unpack_q6_k(Record r, int64_t i, tensor::BlockQ6_K& blk) {
  for (int v = 0; v < 32; ++v) std::memcpy(blk.ql + 4 * v, lane(r.weights, v, i), 4);
  for (int v = 0; v < 16; ++v) std::memcpy(blk.qh + 4 * v, lane(r.weights, 32 + v, i), 4);
  for (int j = 0; j < 16; ++j) blk.scales[j] = static_cast<int8_t>(r.scales[16 * j + i]);
  std::memcpy(&blk.d, r.scales + 256 + 2 * i, 2);
}

// Block u of a row into lane i of record r.
void pack_block(TensorType type, const uint8_t* row, int64_t u, int64_t i, Record r) {
  switch (type) {
    case TensorType::Q4_0:
      pack_q4_0(reinterpret_cast<const tensor::BlockQ4_0*>(row)[u], i, r);
      break;
    case TensorType::Q5_0:
      pack_q5_0(reinterpret_cast<const tensor::BlockQ5_0*>(row)[u], i, r);
      break;
    case TensorType::Q8_0:
      pack_q8_0(reinterpret_cast<const tensor::BlockQ8_0*>(row)[u], i, r);
      break;
    case TensorType::Q4_K:
      pack_q4_k(reinterpret_cast<const tensor::BlockQ4_K*>(row)[u], i, r);
      break;
    case TensorType::Q6_K:
      pack_q6_k(reinterpret_cast<const tensor::BlockQ6_K*>(row)[u], i, r);
      break;
    default:
      break;
  }
}

void unpack_block(TensorType type, Record r, int64_t i, uint8_t* row, int64_t u) {
  switch (type) {
    case TensorType::Q4_0:
      unpack_q4_0(r, i, reinterpret_cast<tensor::BlockQ4_0*>(row)[u]);
      break;
    case TensorType::Q5_0:
      unpack_q5_0(r, i, reinterpret_cast<tensor::BlockQ5_0*>(row)[u]);
      break;
    case TensorType::Q8_0:
      unpack_q8_0(r, i, reinterpret_cast<tensor::BlockQ8_0*>(row)[u]);
      break;
    case TensorType::Q4_K:
      unpack_q4_k(r, i, reinterpret_cast<tensor::BlockQ4_K*>(row)[u]);
      break;
    case TensorType::Q6_K:
      unpack_q6_k(r, i, reinterpret_cast<tensor::BlockQ6_K*>(row)[u]);
      break;
    default:
      break;
  }
}

}  // namespace

bool repack_supported(TensorType type) {
  return type == TensorType::Q4_0 || type == TensorType::Q5_0 || type == TensorType::Q8_0 ||
         type == TensorType::Q4_K || type == TensorType::Q6_K;
}

bool repack_pays() {
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  if (!vnni) return false;
  const std::string target = active_target();
  return target == "AVX3" || target == "AVX3_DL" || target == "AVX3_ZEN4" || target == "AVX3_SPR";
}

RepackLayout repack_layout(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
      return {32, 256, 32};
    case TensorType::Q5_0:
      return {32, 320, 32};
    case TensorType::Q8_0:
      return {32, 512, 32};
    case TensorType::Q4_K:
      return {256, 2048, 320};
    case TensorType::Q6_K:
      return {256, 3072, 288};
    default:
      return {32, 0, 0};
  }
}

size_t repacked_bytes(TensorType type, int64_t n_rows, int64_t n_cols) {
  const RepackLayout layout = repack_layout(type);
  const int64_t records = n_groups(n_rows) * (n_cols / layout.unit);
  return static_cast<size_t>(records) * (layout.weight_bytes + layout.scale_bytes);
}

void repack_groups(const tensor::Matrix& w, int64_t group_begin, int64_t group_end, uint8_t* out) {
  const RepackLayout layout = repack_layout(w.type);
  const int64_t n_units = w.n_cols / layout.unit;
  for (int64_t g = group_begin; g < group_end; ++g) {
    for (int64_t u = 0; u < n_units; ++u) {
      const Record dst = locate(layout, out, w.n_rows, n_units, g, u);
      std::memset(dst.weights, 0, layout.weight_bytes);
      std::memset(dst.scales, 0, layout.scale_bytes);
      for (int64_t i = 0; i < kRepackRows && g * kRepackRows + i < w.n_rows; ++i) {
        pack_block(w.type, w.row(g * kRepackRows + i), u, i, dst);
      }
    }
  }
}

void unpack_repacked_rows(const tensor::Matrix& w, int64_t row, int64_t n, uint8_t* out) {
  const RepackLayout layout = repack_layout(w.type);
  const int64_t n_units = w.n_cols / layout.unit;
  auto* data = const_cast<uint8_t*>(w.data);  // only read through locate()
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = row + k;
    uint8_t* dst_row = out + static_cast<size_t>(k) * w.row_bytes;
    for (int64_t u = 0; u < n_units; ++u) {
      const Record src = locate(layout, data, w.n_rows, n_units, r / kRepackRows, u);
      unpack_block(w.type, src, r % kRepackRows, dst_row, u);
    }
  }
}

}  // namespace cove::kernels
