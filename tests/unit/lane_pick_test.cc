// Lanes in the pick table (EndpointInfo::lane, LaneRequest): a call of a
// lane goes to that lane's ready matching instances, else to the baseline
// unless the lane is strict; a call without a lane never reaches a laned
// instance. Under every child policy.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "allocation_counter.h"
#include "balancer/pick_table.h"
#include "balancer/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Kind = PickResult::Kind;
using Lane = PickResult::Lane;

constexpr char kService[] = "hwholiday.srv.user";
constexpr EndpointState kReady = EndpointState::kReady;
constexpr EndpointState kConnecting = EndpointState::kConnecting;
constexpr EndpointState kFailed = EndpointState::kTransientFailure;

EndpointInfo E(std::string version, std::string lane = "",
               EndpointState state = kReady) {
  EndpointInfo e;
  e.versions = {std::move(version)};
  e.lane = std::move(lane);
  e.state = state;
  return e;
}

class LanePickTest : public ::testing::TestWithParam<const char*> {
 protected:
  // `extra`: more vlb_version fields, e.g. R"("strictLanes": ["x"])".
  std::unique_ptr<PickTable> Table(const std::vector<EndpointInfo>& endpoints,
                                   absl::string_view extra = "",
                                   std::vector<VersionRequest> routed = {}) {
    absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(
        "vlb_version", absl::StrCat(R"({"childPolicy": ")", GetParam(), "\"",
                                    extra.empty() ? "" : ", ", extra, "}"));
    EXPECT_TRUE(config.ok()) << config.status();
    return PickTable::Build(endpoints, config.ok() ? *config : PolicyConfig(),
                            kService, /*seed=*/11, std::move(routed));
  }

  // The endpoints `n` picks reached, each once; a pick that does not pick
  // fails the test.
  static std::vector<uint32_t> Reached(
      const PickTable& table, std::optional<absl::string_view> requested,
      LaneRequest lane, Lane expected_lane, int n = 40) {
    std::map<uint32_t, int> counts;
    for (int i = 0; i < n; ++i) {
      PickResult r = table.Pick(requested, lane);
      if (r.kind != Kind::kPicked) {
        ADD_FAILURE() << "pick " << i << " did not pick";
        break;
      }
      EXPECT_EQ(r.lane, expected_lane);
      ++counts[r.endpoint];
    }
    std::vector<uint32_t> out;
    for (const auto& [endpoint, count] : counts) out.push_back(endpoint);
    return out;
  }
};

INSTANTIATE_TEST_SUITE_P(EveryChild, LanePickTest,
                         ::testing::Values("round_robin",
                                           "weighted_round_robin", "random"));

TEST_P(LanePickTest, LaneCallsGoToTheirLane) {
  auto table = Table({E("v1"), E("v1", "feature-x"), E("v1"),
                      E("v1", "feature-x"), E("v1", "feature-y")});
  EXPECT_THAT(Reached(*table, "v1", {"feature-x"}, Lane::kInLane),
              ElementsAre(1, 3));
  EXPECT_THAT(Reached(*table, "v1", {"feature-y"}, Lane::kInLane),
              ElementsAre(4));
  EXPECT_THAT(Reached(*table, std::nullopt, {"feature-x"}, Lane::kInLane),
              ElementsAre(1, 3));
}

TEST_P(LanePickTest, CallsWithoutALaneNeverReachLanedInstances) {
  auto table = Table({E("v1"), E("v1", "feature-x"), E("v2", "feature-x")});
  EXPECT_THAT(Reached(*table, "v1", {}, Lane::kNone), ElementsAre(0));
  EXPECT_THAT(Reached(*table, std::nullopt, {}, Lane::kNone), ElementsAre(0));
  PickResult r = table->Pick("v2");
  EXPECT_EQ(r.kind, Kind::kNoMatch);
  EXPECT_THAT(table->FailureStatus(r, "v2").message(),
              HasSubstr("laned instances serve only calls of their lane"));
}

TEST_P(LanePickTest, UnknownLaneUsesTheBaseline) {
  auto table = Table({E("v1"), E("v1", "feature-x")});
  EXPECT_THAT(Reached(*table, "v1", {"feature-q"}, Lane::kNone),
              ElementsAre(0));
}

TEST_P(LanePickTest, LaneWithoutAServingMatchFallsBackToTheBaseline) {
  auto table = Table({E("v1"), E("v2", "feature-x"), E("v1", "feature-y"),
                      E("v1", "feature-w", kFailed)});
  // Wrong version in the lane, ready elsewhere; failed.
  for (const char* lane : {"feature-x", "feature-w"}) {
    EXPECT_THAT(Reached(*table, "v1", {lane}, Lane::kBaseline), ElementsAre(0))
        << lane;
  }
  EXPECT_THAT(Reached(*table, "v1", {"feature-y"}, Lane::kInLane),
              ElementsAre(2));
}

TEST_P(LanePickTest, ConnectingLaneInstancesAreWaitedFor) {
  auto table = Table({E("v1"), E("v1", "feature-z", kConnecting)});
  PickResult r = table->Pick("v1", {"feature-z"});
  EXPECT_EQ(r.kind, Kind::kQueue);
  EXPECT_EQ(r.lane, Lane::kInLane);
}

TEST_P(LanePickTest, TheLaneWinsAtTheSameFallbackStep) {
  auto table = Table({E("v1"), E("v2", "feature-x"), E("v3")},
                     R"("fallback": ["v3", "*"])");
  // The baseline matches the request itself, the lane only a fallback.
  EXPECT_THAT(Reached(*table, "v1", {"feature-x"}, Lane::kBaseline),
              ElementsAre(0));
  EXPECT_THAT(Reached(*table, "v2", {"feature-x"}, Lane::kInLane),
              ElementsAre(1));
  // Both need "*": the lane wins the tie.
  auto star = Table({E("v1"), E("v2", "feature-x")}, R"("fallback": ["*"])");
  EXPECT_THAT(Reached(*star, "v9", {"feature-x"}, Lane::kInLane),
              ElementsAre(1));
  // The baseline's fallback "v3" comes before the lane's "*".
  EXPECT_THAT(Reached(*table, "v9", {"feature-x"}, Lane::kBaseline),
              ElementsAre(2));
}

TEST_P(LanePickTest, ChoosingBetweenLanesRotatesOnlyTheWinner) {
  // A baseline rotation that advanced on every lane call would, with lane
  // and plain calls alternating, give every plain call the same instance.
  // Here both partitions resolve "v9" through "*" and the lane wins.
  auto table =
      Table({E("v1"), E("v1"), E("v2", "feature-x")}, R"("fallback": ["*"])");
  std::map<uint32_t, int> plain;
  for (int i = 0; i < 40; ++i) {
    PickResult in_lane = table->Pick("v9", {"feature-x"});
    ASSERT_EQ(in_lane.kind, Kind::kPicked);
    EXPECT_EQ(in_lane.endpoint, 2u);
    PickResult r = table->Pick("v9");
    ASSERT_EQ(r.kind, Kind::kPicked);
    ++plain[r.endpoint];
  }
  EXPECT_EQ(plain.size(), 2u);
}

TEST_P(LanePickTest, StrictLanesNeverUseTheBaseline) {
  auto table =
      Table({E("v1"), E("v2", "feature-x"), E("v1", "feature-z", kConnecting)},
            R"("strictLanes": ["feature-x", "feature-z"])");
  PickResult r = table->Pick("v1", {"feature-x"});
  EXPECT_EQ(r.kind, Kind::kNoMatch);
  EXPECT_EQ(r.lane, Lane::kInLane);
  const std::string message =
      std::string(table->FailureStatus(r, "v1", "feature-x").message());
  EXPECT_THAT(message, HasSubstr("in strict lane \"feature-x\""));
  EXPECT_THAT(message, HasSubstr("available: v2"));
  EXPECT_EQ(table->Pick("v1", {"feature-z"}).kind, Kind::kQueue);
  EXPECT_THAT(Reached(*table, "v2", {"feature-x"}, Lane::kInLane),
              ElementsAre(1));
}

TEST_P(LanePickTest, AStrictLaneWithoutInstancesFails) {
  auto table =
      Table({E("v1"), E("v1", "feature-y")}, R"("strictLanes": ["feature-x"])");
  PickResult r = table->Pick("v1", {"feature-x"});
  EXPECT_EQ(r.kind, Kind::kNoMatch);
  EXPECT_EQ(table->FailureStatus(r, "v1", "feature-x").message(),
            "no instance of hwholiday.srv.user is in strict lane "
            "\"feature-x\"");
  auto no_lanes = Table({E("v1")});
  EXPECT_EQ(no_lanes->Pick("v1", {"feature-x", /*strict=*/true}).kind,
            Kind::kNoMatch);
  EXPECT_EQ(no_lanes->Pick("v1", {"feature-x"}).kind, Kind::kPicked);
}

TEST_P(LanePickTest, ARuleCanMakeALaneStrict) {
  auto table = Table({E("v1"), E("v2", "feature-x")});
  EXPECT_EQ(table->Pick("v1", {"feature-x", /*strict=*/true}).kind,
            Kind::kNoMatch);
  EXPECT_THAT(Reached(*table, "v1", {"feature-x"}, Lane::kBaseline),
              ElementsAre(0));
}

TEST_P(LanePickTest, QueuesForTheLaneWhenTheBaselineCannotServe) {
  auto table = Table({E("v2"), E("v1", "feature-x", kConnecting)});
  PickResult r = table->Pick("v1", {"feature-x"});
  EXPECT_EQ(r.kind, Kind::kQueue);
  EXPECT_EQ(r.lane, Lane::kInLane);
  r = table->Pick("v3", {"feature-x"});
  EXPECT_EQ(r.kind, Kind::kNoMatch);
  EXPECT_EQ(r.lane, Lane::kBaseline);
  EXPECT_THAT(table->FailureStatus(r, "v3", "feature-x").message(),
              HasSubstr("lane \"feature-x\" has no reachable match"));
}

TEST_P(LanePickTest, RoutedRequestsHonourLanes) {
  std::vector<VersionRequest> routed = {*VersionRequest::Parse("v2")};
  auto table =
      Table({E("v2"), E("v2", "feature-x"), E("v1", "feature-x")}, "", routed);
  for (int i = 0; i < 10; ++i) {
    PickResult r = table->PickRouted(0, {"feature-x"});
    ASSERT_EQ(r.kind, Kind::kPicked);
    EXPECT_EQ(r.endpoint, 1u);
    r = table->PickRouted(0, {});
    ASSERT_EQ(r.kind, Kind::kPicked);
    EXPECT_EQ(r.endpoint, 0u);
  }
}

TEST_P(LanePickTest, EligibleListsWhatPicksChooseAmong) {
  std::vector<VersionRequest> routed = {*VersionRequest::Parse("v2")};
  auto table = Table({E("v1"), E("v1", "feature-x"), E("v2"), E("v1"),
                      E("v1", "feature-x", kConnecting)},
                     "", routed);
  PickResult r;
  EXPECT_THAT(table->Eligible("v1", std::nullopt, {}, &r), ElementsAre(0, 3));
  EXPECT_EQ(r.lane, Lane::kNone);
  EXPECT_THAT(table->Eligible("v1", std::nullopt, {"feature-x"}, &r),
              ElementsAre(1));
  EXPECT_EQ(r.lane, Lane::kInLane);
  EXPECT_THAT(table->Eligible("v2", std::nullopt, {"feature-x"}, &r),
              ElementsAre(2));
  EXPECT_EQ(r.lane, Lane::kBaseline);
  EXPECT_THAT(table->Eligible(std::nullopt, 0, {}, &r), ElementsAre(2));
  EXPECT_THAT(table->Eligible("v9", std::nullopt, {}, &r), IsEmpty());
  EXPECT_EQ(r.kind, Kind::kNoMatch);
}

TEST_P(LanePickTest, OnlyLanedInstancesReadyMakesTheChannelReady) {
  auto table = Table({E("v1", "", kConnecting), E("v1", "feature-x")});
  EXPECT_EQ(table->AggregateState(), EndpointState::kReady);
  auto idle = Table({E("v1", "", kFailed), E("v1", "feature-x", kConnecting)});
  EXPECT_EQ(idle->AggregateState(), EndpointState::kConnecting);
}

TEST_P(LanePickTest, PicksWithLanesDoNotAllocate) {
  auto table =
      Table({E("v1"), E("v1", "feature-x"), E("v2", "feature-y"), E("v2")});
  const std::optional<absl::string_view> requests[] = {std::nullopt, "v1", "v2",
                                                       "*"};
  const LaneRequest lanes[] = {{}, {"feature-x"}, {"feature-y"}, {"nope"}};
  for (const auto& request : requests) {
    for (LaneRequest lane : lanes) table->Pick(request, lane);
  }
  vlb::testing::AllocationCounter allocations;
  int picked = 0;
  for (int round = 0; round < 10; ++round) {
    for (const auto& request : requests) {
      for (LaneRequest lane : lanes) {
        picked += table->Pick(request, lane).kind == Kind::kPicked;
      }
    }
  }
  EXPECT_EQ(allocations.count(), 0);
  EXPECT_EQ(picked, 10 * 16);
}

}  // namespace
}  // namespace vlb::internal
