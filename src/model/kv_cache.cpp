#include "model/kv_cache.h"

#include <algorithm>

#include "kernels/ops.h"

namespace cove::model {

KvCache::KvCache(int64_t n_layers, int64_t n_cells, int64_t kv_dim, KvType type)
    : n_layers_(n_layers), n_cells_(n_cells), kv_dim_(kv_dim), type_(type) {
  const size_t n = static_cast<size_t>(n_layers * n_cells * kv_dim);
  if (type == KvType::kF32) {
    k32_.resize(n);
    v32_.resize(n);
  } else {
    k16_.resize(n);
    v16_.resize(n);
  }
}

size_t KvCache::n_bytes() const {
  return (k32_.size() + v32_.size()) * sizeof(float) + (k16_.size() + v16_.size()) * 2;
}

void KvCache::store(int64_t layer, int64_t cell, const float* k, const float* v) {
  const size_t at = index(layer, cell);
  if (type_ == KvType::kF32) {
    for (int64_t i = 0; i < kv_dim_; ++i) {
      k32_[at + i] = k[i];
      v32_[at + i] = v[i];
    }
  } else {
    kernels::f32_to_f16(k, k16_.data() + at, kv_dim_);
    kernels::f32_to_f16(v, v16_.data() + at, kv_dim_);
  }
}

void KvCache::copy_cells(int64_t src, int64_t dst, int64_t n) {
  const size_t count = static_cast<size_t>(n * kv_dim_);
  for (int64_t layer = 0; layer < n_layers_; ++layer) {
    const size_t from = index(layer, src), to = index(layer, dst);
    if (type_ == KvType::kF32) {
      std::copy_n(k32_.begin() + from, count, k32_.begin() + to);
      std::copy_n(v32_.begin() + from, count, v32_.begin() + to);
    } else {
      std::copy_n(k16_.begin() + from, count, k16_.begin() + to);
      std::copy_n(v16_.begin() + from, count, v16_.begin() + to);
    }
  }
}

}  // namespace cove::model
