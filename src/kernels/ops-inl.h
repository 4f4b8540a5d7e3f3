// Per-target element-wise kernels of the fast path (Highway's include pattern; compiled by
// ops.cpp). Each has a scalar reference in ops.cpp.
//
// Every result is a function of one element (or, for the reductions, of one whole row) and
// never of where a row sits in a batch: a tail shorter than a vector goes through the same
// vector instructions in a padded buffer, so that an element gives the same bits whether it
// landed in a full vector or in the tail (continuous batching needs every token's results to
// be independent of the batch it came in).

#if defined(COVE_KERNELS_OPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef COVE_KERNELS_OPS_INL_H_
#undef COVE_KERNELS_OPS_INL_H_
#else
#define COVE_KERNELS_OPS_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/half.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace cove::kernels::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// silu(x) * y for one vector. exp(-x) is clamped at exp(88) (just below float's overflow, and
// inside hn::Exp's valid range): silu(x) for x < -88 is below 1e-36 either way.
template <class D, class V>
HWY_INLINE V SiluTimes(D df, V x, V y) {
  const V neg = hn::Min(hn::Neg(x), hn::Set(df, 88.0f));
  const V sigmoid_denominator = hn::Add(hn::Set(df, 1.0f), hn::Exp(df, neg));
  return hn::Mul(hn::Div(x, sigmoid_denominator), y);
}

void SiluMul(float* HWY_RESTRICT x, const float* HWY_RESTRICT y, int64_t n) {
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(SiluTimes(df, hn::LoadU(df, x + i), hn::LoadU(df, y + i)), df, x + i);
  }
  if (i < n) {
    HWY_ALIGN float tx[hn::MaxLanes(df)] = {};
    HWY_ALIGN float ty[hn::MaxLanes(df)] = {};
    std::copy(x + i, x + n, tx);
    std::copy(y + i, y + n, ty);
    hn::Store(SiluTimes(df, hn::Load(df, tx), hn::Load(df, ty)), df, tx);
    std::copy(tx, tx + (n - i), x + i);
  }
}

// Sum of squares in double, lanes of doubles each summing every lanes-th element, then one
// horizontal sum. (Over a row of a few thousand values this differs from the reference's
// running sum in the last bits only.)
void RmsNorm(const float* HWY_RESTRICT x, const float* HWY_RESTRICT weight, float eps, int64_t n,
             float* out) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> dh;  // as many floats as dd has doubles
  const int64_t dlanes = static_cast<int64_t>(hn::Lanes(dd));
  auto acc0 = hn::Zero(dd), acc1 = hn::Zero(dd);
  int64_t i = 0;
  for (; i + 2 * dlanes <= n; i += 2 * dlanes) {
    const auto a = hn::PromoteTo(dd, hn::LoadU(dh, x + i));
    const auto b = hn::PromoteTo(dd, hn::LoadU(dh, x + i + dlanes));
    acc0 = hn::MulAdd(a, a, acc0);
    acc1 = hn::MulAdd(b, b, acc1);
  }
  double sum_sq = hn::GetLane(hn::SumOfLanes(dd, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));

  // The scaling is element-wise and in the reference's order: x * scale * weight.
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vscale = hn::Set(df, scale);
  int64_t j = 0;
  for (; j + lanes <= n; j += lanes) {
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, x + j), vscale), hn::LoadU(df, weight + j)), df,
               out + j);
  }
  for (; j < n; ++j) out[j] = x[j] * scale * weight[j];
}

float MaxValue(const float* HWY_RESTRICT x, int64_t n) {
  const hn::ScalableTag<float> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  float max = x[0];
  int64_t i = 0;
  if (n >= 2 * lanes) {
    auto m0 = hn::LoadU(df, x), m1 = hn::LoadU(df, x + lanes);
    for (i = 2 * lanes; i + 2 * lanes <= n; i += 2 * lanes) {
      m0 = hn::Max(m0, hn::LoadU(df, x + i));
      m1 = hn::Max(m1, hn::LoadU(df, x + i + lanes));
    }
    max = hn::GetLane(hn::MaxOfLanes(df, hn::Max(m0, m1)));
  }
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  return max;
}

// Sum of exp(x[i] - shift): the exponentials in float (hn::Exp, 1 ulp), the sum in double.
// The floats are taken as many at a time as a vector holds doubles.
double SumExp(const float* HWY_RESTRICT x, int64_t n, float shift) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(dd));
  const auto vshift = hn::Set(df, shift);
  auto acc0 = hn::Zero(dd), acc1 = hn::Zero(dd);
  int64_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    const auto e0 = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vshift));
    const auto e1 = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i + lanes), vshift));
    acc0 = hn::Add(acc0, hn::PromoteTo(dd, e0));
    acc1 = hn::Add(acc1, hn::PromoteTo(dd, e1));
  }
  double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(acc0, acc1)));
  for (; i < n; i += lanes) {
    HWY_ALIGN float tail[hn::MaxLanes(df)];
    std::fill(tail, tail + hn::MaxLanes(df), -INFINITY);
    std::copy(x + i, x + std::min(n, i + lanes), tail);
    hn::Store(hn::Exp(df, hn::Sub(hn::Load(df, tail), vshift)), df, tail);
    for (int64_t j = 0; j < std::min(lanes, n - i); ++j) sum += tail[j];
  }
  return sum;
}

// F32 -> F16 with round-to-nearest-even. Highway converts with the hardware's F16C instruction
// on AVX2 and later; its emulation on older x86 targets truncates, so those use the scalar
// conversion (core/half.h), which rounds like the hardware.
void F32ToF16(const float* HWY_RESTRICT x, uint16_t* HWY_RESTRICT out, int64_t n) {
  int64_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, x + i)), dh,
               reinterpret_cast<hwy::float16_t*>(out + i));
  }
#endif
  for (; i < n; ++i) out[i] = fp32_to_fp16(x[i]);
}

}  // namespace cove::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
