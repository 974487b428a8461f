#include "balancer/pick_scheduler.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;

EndpointInfo E(std::string version, uint32_t weight = 1) {
  EndpointInfo e;
  e.versions = {std::move(version)};
  e.state = EndpointState::kReady;
  e.weight = weight;
  return e;
}

VersionRequest Request(absl::string_view text) {
  VersionRequest r;
  EXPECT_TRUE(VersionRequest::TryParse(text, &r)) << text;
  return r;
}

Candidates Collect(const GroupIndex& index, const VersionRequest* request) {
  Candidates c;
  index.Collect(request, &c);
  return c;
}

TEST(PickSchedulerTest, EachCandidateSetHasItsOwnRotation) {
  const GroupIndex index({E("v1"), E("v2"), E("v3")});
  const PickScheduler scheduler(ChildPolicy::kRoundRobin, index, 7, 2);
  const VersionRequest v1 = Request("v1"), v2 = Request("v2"),
                       v12 = Request("v1 || v2"), v23 = Request("v2 || v3");
  std::set<RotationCounter*> counters = {
      scheduler.CounterFor(index.all()),
      scheduler.CounterFor(Collect(index, &v1)),
      scheduler.CounterFor(Collect(index, &v2)),
      scheduler.Reserved(0),
      scheduler.Reserved(1),
  };
  EXPECT_EQ(counters.size(), 5u);
  // Unions share striped counters, apart from the others.
  EXPECT_EQ(counters.count(scheduler.CounterFor(Collect(index, &v12))), 0u);
  EXPECT_EQ(counters.count(scheduler.CounterFor(Collect(index, &v23))), 0u);
  EXPECT_EQ(scheduler.CounterFor(Collect(index, &v1)),
            scheduler.CounterFor(Collect(index, &v1)));
}

TEST(PickSchedulerTest, SlicesAreForPlainRotationsOverOneRun) {
  const GroupIndex index({E("v1", 2), E("v1", 2), E("v2", 1), E("v2", 3)});
  const VersionRequest v1 = Request("v1"), v2 = Request("v2"),
                       both = Request("v1 || v2");
  const PickScheduler rr(ChildPolicy::kRoundRobin, index, 0, 0);
  const PickScheduler wrr(ChildPolicy::kWeightedRoundRobin, index, 0, 0);
  const PickScheduler random(ChildPolicy::kRandom, index, 0, 0);
  EXPECT_EQ(rr.SliceFor(Collect(index, &v1)).size, 2u);
  EXPECT_EQ(rr.SliceFor(index.all()).size, 4u);
  EXPECT_EQ(rr.SliceFor(Collect(index, &both)).size, 0u);
  EXPECT_EQ(wrr.SliceFor(Collect(index, &v1)).size, 2u);  // equal weights
  EXPECT_EQ(wrr.SliceFor(Collect(index, &v2)).size, 0u);
  EXPECT_EQ(random.SliceFor(Collect(index, &v1)).size, 0u);

  const Slice slice = rr.SliceFor(Collect(index, &v2));
  RotationCounter counter;
  std::vector<uint32_t> picks;
  for (int i = 0; i < 4; ++i) {
    picks.push_back(PickScheduler::NextInSlice(slice, &counter));
  }
  EXPECT_THAT(picks, ElementsAre(2, 3, 2, 3));
}

TEST(PickSchedulerTest, ChooseFollowsTheChildPolicy) {
  const GroupIndex index({E("v1", 1), E("v2", 3), E("v1", 4), E("v3", 1)});
  const VersionRequest request = Request("v1 || v2");
  const Candidates c = Collect(index, &request);
  RotationCounter counter;

  const PickScheduler rr(ChildPolicy::kRoundRobin, index, 0, 0);
  std::map<uint32_t, int> counts;
  for (int i = 0; i < 300; ++i) ++counts[rr.Choose(c, &request, &counter)];
  EXPECT_THAT(counts, ElementsAre(std::pair<const uint32_t, int>(0, 100),
                                  std::pair<const uint32_t, int>(1, 100),
                                  std::pair<const uint32_t, int>(2, 100)));

  const PickScheduler wrr(ChildPolicy::kWeightedRoundRobin, index, 0, 0);
  counts.clear();
  for (int i = 0; i < 8000; ++i) ++counts[wrr.Choose(c, &request, &counter)];
  // Weights 1 : 3 : 4, within a few picks (Weyl sequence).
  EXPECT_NEAR(counts[0], 1000, 5);
  EXPECT_NEAR(counts[1], 3000, 5);
  EXPECT_NEAR(counts[2], 4000, 5);

  const PickScheduler random(ChildPolicy::kRandom, index, 0, 0);
  counts.clear();
  for (int i = 0; i < 3000; ++i) {
    ++counts[random.Choose(c, &request, &counter)];
  }
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts.count(3), 0u);
}

}  // namespace
}  // namespace vlb::internal
