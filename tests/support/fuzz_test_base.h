// Base fixture of the fuzz-style unit tests: a reproducible random stream
// per test. The seed is fixed (VLB_FUZZ_SEED overrides it), printed, and
// attached to every failure; each test mixes its own name in, so one test's
// draws do not shift another's and a failure reproduces with
// --gtest_filter.
//
// Not thread-safe (one fixture per test, as gtest creates them).
#ifndef VLB_TESTS_SUPPORT_FUZZ_TEST_BASE_H_
#define VLB_TESTS_SUPPORT_FUZZ_TEST_BASE_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace vlb::testing {

class FuzzTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kDefaultSeed = 20261201;

  FuzzTest() {
    const uint64_t seed = BaseSeed();
    const std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::printf("VLB_FUZZ_SEED=%llu (%s)\n",
                static_cast<unsigned long long>(seed), name.c_str());
    std::seed_seq seq(name.begin(), name.end());
    std::vector<uint32_t> mixed(2);
    seq.generate(mixed.begin(), mixed.end());
    rng_.seed(seed ^ (uint64_t{mixed[0]} << 32 | mixed[1]));
    trace_.emplace(__FILE__, __LINE__, absl::StrCat("VLB_FUZZ_SEED=", seed));
  }

  size_t Below(size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
  }
  bool OneIn(size_t n) { return Below(n) == 0; }
  template <typename T, size_t N>
  const T& PickOne(const T (&items)[N]) {
    return items[Below(N)];
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  static uint64_t BaseSeed() {
    uint64_t seed = kDefaultSeed;
    if (const char* env = std::getenv("VLB_FUZZ_SEED");
        env != nullptr && *env != '\0' && !absl::SimpleAtoi(env, &seed)) {
      ADD_FAILURE() << "VLB_FUZZ_SEED=\"" << env << "\" is not a uint64";
    }
    return seed;
  }

  std::mt19937_64 rng_;
  std::optional<::testing::ScopedTrace> trace_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_FUZZ_TEST_BASE_H_
