// Dispatch of the integer dot kernels to the best SIMD target this CPU supports, and their
// scalar references.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/quantized_dot.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/quantized_dot-inl.h"

#if HWY_ONCE
#include <cmath>

#include "hwy/targets.h"

namespace cove::kernels {

HWY_EXPORT(DotRows);
HWY_EXPORT(DotOne);
HWY_EXPORT(MatmulRows);
HWY_EXPORT(QuantizeRows);
HWY_EXPORT(RepackedRows);

bool has_quantized_dot(tensor::TensorType type) {
  using tensor::TensorType;
  switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

void quantize_activations_reference(const float* x, Q8Activations* out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
    Q8Activations& block = out[b];
    block.d = d;
    int sums[2] = {0, 0};
    for (int i = 0; i < 32; ++i) {
      const int q = static_cast<int>(std::nearbyint(x[i] * inverse));
      block.q[i] = static_cast<int8_t>(q);
      sums[i / 16] += q;
    }
    block.s[0] = d * static_cast<float>(sums[0]);
    block.s[1] = d * static_cast<float>(sums[1]);
  }
}

void quantize_activations(const float* x, Q8Activations* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeRows)(x, out, n);
}

float quantized_dot_reference(tensor::TensorType type, const void* row, const Q8Activations* x,
                              int64_t n) {
  double acc = 0.0;
  if (type == tensor::TensorType::Q8_0) {
    const auto* w = static_cast<const tensor::BlockQ8_0*>(row);
    for (int64_t b = 0; b < n / 32; ++b) {
      int64_t sum = 0;
      for (int i = 0; i < 32; ++i) sum += w[b].qs[i] * x[b].q[i];
      acc += static_cast<double>(sum) * fp16_to_fp32(w[b].d) * x[b].d;
    }
    return static_cast<float>(acc);
  }
  detail::UnpackedBlock u;
  const int per_block = tensor::traits(type).block_size;
  for (int64_t b = 0; b < n / per_block; ++b) {
    detail::unpack_block(type, row, b, u);
    for (int i = 0; i < per_block; ++i) {
      const Q8Activations& a = x[(b * per_block + i) / 32];
      const double w = static_cast<double>(u.a[i / 16]) * u.q[i] + u.b[i / 16];
      acc += w * a.d * a.q[i % 32];
    }
  }
  return static_cast<float>(acc);
}

float quantized_dot(tensor::TensorType type, const void* row, const Q8Activations* x, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotOne)(type, row, x, n);
}

void quantized_dot_rows(tensor::TensorType type, const uint8_t* rows, size_t row_bytes,
                        int64_t n_rows, const Q8Activations* x, int64_t n, float* y,
                        int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(DotRows)(type, rows, row_bytes, n_rows, x, n, y, y_stride);
}

void quantized_dot_x4(tensor::TensorType type, const void* rows, size_t row_bytes,
                      const Q8Activations* x, int64_t n, float* out) {
  quantized_dot_rows(type, static_cast<const uint8_t*>(rows), row_bytes, 4, x, n, out, 1);
}

void quantized_matmul_rows(tensor::TensorType type, const uint8_t* w, size_t row_bytes, int64_t n,
                           int64_t row_begin, int64_t row_end, const Q8Activations* x,
                           int64_t n_tokens, float* y, int64_t y_stride, void* scratch) {
  HWY_DYNAMIC_DISPATCH(MatmulRows)(type, w, row_bytes, n, row_begin, row_end, x, n_tokens, y,
                                   y_stride, scratch);
}

void repacked_matmul_groups(const tensor::Matrix& w, int64_t group_begin, int64_t group_end,
                            const Q8Activations* x, const int32_t* xsum, int64_t n_tokens,
                            float* y, int64_t y_stride, void* scratch) {
  HWY_DYNAMIC_DISPATCH(RepackedRows)(w, group_begin, group_end, x, xsum, n_tokens, y, y_stride,
                                     scratch);
}

size_t repacked_matmul_scratch_bytes(const tensor::Matrix& w) {
  // 16 restored rows, then (64-byte aligned) the row-major kernels' unpacked tile.
  const size_t rows = (static_cast<size_t>(kRepackRows) * w.row_bytes + 63) / 64 * 64;
  return rows + detail::matmul_scratch_bytes(w.type, w.n_cols, 2);
}

void repacked_activation_offsets(tensor::TensorType type, const Q8Activations* x,
                                 int64_t n_blocks, int32_t* out) {
  int32_t offset = 0;  // Q4_K applies its mins with the float block sums instead
  switch (type) {
    case tensor::TensorType::Q4_0: offset = -8; break;
    case tensor::TensorType::Q5_0: offset = -16; break;
    case tensor::TensorType::Q8_0: offset = -128; break;
    case tensor::TensorType::Q6_K: offset = -32; break;
    default: break;
  }
  for (int64_t b = 0; b < n_blocks; ++b) {
    for (int h = 0; h < 2; ++h) {
      int32_t s = 0;
      for (int i = 16 * h; i < 16 * h + 16; ++i) s += x[b].q[i];
      out[2 * b + h] = offset * s;
    }
  }
}

size_t quantized_matmul_scratch_bytes(tensor::TensorType type, int64_t n, int64_t n_tokens) {
  return detail::matmul_scratch_bytes(type, n, n_tokens);
}

std::vector<std::string> compiled_targets() {
  std::vector<std::string> names;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    names.emplace_back(hwy::TargetName(target));
  }
  return names;
}

std::string active_target() {
  // The target HWY_DYNAMIC_DISPATCH picks: the best one both compiled and supported.
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets.empty() ? "none" : hwy::TargetName(targets.front());
}

bool force_target(const std::string& name) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    if (name == hwy::TargetName(target)) {
      hwy::SetSupportedTargetsForTest(target);
      return true;
    }
  }
  return false;
}

void reset_target() { hwy::SetSupportedTargetsForTest(0); }

}  // namespace cove::kernels
#endif  // HWY_ONCE
