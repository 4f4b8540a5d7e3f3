// The attention key/value cache: n_cells rows per layer, each holding the kv_dim = n_heads_kv *
// head_dim keys (and values) of one token. The transformer gives every sequence its own range
// of cells (sequence s, position p -> cell s * n_ctx + p), so appending a token writes one
// contiguous row. Storage is
// F32 (reference path, exact) or F16 (fast path: half the memory traffic, as the reference
// engine does).
#pragma once

#include <cstdint>
#include <vector>

#include "core/half.h"

namespace cove::model {

enum class KvType { kF32, kF16 };

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_cells, int64_t kv_dim, KvType type);

  int64_t n_cells() const { return n_cells_; }
  int64_t kv_dim() const { return kv_dim_; }
  KvType type() const { return type_; }
  size_t n_bytes() const;

  void store(int64_t layer, int64_t cell, const float* k, const float* v);
  // Copies cells [src, src + n) to [dst, dst + n) in every layer (prefix reuse).
  void copy_cells(int64_t src, int64_t dst, int64_t n);
  // Keys / values of `cell` (kv_dim values; consecutive cells are kv_dim apart).
  const float* keys_f32(int64_t layer, int64_t cell) const { return k32_.data() + index(layer, cell); }
  const float* values_f32(int64_t layer, int64_t cell) const { return v32_.data() + index(layer, cell); }
  const uint16_t* keys_f16(int64_t layer, int64_t cell) const { return k16_.data() + index(layer, cell); }
  const uint16_t* values_f16(int64_t layer, int64_t cell) const { return v16_.data() + index(layer, cell); }

 private:
  size_t index(int64_t layer, int64_t cell) const {
    return (static_cast<size_t>(layer) * n_cells_ + cell) * kv_dim_;
  }
  int64_t n_layers_, n_cells_, kv_dim_;
  KvType type_;
  std::vector<float> k32_, v32_;
  std::vector<uint16_t> k16_, v16_;
};

}  // namespace cove::model
