#include "model/kv_cache.h"

namespace cove::model {

KvCache::KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim, KvType type)
    : n_ctx_(n_ctx), kv_dim_(kv_dim), type_(type) {
  const size_t n = static_cast<size_t>(n_layers * n_ctx * kv_dim);
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

void KvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  const size_t at = index(layer, pos);
  if (type_ == KvType::kF32) {
    for (int64_t i = 0; i < kv_dim_; ++i) {
      k32_[at + i] = k[i];
      v32_[at + i] = v[i];
    }
  } else {
    for (int64_t i = 0; i < kv_dim_; ++i) {
      k16_[at + i] = fp32_to_fp16(k[i]);
      v16_[at + i] = fp32_to_fp16(v[i]);
    }
  }
}

void KvCache::load_key(int64_t layer, int64_t pos, float* out) const {
  const size_t at = index(layer, pos);
  for (int64_t i = 0; i < kv_dim_; ++i) {
    out[i] = type_ == KvType::kF32 ? k32_[at + i] : fp16_to_fp32(k16_[at + i]);
  }
}

void KvCache::load_value(int64_t layer, int64_t pos, float* out) const {
  const size_t at = index(layer, pos);
  for (int64_t i = 0; i < kv_dim_; ++i) {
    out[i] = type_ == KvType::kF32 ? v32_[at + i] : fp16_to_fp32(v16_[at + i]);
  }
}

float KvCache::key_dot(int64_t layer, int64_t pos, int64_t head, int64_t head_dim,
                       const float* q) const {
  const size_t at = index(layer, pos) + static_cast<size_t>(head * head_dim);
  float sum = 0.0f;
  if (type_ == KvType::kF32) {
    for (int64_t i = 0; i < head_dim; ++i) sum += q[i] * k32_[at + i];
  } else {
    for (int64_t i = 0; i < head_dim; ++i) sum += q[i] * fp16_to_fp32(k16_[at + i]);
  }
  return sum;
}

void KvCache::value_accumulate(int64_t layer, int64_t pos, int64_t head, int64_t head_dim,
                               float weight, float* out) const {
  const size_t at = index(layer, pos) + static_cast<size_t>(head * head_dim);
  if (type_ == KvType::kF32) {
    for (int64_t i = 0; i < head_dim; ++i) out[i] += weight * v32_[at + i];
  } else {
    for (int64_t i = 0; i < head_dim; ++i) out[i] += weight * fp16_to_fp32(v16_[at + i]);
  }
}

}  // namespace cove::model
