// Per-target memory read kernel for `cove bench --bandwidth` (Highway's include pattern: this
// file is compiled once per SIMD target by bench.cpp).

#if defined(COVE_RUNTIME_BENCH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef COVE_RUNTIME_BENCH_INL_H_
#undef COVE_RUNTIME_BENCH_INL_H_
#else
#define COVE_RUNTIME_BENCH_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace cove::runtime::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// Wrapping sum of n 64-bit words, read with the widest vectors the target has. Four independent
// accumulators keep several loads in flight, so the loop runs at the speed of memory, not of
// the add latency.
uint64_t SumWords(const uint64_t* HWY_RESTRICT data, size_t n) {
  const hn::ScalableTag<uint64_t> d;
  const size_t lanes = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    a0 = hn::Add(a0, hn::LoadU(d, data + i));
    a1 = hn::Add(a1, hn::LoadU(d, data + i + lanes));
    a2 = hn::Add(a2, hn::LoadU(d, data + i + 2 * lanes));
    a3 = hn::Add(a3, hn::LoadU(d, data + i + 3 * lanes));
  }
  a0 = hn::Add(hn::Add(a0, a1), hn::Add(a2, a3));
  HWY_ALIGN uint64_t sums[HWY_MAX_BYTES / sizeof(uint64_t)];
  hn::Store(a0, d, sums);
  uint64_t total = 0;
  for (size_t k = 0; k < lanes; ++k) total += sums[k];
  for (; i < n; ++i) total += data[i];
  return total;
}

}  // namespace cove::runtime::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
