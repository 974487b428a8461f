#include "balancer/group_index.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr EndpointState kReady = EndpointState::kReady;
constexpr EndpointState kConnecting = EndpointState::kConnecting;
constexpr EndpointState kFailed = EndpointState::kTransientFailure;

EndpointInfo E(std::vector<std::string> versions, EndpointState state = kReady,
               uint32_t weight = 1) {
  EndpointInfo e;
  e.versions = std::move(versions);
  e.state = state;
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

// Every endpoint of the set, by position.
std::vector<uint32_t> Members(const GroupIndex& index, const Candidates& c,
                              const VersionRequest* request) {
  std::vector<uint32_t> out;
  for (uint64_t i = 0; i < c.ready; ++i) {
    out.push_back(index.Locate(c, request, i));
  }
  return out;
}

TEST(GroupIndexTest, CollectsTheGroupsARequestMatches) {
  const GroupIndex index({E({"v1"}), E({"v2"}), E({"1.0.0"}),
                          E({"v1"}, kConnecting), E({"v1"}, kFailed),
                          E({"canary"})});
  EXPECT_EQ(index.num_groups(), 4u);  // v1, v2, 1.0.0, canary
  const VersionRequest v1 = Request("v1");
  Candidates c = Collect(index, &v1);
  EXPECT_TRUE(c.matched);
  EXPECT_TRUE(c.connecting);
  EXPECT_FALSE(c.all);
  EXPECT_EQ(c.ready, 2u);
  EXPECT_EQ(c.num_groups, 2);  // "v1" and "1.0.0"
  EXPECT_THAT(Members(index, c, &v1), UnorderedElementsAre(0, 2));

  const VersionRequest v9 = Request("v9");
  c = Collect(index, &v9);
  EXPECT_FALSE(c.matched);
  EXPECT_EQ(c.ready, 0u);
}

TEST(GroupIndexTest, NoRequestAndStarGiveEveryEndpointOnce) {
  // Endpoint 0 is in two groups; sets of everything still list it once.
  const GroupIndex index(
      {E({"v1", "v2"}), E({"v1"}), E({}), E({"v3"}, kFailed)});
  const VersionRequest any = Request("*");
  for (const VersionRequest* request :
       {static_cast<const VersionRequest*>(nullptr), &any}) {
    Candidates c = Collect(index, request);
    EXPECT_TRUE(c.all);
    EXPECT_EQ(c.ready, 3u);
    EXPECT_THAT(Members(index, c, request), UnorderedElementsAre(0, 1, 2));
  }
  EXPECT_EQ(index.all().ready, 3u);
  EXPECT_EQ(index.all_size(), 3u);
  EXPECT_EQ(index.num_failed(), 1u);
  const VersionRequest v2 = Request("v2");
  EXPECT_THAT(Members(index, Collect(index, &v2), &v2), ElementsAre(0));
}

TEST(GroupIndexTest, OverflowedSetsAreWalkedByTheirRequest) {
  std::vector<EndpointInfo> endpoints;
  for (int i = 0; i < kMaxListedGroups + 8; ++i) {
    endpoints.push_back(E({absl::StrCat("1.", i, ".0")}));
  }
  endpoints.push_back(E({"2.0.0"}));
  const GroupIndex index(endpoints);
  const VersionRequest request = Request("1.x");
  Candidates c = Collect(index, &request);
  EXPECT_TRUE(c.overflow);
  EXPECT_EQ(c.ready, endpoints.size() - 1);
  std::vector<uint32_t> members = Members(index, c, &request);
  EXPECT_EQ(std::set<uint32_t>(members.begin(), members.end()).size(),
            endpoints.size() - 1);
  EXPECT_EQ(std::count(members.begin(), members.end(), endpoints.size() - 1),
            0);
}

TEST(GroupIndexTest, WeightedPositionsBelongToOneEndpointEach) {
  const GroupIndex index({E({"v1"}, kReady, 1), E({"v1"}, kReady, 3),
                          E({"v1"}, kReady, 0), E({"1.0"}, kReady, 2),
                          E({"v2"}, kReady, 5)});
  const VersionRequest v1 = Request("v1");
  Candidates c = Collect(index, &v1);
  EXPECT_EQ(c.weight, 6u);
  EXPECT_FALSE(c.uniform);
  std::vector<uint32_t> owners;
  for (uint64_t p = 0; p < c.weight; ++p) {
    owners.push_back(index.LocateWeighted(c, &v1, p));
  }
  // The drained endpoint 2 owns no position.
  EXPECT_THAT(owners, ElementsAre(0, 1, 1, 1, 3, 3));
}

TEST(GroupIndexTest, FailedMatchingCountsEachGroupOnce) {
  const GroupIndex index({E({"v1"}, kFailed), E({"1.0.0"}, kFailed),
                          E({"v2"}, kFailed), E({"v3"}, kFailed)});
  const std::vector<VersionRequest> fallbacks = {Request("v1"), Request("v2")};
  EXPECT_EQ(index.FailedMatching(Request("v1"), {}), 2u);
  // v1's groups are matched twice but counted once.
  EXPECT_EQ(index.FailedMatching(Request("1.0.0"), fallbacks), 3u);
  EXPECT_EQ(index.FailedMatching(Request("v9"), {}), 0u);
}

TEST(GroupIndexTest, AvailableAndGroupsByEndpointCount) {
  EXPECT_EQ(GroupIndex({}).Available(), "none");
  const GroupIndex index({E({"v2"}), E({"canary"}), E({"v10"}), E({}),
                          E({"v2"}, kFailed), E({"v10"}, kConnecting),
                          E({"v10"})});
  EXPECT_EQ(index.Available(), "v2, v10, \"\", canary");
  std::vector<std::string> by_count;
  for (uint32_t g : index.GroupsByEndpointCount()) {
    by_count.push_back(index.group(g).version);
  }
  EXPECT_THAT(by_count, ElementsAre("v10", "v2", "canary", ""));
}

}  // namespace
}  // namespace vlb::internal
