#include "wait_for.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace vlb::testing {
namespace {

TEST(WaitForTest, ReturnsTrueAtOnceWhenConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        ++calls;
        return true;
      },
      absl::Seconds(10)));
  EXPECT_EQ(calls, 1);
}

TEST(WaitForTest, PollsUntilConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 5; }, absl::Seconds(10),
                      absl::Milliseconds(1)));
  EXPECT_EQ(calls, 5);
}

TEST(WaitForTest, GivesUpAtDeadline) {
  absl::Time start = absl::Now();
  int calls = 0;
  EXPECT_FALSE(WaitFor(
      [&] {
        ++calls;
        return false;
      },
      absl::Milliseconds(100), absl::Milliseconds(10)));
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_GE(elapsed, absl::Milliseconds(100));
  EXPECT_LT(elapsed, absl::Seconds(2));
  EXPECT_GE(calls, 2);
}

TEST(WaitForTest, ChecksOnceMoreAtDeadlineWithLongPoll) {
  absl::Time became_true = absl::Now() + absl::Milliseconds(50);
  EXPECT_TRUE(WaitFor([&] { return absl::Now() >= became_true; },
                      absl::Milliseconds(100), absl::Seconds(10)));
}

}  // namespace
}  // namespace vlb::testing
