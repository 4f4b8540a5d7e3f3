// The attention key/value cache of one sequence.
//
// Per layer, keys and values are stored position-major: row p holds the kv_dim = n_heads_kv *
// head_dim values of position p, so appending a token writes one contiguous row. Storage is
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
  KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim, KvType type);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t kv_dim() const { return kv_dim_; }
  KvType type() const { return type_; }
  size_t n_bytes() const;

  void store(int64_t layer, int64_t pos, const float* k, const float* v);
  // Reads kv_dim values of position `pos` into `out` (converted to F32).
  void load_key(int64_t layer, int64_t pos, float* out) const;
  void load_value(int64_t layer, int64_t pos, float* out) const;
  // Dot product of `q` (head_dim floats) with the key of head `head` at `pos`.
  float key_dot(int64_t layer, int64_t pos, int64_t head, int64_t head_dim, const float* q) const;
  // out[0..head_dim) += weight * value of head `head` at `pos`.
  void value_accumulate(int64_t layer, int64_t pos, int64_t head, int64_t head_dim, float weight,
                        float* out) const;

 private:
  size_t index(int64_t layer, int64_t pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + pos) * kv_dim_;
  }
  int64_t n_ctx_, kv_dim_;
  KvType type_;
  std::vector<float> k32_, v32_;
  std::vector<uint16_t> k16_, v16_;
};

}  // namespace cove::model
