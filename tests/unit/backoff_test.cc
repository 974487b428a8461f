#include "common/backoff.h"

#include <algorithm>
#include <functional>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

// A random source that returns a fixed value, so every delay is exact.
std::function<double()> Fixed(double u) {
  return [u] { return u; };
}

TEST(BackoffTest, GrowsByMultiplierWithoutJitter) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(10), 2.0, 0.0);
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(200));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(400));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(800));
}

TEST(BackoffTest, DefaultMultiplierIsGrpcs) {
  // Midpoint randomness (u = 0.5) means no jitter.
  Backoff backoff(absl::Seconds(1), absl::Seconds(100), 1.6, 0.2, Fixed(0.5));
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(1600));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(2560));
}

TEST(BackoffTest, CapsAtMax) {
  Backoff backoff(absl::Milliseconds(100), absl::Milliseconds(500), 2.0, 0.0);
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(200));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(400));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(backoff.Next(), absl::Milliseconds(500)) << "call " << i;
  }
}

TEST(BackoffTest, JitterBoundsWithInjectedRandomness) {
  Backoff low(absl::Seconds(1), absl::Seconds(4), 2.0, 0.2, Fixed(0.0));
  EXPECT_EQ(low.Next(), absl::Milliseconds(800));
  EXPECT_EQ(low.Next(), absl::Milliseconds(1600));
  EXPECT_EQ(low.Next(), absl::Milliseconds(3200));
  EXPECT_EQ(low.Next(), absl::Milliseconds(3200));  // capped base 4 s

  Backoff high(absl::Seconds(1), absl::Seconds(4), 2.0, 0.2, Fixed(1.0));
  EXPECT_EQ(high.Next(), absl::Milliseconds(1200));
  EXPECT_EQ(high.Next(), absl::Milliseconds(2400));
  EXPECT_EQ(high.Next(), absl::Milliseconds(4800));
  // Jitter applies above the cap, so capped clients still spread out.
  EXPECT_EQ(high.Next(), absl::Milliseconds(4800));

  Backoff quarter(absl::Seconds(1), absl::Seconds(4), 2.0, 0.2, Fixed(0.25));
  EXPECT_EQ(quarter.Next(), absl::Milliseconds(900));
}

TEST(BackoffTest, OutOfRangeRandomnessIsClamped) {
  Backoff backoff(absl::Seconds(1), absl::Seconds(1), 1.0, 0.5, Fixed(7.0));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(1500));
  Backoff negative(absl::Seconds(1), absl::Seconds(1), 1.0, 0.5, Fixed(-3.0));
  EXPECT_EQ(negative.Next(), absl::Milliseconds(500));
}

TEST(BackoffTest, RealRandomnessStaysWithinJitterBounds) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(1));
  absl::Duration base = absl::Milliseconds(100);
  for (int i = 0; i < 200; ++i) {
    absl::Duration delay = backoff.Next();
    ASSERT_GE(delay, base * 0.8) << "call " << i;
    ASSERT_LE(delay, base * 1.2) << "call " << i;
    base = std::min(base * 1.6, absl::Seconds(1));
  }
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(10), 3.0, 0.0);
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(300));
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(300));
}

TEST(BackoffTest, BadArgumentsAreClamped) {
  // max below initial: max is raised to initial.
  Backoff small_max(absl::Seconds(2), absl::Seconds(1), 2.0, 0.0);
  EXPECT_EQ(small_max.Next(), absl::Seconds(2));
  EXPECT_EQ(small_max.Next(), absl::Seconds(2));
  // A multiplier below 1 would shrink delays: treated as 1.
  Backoff shrinking(absl::Seconds(1), absl::Seconds(10), 0.5, 0.0);
  EXPECT_EQ(shrinking.Next(), absl::Seconds(1));
  EXPECT_EQ(shrinking.Next(), absl::Seconds(1));
  // Jitter above 1 could make delays negative: treated as 1.
  Backoff wild(absl::Seconds(1), absl::Seconds(1), 1.0, 5.0, Fixed(0.0));
  EXPECT_EQ(wild.Next(), absl::ZeroDuration());
  // Negative durations become zero.
  Backoff negative(absl::Seconds(-1), absl::Seconds(-5), 2.0, 0.0);
  EXPECT_EQ(negative.Next(), absl::ZeroDuration());
}

TEST(BackoffTest, ManyCallsDoNotOverflow) {
  Backoff backoff(absl::Seconds(1), absl::Hours(1), 10.0, 0.0);
  for (int i = 0; i < 10000; ++i) backoff.Next();
  EXPECT_EQ(backoff.Next(), absl::Hours(1));
}

}  // namespace
}  // namespace vlb::internal
