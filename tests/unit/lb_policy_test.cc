// vlb's policies inside gRPC, driven through gRPC's own LB policy interfaces
// with fake subchannels (no channel, no network). Checks that the adapter
// wires PickTable to gRPC correctly; PickTable's own rules are covered by
// pick_table_test.
#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "balancer/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb_harness.h"

namespace vlb::testing {
namespace {

using ::testing::HasSubstr;

using Kind = PickOutcome::Kind;

std::unique_ptr<LbHarness> MakeHarness(const std::string& config) {
  absl::StatusOr<std::unique_ptr<LbHarness>> harness =
      LbHarness::Create(config);
  EXPECT_TRUE(harness.ok()) << harness.status();
  return harness.ok() ? *std::move(harness) : nullptr;
}

std::vector<FakeEndpoint> Endpoints(const std::vector<std::string>& versions,
                                    uint32_t weight = 1) {
  std::vector<FakeEndpoint> out;
  for (const std::string& v : versions) {
    FakeEndpoint e;
    e.version = v;
    e.weight = weight;
    out.push_back(e);
  }
  return out;
}

// Endpoint indices of `n` picks; any non-complete pick fails the test.
std::vector<size_t> PickMany(const LbHarness& harness, int n,
                             std::optional<absl::string_view> version) {
  std::vector<size_t> picked;
  for (int i = 0; i < n; ++i) {
    PickOutcome outcome = harness.Pick(version);
    EXPECT_EQ(outcome.kind, Kind::kComplete) << outcome.status;
    picked.push_back(outcome.endpoint);
  }
  return picked;
}

std::set<size_t> Distinct(const std::vector<size_t>& picks) {
  return std::set<size_t>(picks.begin(), picks.end());
}

// Round robin over `n` equal endpoints: every window of `n` consecutive
// picks visits each endpoint once, in the same order every cycle (which
// order is the policy's business).
void ExpectRotation(const std::vector<size_t>& picks, size_t n) {
  ASSERT_GE(picks.size(), 2 * n);
  for (size_t i = 0; i + n <= picks.size(); ++i) {
    std::vector<size_t> window(picks.begin() + i, picks.begin() + i + n);
    EXPECT_EQ(Distinct(window).size(), n) << "window at pick " << i;
  }
  for (size_t i = n; i < picks.size(); ++i) {
    EXPECT_EQ(picks[i], picks[i - n]) << "at pick " << i;
  }
}

constexpr char kVersionConfig[] = R"([{"vlb_version": {}}])";

TEST(LbPolicyTest, VersionRoutesEachVersionToItsInstances) {
  auto harness = MakeHarness(kVersionConfig);
  ASSERT_NE(harness, nullptr);
  ASSERT_TRUE(harness->SetEndpoints(Endpoints({"v1", "v2", "v1"})).ok());
  harness->SetAllStates(Connectivity::kReady);
  EXPECT_EQ(harness->state(), Connectivity::kReady);

  EXPECT_EQ(Distinct(PickMany(*harness, 10, "v1")), (std::set<size_t>{0, 2}));
  EXPECT_EQ(Distinct(PickMany(*harness, 10, "v2")), (std::set<size_t>{1}));
  // A range request reaches every instance it covers.
  EXPECT_EQ(Distinct(PickMany(*harness, 10, "^1")), (std::set<size_t>{0, 2}));
  // Without a version (and no default) every instance is eligible.
  EXPECT_EQ(Distinct(PickMany(*harness, 12, std::nullopt)),
            (std::set<size_t>{0, 1, 2}));
}

TEST(LbPolicyTest, VersionQueuesWhileItsInstancesConnect) {
  auto harness = MakeHarness(kVersionConfig);
  ASSERT_NE(harness, nullptr);
  ASSERT_TRUE(harness->SetEndpoints(Endpoints({"v1", "v2"})).ok());
  // New subchannels are asked to connect without waiting for a call.
  EXPECT_GE(harness->ConnectionRequests(0), 1u);
  EXPECT_EQ(harness->Pick("v1").kind, Kind::kQueue);

  harness->SetState(0, Connectivity::kConnecting);
  harness->SetState(1, Connectivity::kReady);
  EXPECT_EQ(harness->Pick("v1").kind, Kind::kQueue);
  EXPECT_EQ(harness->Pick("v2").endpoint, 1u);

  harness->SetState(0, Connectivity::kReady);
  PickOutcome outcome = harness->Pick("v1");
  EXPECT_EQ(outcome.kind, Kind::kComplete);
  EXPECT_EQ(outcome.endpoint, 0u);
}

TEST(LbPolicyTest, VersionFailsWithTheAvailableVersionsWhenNothingMatches) {
  auto harness = MakeHarness(kVersionConfig);
  ASSERT_NE(harness, nullptr);
  ASSERT_TRUE(harness->SetEndpoints(Endpoints({"v2", "v1", "v1"})).ok());
  harness->SetAllStates(Connectivity::kReady);

  PickOutcome outcome = harness->Pick("v3");
  // Fail, not Drop: wait_for_ready calls keep waiting for a matching
  // instance.
  ASSERT_EQ(outcome.kind, Kind::kFail);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(outcome.status.message(),
            "no instance of hwholiday.srv.app matches version \"v3\" "
            "(available: v1, v2)");
}

TEST(LbPolicyTest, FailedInstanceIsLeftOutUntilReadyAgain) {
  auto harness = MakeHarness(kVersionConfig);
  ASSERT_NE(harness, nullptr);
  ASSERT_TRUE(harness->SetEndpoints(Endpoints({"v1", "v1", "v2"})).ok());
  harness->SetAllStates(Connectivity::kReady);
  ASSERT_EQ(Distinct(PickMany(*harness, 10, "v1")), (std::set<size_t>{0, 1}));

  harness->SetState(0, Connectivity::kTransientFailure);
  EXPECT_EQ(Distinct(PickMany(*harness, 10, "v1")), (std::set<size_t>{1}));
  // Reconnecting after a failure does not make it eligible yet.
  harness->SetState(0, Connectivity::kConnecting);
  EXPECT_EQ(Distinct(PickMany(*harness, 10, "v1")), (std::set<size_t>{1}));
  harness->SetState(0, Connectivity::kReady);
  EXPECT_EQ(Distinct(PickMany(*harness, 10, "v1")), (std::set<size_t>{0, 1}));

  // With every instance of the version failed, calls fail rather than wait
  // behind dead instances.
  harness->SetState(2, Connectivity::kTransientFailure);
  PickOutcome outcome = harness->Pick("v2");
  EXPECT_EQ(outcome.kind, Kind::kFail);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(outcome.status.message()),
              ::testing::HasSubstr("unreachable"));
}

TEST(LbPolicyTest, EqualWeightWeightedRoundRobinIsRoundRobin) {
  auto wrr = MakeHarness(R"([{"vlb_weighted_round_robin": {}}])");
  auto rr = MakeHarness(R"([{"round_robin": {}}])");
  ASSERT_NE(wrr, nullptr);
  ASSERT_NE(rr, nullptr);
  const std::vector<FakeEndpoint> endpoints =
      Endpoints({"v1", "v2", "v1", "v3", "v1"}, /*weight=*/7);
  for (LbHarness* h : {wrr.get(), rr.get()}) {
    ASSERT_TRUE(h->SetEndpoints(endpoints).ok());
    h->SetAllStates(Connectivity::kReady);
  }
  // Same sequence up to the (random) starting point.
  std::vector<size_t> wrr_picks = PickMany(*wrr, 20, "v1");
  std::vector<size_t> rr_picks = PickMany(*rr, 20, std::nullopt);
  ExpectRotation(wrr_picks, endpoints.size());
  ExpectRotation(rr_picks, endpoints.size());
}

TEST(LbPolicyTest, WeightedRoundRobinFollowsWeights) {
  auto harness = MakeHarness(R"([{"vlb_weighted_round_robin": {}}])");
  ASSERT_NE(harness, nullptr);
  std::vector<FakeEndpoint> endpoints = Endpoints({"v1", "v1"});
  endpoints[1].weight = 3;
  ASSERT_TRUE(harness->SetEndpoints(endpoints).ok());
  harness->SetAllStates(Connectivity::kReady);
  std::map<size_t, int> counts;
  for (size_t i : PickMany(*harness, 400, std::nullopt)) ++counts[i];
  // The Weyl sequence keeps each count within a few picks of its share.
  EXPECT_NEAR(counts[0], 100, 3);
  EXPECT_NEAR(counts[1], 300, 3);
}

// The record's `drained` reaches the pick table, also when it is the only
// change (the address keeps its subchannel).
TEST(LbPolicyTest, DrainedInstanceGetsNoCallsWhileAnotherIsReady) {
  for (const char* child : {"round_robin", "weighted_round_robin", "random"}) {
    auto harness = MakeHarness(absl::StrCat(
        R"([{"vlb_version": {"childPolicy": ")", child, R"("}}])"));
    ASSERT_NE(harness, nullptr);
    std::vector<FakeEndpoint> endpoints = Endpoints({"v1", "v1", "v1"});
    ASSERT_TRUE(harness->SetEndpoints(endpoints).ok());
    harness->SetAllStates(Connectivity::kReady);
    EXPECT_EQ(Distinct(PickMany(*harness, 300, "v1")).size(), 3u) << child;
    endpoints[1].drained = true;
    ASSERT_TRUE(harness->SetEndpoints(endpoints).ok());
    EXPECT_EQ(Distinct(PickMany(*harness, 300, "v1")), (std::set<size_t>{0, 2}))
        << child;
    endpoints[0].drained = true;
    endpoints[2].drained = true;
    ASSERT_TRUE(harness->SetEndpoints(endpoints).ok());
    EXPECT_EQ(Distinct(PickMany(*harness, 300, "v1")).size(), 3u) << child;
  }
}

TEST(LbPolicyTest, RepeatedLaneHeaderEntriesNameOneLane) {
  // gRPC joins repeated entries with ','. The same lane twice (a handler
  // that propagates and also sets it) is that lane, strict or not; two
  // different lanes are refused, never served by the baseline.
  auto harness =
      MakeHarness(R"([{"vlb_version": {"strictLanes": ["feature-x"]}}])");
  ASSERT_NE(harness, nullptr);
  std::vector<FakeEndpoint> endpoints = Endpoints({"v1", "v1"});
  endpoints[1].lane = "feature-x";
  ASSERT_TRUE(harness->SetEndpoints(endpoints).ok());
  harness->SetAllStates(Connectivity::kReady);
  for (absl::string_view lane :
       {"feature-x", "feature-x,feature-x", " feature-x , feature-x"}) {
    PickOutcome outcome = harness->Pick("v1", lane);
    EXPECT_EQ(outcome.kind, Kind::kComplete) << lane << ": " << outcome.status;
    EXPECT_EQ(outcome.endpoint, 1u) << lane;
  }
  PickOutcome several = harness->Pick("v1", "feature-x,feature-y");
  EXPECT_EQ(several.kind, Kind::kDrop);
  EXPECT_EQ(several.status.message(),
            "lane header \"x-lane\" names more than one lane "
            "(\"feature-x,feature-y\"): a call can be in one lane only");
}

TEST(LbPolicyTest, FailureNamesTheLaneAlsoWhereLanesCannotMatter) {
  // No laned instance and nothing strict: the picker skips the lane header,
  // but a failing call's message names it, as vlbctl explain does.
  auto harness = MakeHarness(kVersionConfig);
  ASSERT_NE(harness, nullptr);
  ASSERT_TRUE(harness->SetEndpoints(Endpoints({"v1"})).ok());
  harness->SetAllStates(Connectivity::kReady);
  PickOutcome outcome = harness->Pick("v3", "feature-y");
  EXPECT_EQ(outcome.kind, Kind::kFail);
  EXPECT_THAT(std::string(outcome.status.message()),
              HasSubstr("no instance is in lane \"feature-y\""));
}

TEST(LbPolicyTest, GrpcRoundRobinRunsInTheHarness) {
  auto harness = MakeHarness(R"([{"round_robin": {}}])");
  ASSERT_NE(harness, nullptr);
  EXPECT_EQ(harness->policy_name(), "round_robin");
  ASSERT_TRUE(harness->SetEndpoints(Endpoints({"", "", ""})).ok());
  EXPECT_EQ(harness->Pick(std::nullopt).kind, Kind::kQueue);

  harness->SetAllStates(Connectivity::kReady);
  EXPECT_EQ(harness->state(), Connectivity::kReady);
  std::vector<size_t> picks = PickMany(*harness, 9, std::nullopt);
  EXPECT_EQ(Distinct(picks), (std::set<size_t>{0, 1, 2}));
  ExpectRotation(picks, 3);
  for (size_t i = 1; i < picks.size(); ++i) {
    EXPECT_EQ(picks[i], (picks[i - 1] + 1) % 3);  // gRPC's: address order
  }

  const uint64_t rebuilds = harness->PickerRebuildCount();
  harness->SetState(1, Connectivity::kTransientFailure);
  EXPECT_GT(harness->PickerRebuildCount(), rebuilds);
  EXPECT_GE(harness->ReresolutionRequests(), 1u);
  EXPECT_EQ(Distinct(PickMany(*harness, 8, std::nullopt)),
            (std::set<size_t>{0, 2}));
}

// A registration that flaps (removed, then back within seconds) gets its
// subchannel back instead of a new one: each new subchannel cost a
// connection attempt, a retry timer on gRPC's thread pool, and memory that
// stayed with the process (issue: memory and threads under churn).
TEST(LbPolicyTest, ReRegisteredAddressReusesItsSubchannel) {
  auto harness = MakeHarness(R"([{"vlb_version": {}}])");
  ASSERT_NE(harness, nullptr);
  std::vector<FakeEndpoint> both = Endpoints({"v1", "v2"});
  both[0].address = "127.0.0.1:1001";
  both[1].address = "127.0.0.1:1002";
  ASSERT_TRUE(harness->SetEndpoints(both).ok());
  EXPECT_EQ(harness->SubchannelsCreated(), 2u);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(harness->SetEndpoints({both[0]}).ok());
    ASSERT_TRUE(harness->SetEndpoints(both).ok());
  }
  EXPECT_EQ(harness->SubchannelsCreated(), 2u);
  // The reused subchannel serves calls again.
  harness->SetAllStates(Connectivity::kReady);
  EXPECT_THAT(Distinct(PickMany(*harness, 10, "v2")),
              ::testing::ElementsAre(1));
}

TEST(LbPolicyTest, RemovedSubchannelsKeptAreBounded) {
  auto harness = MakeHarness(R"([{"vlb_version": {}}])");
  ASSERT_NE(harness, nullptr);
  std::vector<FakeEndpoint> many;
  for (int i = 0; i < 301; ++i) {
    FakeEndpoint e;
    e.version = "v1";
    e.address = absl::StrCat("127.0.1.", i / 200, ":", 2000 + i);
    many.push_back(e);
  }
  ASSERT_TRUE(harness->SetEndpoints(many).ok());
  ASSERT_EQ(harness->SubchannelsCreated(), 301u);
  // 300 removed at once with one endpoint left: at most 1 + 256 are kept.
  ASSERT_TRUE(harness->SetEndpoints({many[0]}).ok());
  ASSERT_TRUE(harness->SetEndpoints(many).ok());
  EXPECT_EQ(harness->SubchannelsCreated(), 301u + 300u - 257u);
}

TEST(LbPolicyTest, UnknownPolicyIsAnError) {
  absl::StatusOr<std::unique_ptr<LbHarness>> harness =
      LbHarness::Create(R"([{"no_such_policy": {}}])");
  EXPECT_FALSE(harness.ok());
}

// The policies read the service config as gRPC parsed it (its JSON tree,
// not text): they must accept what the text parser accepts and refuse the
// rest with the same words (policy_config_test covers the words). gRPC
// itself refuses a policy config that is not an object.
TEST(LbPolicyTest, ReadsGrpcsParsedConfigAsTheTextParserDoes) {
  struct Case {
    const char* policy;
    const char* config;
  };
  for (const Case& c : {
           Case{"vlb_version", "{}"},
           Case{"vlb_version", R"({"header": "X-V", "defaultVersion": "v1",
                                   "fallback": ["v2", "*"],
                                   "childPolicy": "random"})"},
           Case{"vlb_version", R"({"fallback": ["v2", 3]})"},
           Case{"vlb_version", R"({"header": true})"},
           Case{"vlb_version", R"({"header": 18446744073709551616})"},
           Case{"vlb_version", R"({"defaultVersion": "^"})"},
           Case{"vlb_version", R"({"fallback": {"a": null}})"},
           Case{"vlb_version", R"({"zzz": 1, "childPolicy": "bogus"})"},
           Case{"vlb_random", R"({"x": 1})"},
           Case{"vlb_weighted_round_robin", "{}"},
       }) {
    SCOPED_TRACE(absl::StrCat(c.policy, ": ", c.config));
    absl::StatusOr<internal::PolicyConfig> expected =
        internal::ParsePolicyConfig(c.policy, c.config);
    absl::StatusOr<std::unique_ptr<LbHarness>> harness = LbHarness::Create(
        absl::StrCat(R"([{")", c.policy, R"(": )", c.config, "}]"));
    ASSERT_EQ(harness.ok(), expected.ok()) << harness.status();
    if (!expected.ok()) {
      EXPECT_EQ(harness.status().message(), expected.status().message());
    }
  }
  // A number out of double's range is JSON to gRPC (the text parser calls
  // it an overflow): it reads as a number, not as a parse error.
  absl::StatusOr<std::unique_ptr<LbHarness>> huge =
      LbHarness::Create(R"([{"vlb_version": {"header": -1.5e400}}])");
  EXPECT_EQ(huge.status().message(),
            "vlb_version.header: must be a string, not number");
}

}  // namespace
}  // namespace vlb::testing
