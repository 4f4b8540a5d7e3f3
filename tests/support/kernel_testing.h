// Helpers for the kernel tests that run once per compiled SIMD target: a fixture that forces
// the target under test and restores the default afterwards, the parameter name gtest prints,
// seeded random inputs, and a float's bits for exact comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/quantized_dot.h"

namespace cove::testing {

// TEST_P fixtures derive from this and are instantiated with
//   INSTANTIATE_TEST_SUITE_P(CompiledTargets, Fixture, EveryCompiledTarget(), TargetName);
class PerTarget : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(kernels::force_target(GetParam())) << GetParam(); }
  void TearDown() override { kernels::reset_target(); }
};

inline auto EveryCompiledTarget() {
  return ::testing::ValuesIn(kernels::compiled_targets());
}
inline std::string TargetName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

// n normally distributed values (mean 0, standard deviation `spread`) from `seed`.
inline std::vector<float> random_values(size_t n, float spread, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, spread);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace cove::testing
