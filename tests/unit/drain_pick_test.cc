// Drained endpoints (EndpointInfo::drained) under each child policy: no new
// calls while an undrained candidate is ready, every call when none is.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "allocation_counter.h"
#include "balancer/group_index.h"
#include "balancer/pick_table.h"
#include "balancer/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using Kind = PickResult::Kind;

constexpr char kService[] = "hwholiday.srv.app";
constexpr EndpointState kReady = EndpointState::kReady;
constexpr EndpointState kConnecting = EndpointState::kConnecting;
constexpr bool kDrained = true;

EndpointInfo E(std::vector<std::string> versions, bool drained = false,
               uint32_t weight = 1, EndpointState state = kReady) {
  EndpointInfo e;
  e.versions = std::move(versions);
  e.drained = drained;
  e.weight = weight;
  e.state = state;
  return e;
}

std::unique_ptr<PickTable> Table(const std::vector<EndpointInfo>& endpoints,
                                 absl::string_view child) {
  absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(
      "vlb_version", absl::StrCat(R"({"childPolicy": ")", child, "\"}"));
  EXPECT_TRUE(config.ok()) << config.status();
  return PickTable::Build(endpoints, config.ok() ? *config : PolicyConfig(),
                          kService, /*seed=*/7);
}

// How often each endpoint serves `n` picks; a pick that does not pick
// fails the test.
std::map<size_t, int> Counts(const PickTable& table,
                             std::optional<absl::string_view> requested,
                             int n) {
  std::map<size_t, int> counts;
  for (int i = 0; i < n; ++i) {
    PickResult r = table.Pick(requested);
    if (r.kind != Kind::kPicked) {
      ADD_FAILURE() << "pick " << i << " did not pick";
      break;
    }
    ++counts[r.endpoint];
  }
  return counts;
}

std::vector<size_t> Picked(const std::map<size_t, int>& counts) {
  std::vector<size_t> out;
  for (const auto& [endpoint, count] : counts) out.push_back(endpoint);
  return out;
}

class DrainPickTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<PickTable> Table(const std::vector<EndpointInfo>& e) {
    return vlb::internal::Table(e, GetParam());
  }
};

INSTANTIATE_TEST_SUITE_P(EveryChild, DrainPickTest,
                         ::testing::Values("round_robin",
                                           "weighted_round_robin", "random"),
                         [](const auto& param) {
                           return std::string(param.param);
                         });

TEST_P(DrainPickTest, DrainedEndpointsGetNoCallsWhileOthersAreReady) {
  // Drained ones first and heaviest, so that neither order nor weight can
  // hide them.
  const std::vector<EndpointInfo> endpoints = {
      E({"v1"}, kDrained, 9), E({"v1"}), E({"v1"}),
      E({"v2"}, kDrained, 9), E({"v2"}), E({"v3"}, kDrained)};
  auto table = Table(endpoints);
  EXPECT_THAT(Picked(Counts(*table, "v1", 600)), ElementsAre(1, 2));
  EXPECT_THAT(Picked(Counts(*table, "v2", 600)), ElementsAre(4));
  EXPECT_THAT(Picked(Counts(*table, "v1 || v2", 600)), ElementsAre(1, 2, 4));
  EXPECT_THAT(Picked(Counts(*table, std::nullopt, 600)), ElementsAre(1, 2, 4));
  EXPECT_THAT(Picked(Counts(*table, "*", 600)), ElementsAre(1, 2, 4));
  // v3 has only a drained instance: it serves, no failure.
  EXPECT_THAT(Picked(Counts(*table, "v3", 600)), ElementsAre(5));
  // The union of v3 with v1 uses v1 only.
  EXPECT_THAT(Picked(Counts(*table, "v1 || v3", 600)), ElementsAre(1, 2));
  EXPECT_EQ(table->AggregateState(), EndpointState::kReady);
}

TEST_P(DrainPickTest, OnlyDrainedReadyServesEveryCall) {
  // The undrained instances are not ready: calls go to the drained ones
  // instead of queueing or failing.
  const std::vector<EndpointInfo> endpoints = {
      E({"v1"}, kDrained), E({"v1"}, false, 1, kConnecting),
      E({"v2"}, kDrained), E({"v2"}, false, 1, kConnecting)};
  auto table = Table(endpoints);
  EXPECT_THAT(Picked(Counts(*table, "v1", 400)), ElementsAre(0));
  EXPECT_THAT(Picked(Counts(*table, "v1 || v2", 400)), ElementsAre(0, 2));
  EXPECT_THAT(Picked(Counts(*table, std::nullopt, 400)), ElementsAre(0, 2));
  EXPECT_EQ(table->AggregateState(), EndpointState::kReady);
}

TEST_P(DrainPickTest, SharedAddressesAndManyGroups) {
  // An address in several groups lays out the all-endpoints run apart.
  const std::vector<EndpointInfo> shared = {E({"v1", "v2"}, kDrained),
                                            E({"v1"}), E({"v2"}, kDrained)};
  auto table = Table(shared);
  EXPECT_THAT(Picked(Counts(*table, std::nullopt, 300)), ElementsAre(1));
  EXPECT_THAT(Picked(Counts(*table, "v2", 300)), ElementsAre(0, 2));
  // More matching groups than a candidate set lists: every even one drained.
  std::vector<EndpointInfo> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back(E({absl::StrCat("1.", i, ".0")}, i % 2 == 0));
  }
  table = Table(many);
  const std::map<size_t, int> counts = Counts(*table, "1.x", 4000);
  EXPECT_EQ(counts.size(), 20u);
  for (const auto& [endpoint, count] : counts) EXPECT_EQ(endpoint % 2, 1u);
}

TEST(DrainPickTest, RoundRobinRotatesExactlyOverTheUndrained) {
  const std::vector<EndpointInfo> endpoints = {E({"v1"}), E({"v1"}, kDrained),
                                               E({"v1"}), E({"v1"})};
  auto table = vlb::internal::Table(endpoints, "round_robin");
  EXPECT_THAT(Counts(*table, "v1", 300),
              ElementsAre(Pair(0, 100), Pair(2, 100), Pair(3, 100)));
}

TEST(DrainPickTest, WeightedKeepsTheUndrainedShares) {
  const std::vector<EndpointInfo> endpoints = {
      E({"v1"}, false, 1), E({"v1"}, kDrained, 5), E({"v1"}, false, 3)};
  auto table = vlb::internal::Table(endpoints, "weighted_round_robin");
  const std::map<size_t, int> counts = Counts(*table, "v1", 4000);
  EXPECT_THAT(Picked(counts), ElementsAre(0, 2));
  EXPECT_NEAR(counts.at(2), 3000, 30);
  // Weight 0 still means "only when nothing weighs more", among the
  // undrained: the drained instance stays out.
  const std::vector<EndpointInfo> zero = {
      E({"v1"}, false, 0), E({"v1"}, kDrained, 5), E({"v1"}, false, 0)};
  table = vlb::internal::Table(zero, "weighted_round_robin");
  EXPECT_THAT(Counts(*table, "v1", 200),
              UnorderedElementsAre(Pair(0, 100), Pair(2, 100)));
}

TEST(DrainPickTest, GroupSlicesListTheUndrainedFirst) {
  const GroupIndex index({E({"v1"}, kDrained), E({"v1"}), E({"v2"}),
                          E({"v1"}, kDrained, 1, kConnecting), E({"v1"})});
  ASSERT_EQ(index.num_groups(), 2u);
  const Group& v1 = index.group(0);
  EXPECT_EQ(v1.live.size, 2u);
  EXPECT_EQ(v1.any.size, 3u);
  const uint32_t* run = index.ready_run(v1.ready_begin);
  EXPECT_THAT(std::vector<uint32_t>(run, run + 3), ElementsAre(1, 4, 0));
  // Every endpoint's run: undrained first, over both groups.
  EXPECT_EQ(index.all_size(), 4u);
  EXPECT_EQ(index.all_used_size(), 3u);
  EXPECT_FALSE(index.all().drained);
  run = index.ready_run(index.all_begin());
  EXPECT_THAT(std::vector<uint32_t>(run, run + 4), ElementsAre(1, 2, 4, 0));
}

TEST(DrainPickTest, PickDoesNotAllocate) {
  const std::vector<EndpointInfo> endpoints = {
      E({"v1"}, kDrained, 2), E({"v1"}, false, 1), E({"v1"}, false, 3),
      E({"v2"}, kDrained), E({"v1", "v3"}, kDrained)};
  std::vector<std::unique_ptr<PickTable>> tables;
  for (const char* child : {"round_robin", "weighted_round_robin", "random"}) {
    tables.push_back(vlb::internal::Table(endpoints, child));
  }
  const std::optional<absl::string_view> requests[] = {
      std::nullopt, "v1", "v2", "v1 || v2", "v2 || v3", "*"};
  // Thread-local state and cached resolutions first: only steady-state
  // picks must not allocate.
  for (const auto& table : tables) {
    for (const auto& request : requests) table->Pick(request);
  }
  vlb::testing::AllocationCounter allocations;
  int picked = 0;
  for (int round = 0; round < 10; ++round) {
    for (const auto& table : tables) {
      for (const auto& request : requests) {
        picked += table->Pick(request).kind == Kind::kPicked;
      }
    }
  }
  EXPECT_EQ(allocations.count(), 0);
  EXPECT_EQ(picked, 10 * 3 * 6);
}

}  // namespace
}  // namespace vlb::internal
