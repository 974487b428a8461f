// LeaseSchedule: when keep-alives go out, when the stream counts as stalled
// and when a lease counts as unconfirmed, on the shared fake clock.
#include "etcd/lease_schedule.h"

#include <vector>

#include "fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::etcd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kTtl = absl::Seconds(9);  // interval 3 s

class LeaseScheduleTest : public ::testing::Test {
 protected:
  absl::Time Now() const { return clock_.Now(); }
  void Advance(absl::Duration d) { clock_.AdvanceTime(d); }

  vlb::testing::FakeClock clock_;
  LeaseSchedule schedule_;
};

TEST_F(LeaseScheduleTest, NewLeaseIsDueAtOnceThenEveryThirdOfItsTtl) {
  schedule_.Add(7, kTtl, Now());
  EXPECT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
  EXPECT_THAT(schedule_.TakeDue(Now()), IsEmpty());
  EXPECT_EQ(schedule_.NextWake(Now(), true), Now() + absl::Seconds(3));
  Advance(absl::Seconds(3) - absl::Milliseconds(1));
  EXPECT_THAT(schedule_.TakeDue(Now()), IsEmpty());
  Advance(absl::Milliseconds(1));
  EXPECT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
}

TEST_F(LeaseScheduleTest, AnsweredRequestsNeverStall) {
  schedule_.Add(7, kTtl, Now());
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
    Advance(absl::Milliseconds(100));
    EXPECT_FALSE(schedule_.Confirmed(7, kTtl, Now()));
    Advance(absl::Seconds(3) - absl::Milliseconds(100));
    EXPECT_FALSE(schedule_.Stalled(Now())) << "round " << i;
  }
}

TEST_F(LeaseScheduleTest, UnansweredRequestStallsWhenTheNextIsDue) {
  schedule_.Add(7, kTtl, Now());
  ASSERT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
  Advance(absl::Seconds(3) - absl::Milliseconds(1));
  EXPECT_FALSE(schedule_.Stalled(Now()));
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(schedule_.Stalled(Now()));
  // The stall clock counts from the oldest unanswered request: sending
  // again does not restart it.
  ASSERT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
  EXPECT_TRUE(schedule_.Stalled(Now()));
}

TEST_F(LeaseScheduleTest, NewStreamClearsTheStallAndMakesEverythingDue) {
  schedule_.Add(7, kTtl, Now());
  schedule_.Add(8, absl::Seconds(30), Now());
  ASSERT_THAT(schedule_.TakeDue(Now()), ElementsAre(7, 8));
  Advance(absl::Seconds(4));
  ASSERT_TRUE(schedule_.Stalled(Now()));
  schedule_.StreamOpened(Now());
  EXPECT_FALSE(schedule_.Stalled(Now()));
  EXPECT_THAT(schedule_.TakeDue(Now()), ElementsAre(7, 8));
}

TEST_F(LeaseScheduleTest, UnconfirmedAfterTtlIsReportedOnceUntilConfirmed) {
  schedule_.Add(7, kTtl, Now());
  Advance(kTtl);
  EXPECT_THAT(schedule_.TakeExpired(Now()), IsEmpty()) << "exactly one TTL";
  Advance(absl::Milliseconds(1));
  EXPECT_THAT(schedule_.TakeExpired(Now()), ElementsAre(7));
  Advance(absl::Seconds(10));
  EXPECT_THAT(schedule_.TakeExpired(Now()), IsEmpty()) << "reported once";
  EXPECT_TRUE(schedule_.Confirmed(7, kTtl, Now())) << "recovered";
  EXPECT_FALSE(schedule_.Confirmed(7, kTtl, Now()));
  Advance(kTtl + absl::Milliseconds(1));
  EXPECT_THAT(schedule_.TakeExpired(Now()), ElementsAre(7));
}

TEST_F(LeaseScheduleTest, ConfirmationUsesTheTtlEtcdReports) {
  schedule_.Add(7, kTtl, Now());
  schedule_.Confirmed(7, absl::Seconds(2), Now());
  Advance(absl::Seconds(2) + absl::Milliseconds(1));
  EXPECT_THAT(schedule_.TakeExpired(Now()), ElementsAre(7));
}

TEST_F(LeaseScheduleTest, NextWakeCoversSendsOnlyWhileStreaming) {
  schedule_.Add(7, kTtl, Now());
  ASSERT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
  EXPECT_EQ(schedule_.NextWake(Now(), true), Now() + absl::Seconds(3));
  // Without a stream nothing is sent: wake for the expiry only.
  EXPECT_EQ(schedule_.NextWake(Now(), false), Now() + kTtl);
  Advance(kTtl + absl::Seconds(1));
  ASSERT_THAT(schedule_.TakeExpired(Now()), ElementsAre(7));
  EXPECT_EQ(schedule_.NextWake(Now(), false), Now() + absl::Seconds(1));
}

TEST_F(LeaseScheduleTest, NextWakeIsNeverSoonerThanFiveMilliseconds) {
  schedule_.Add(7, kTtl, Now());  // due now
  EXPECT_EQ(schedule_.NextWake(Now(), true), Now() + absl::Milliseconds(5));
}

TEST_F(LeaseScheduleTest, ReAddingRestartsAndRemovedLeasesAreForgotten) {
  schedule_.Add(7, kTtl, Now());
  ASSERT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
  Advance(absl::Seconds(5));
  schedule_.Add(7, kTtl, Now());
  EXPECT_FALSE(schedule_.Stalled(Now()));
  EXPECT_THAT(schedule_.TakeDue(Now()), ElementsAre(7));
  schedule_.Remove(7);
  EXPECT_TRUE(schedule_.empty());
  EXPECT_FALSE(schedule_.Confirmed(7, kTtl, Now()));
  Advance(absl::Seconds(60));
  EXPECT_THAT(schedule_.TakeExpired(Now()), IsEmpty());
  EXPECT_FALSE(schedule_.Stalled(Now()));
}

}  // namespace
}  // namespace vlb::etcd
