#include "balancer/pick_table.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "allocation_counter.h"
#include "balancer/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using Kind = PickResult::Kind;

constexpr char kService[] = "hwholiday.srv.app";
constexpr EndpointState kReady = EndpointState::kReady;
constexpr EndpointState kIdle = EndpointState::kIdle;
constexpr EndpointState kConnecting = EndpointState::kConnecting;
constexpr EndpointState kFailed = EndpointState::kTransientFailure;

EndpointInfo E(std::string version, EndpointState state = kReady,
               uint32_t weight = 1) {
  EndpointInfo e;
  e.versions = {std::move(version)};
  e.state = state;
  e.weight = weight;
  return e;
}

PolicyConfig Config(absl::string_view json = "",
                    absl::string_view policy = "vlb_version") {
  absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(policy, json);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : PolicyConfig();
}

std::unique_ptr<PickTable> Table(const std::vector<EndpointInfo>& endpoints,
                                 const PolicyConfig& config = Config(),
                                 uint64_t seed = 0) {
  return PickTable::Build(endpoints, config, kService, seed);
}

// Picks `n` times and returns how often each endpoint came up; a non-kPicked
// result fails the test.
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

// The versions of the endpoints picked over enough picks to see them all.
std::set<std::string> PickedVersions(
    const std::vector<EndpointInfo>& endpoints, const PickTable& table,
    std::optional<absl::string_view> requested) {
  std::set<std::string> versions;
  for (const auto& [endpoint, count] :
       Counts(table, requested, 20 * static_cast<int>(endpoints.size()))) {
    versions.insert(endpoints[endpoint].versions[0]);
  }
  return versions;
}

std::vector<size_t> Sequence(const PickTable& table,
                             std::optional<absl::string_view> requested,
                             int n) {
  std::vector<size_t> out;
  for (int i = 0; i < n; ++i) {
    PickResult r = table.Pick(requested);
    EXPECT_EQ(r.kind, Kind::kPicked);
    out.push_back(r.endpoint);
  }
  return out;
}

std::string Message(const PickTable& table,
                    std::optional<absl::string_view> requested,
                    Kind expected_kind) {
  PickResult r = table.Pick(requested);
  EXPECT_EQ(r.kind, expected_kind);
  return std::string(table.FailureStatus(r, requested).message());
}

// Checks that each endpoint's count is within `tolerance` (relative) of its
// weight share of `picks`, and within `max_picks` of it in absolute terms.
void ExpectWeightShares(const std::vector<EndpointInfo>& endpoints,
                        const std::map<size_t, int>& counts, int picks,
                        double tolerance, double max_picks = 1e9) {
  double total_weight = 0;
  for (const EndpointInfo& e : endpoints) total_weight += e.weight;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    double expected = picks * endpoints[i].weight / total_weight;
    auto it = counts.find(i);
    double got = it == counts.end() ? 0 : it->second;
    EXPECT_LE(std::abs(got - expected),
              std::min(tolerance * expected, max_picks))
        << "endpoint " << i << " weight " << endpoints[i].weight << ": got "
        << got << ", expected " << expected;
  }
}

TEST(PickTableTest, RoutesExactVersionsWithPadding) {
  const std::vector<EndpointInfo> endpoints = {
      E("v1"), E("v2"), E("v3"), E("1.0.0"), E("1.4.0"), E("v2"),
  };
  auto table = Table(endpoints);
  EXPECT_THAT(PickedVersions(endpoints, *table, "v1"),
              UnorderedElementsAre("v1", "1.0.0"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "1.0.0"),
              UnorderedElementsAre("v1", "1.0.0"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "v2"), ElementsAre("v2"));
  EXPECT_THAT(PickedVersions(endpoints, *table, " v3 "), ElementsAre("v3"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "v1.4"), ElementsAre("1.4.0"));
  // Both v2 instances take turns.
  EXPECT_THAT(Counts(*table, "v2", 10),
              UnorderedElementsAre(std::pair<const size_t, int>(1, 5),
                                   std::pair<const size_t, int>(5, 5)));
}

TEST(PickTableTest, RoutesRangesToExactlyTheMatchingVersions) {
  const std::vector<EndpointInfo> endpoints = {
      E("0.9.0"), E("1.2.0"),      E("1.4.0"), E("1.4.7"),
      E("1.9.1"), E("1.5.0-rc.1"), E("2.0.0"), E("canary"),
  };
  auto table = Table(endpoints);
  EXPECT_THAT(PickedVersions(endpoints, *table, "^1.4"),
              UnorderedElementsAre("1.4.0", "1.4.7", "1.9.1"));
  EXPECT_THAT(PickedVersions(endpoints, *table, ">=1.2 <2"),
              UnorderedElementsAre("1.2.0", "1.4.0", "1.4.7", "1.9.1"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "1.x"),
              UnorderedElementsAre("1.2.0", "1.4.0", "1.4.7", "1.9.1"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "~1.4 || canary"),
              UnorderedElementsAre("1.4.0", "1.4.7", "canary"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "1.5.0-rc.1"),
              ElementsAre("1.5.0-rc.1"));
  EXPECT_EQ(PickedVersions(endpoints, *table, "*").size(), endpoints.size());
}

TEST(PickTableTest, FallbacksAreTriedInOrder) {
  const PolicyConfig config = Config(R"({"fallback": ["v2", "*"]})");
  // No v2: the `*` fallback takes everything.
  std::vector<EndpointInfo> endpoints = {E("v1"), E("v3")};
  EXPECT_THAT(PickedVersions(endpoints, *Table(endpoints, config), "v4"),
              UnorderedElementsAre("v1", "v3"));
  // With a v2, it wins over `*`.
  endpoints = {E("v1"), E("v2"), E("v3")};
  EXPECT_THAT(PickedVersions(endpoints, *Table(endpoints, config), "v4"),
              ElementsAre("v2"));
  // The requested version still comes first.
  EXPECT_THAT(PickedVersions(endpoints, *Table(endpoints, config), "v3"),
              ElementsAre("v3"));
  // A connecting v2 makes the call wait rather than go to `*`.
  endpoints = {E("v1"), E("v2", kConnecting), E("v3")};
  EXPECT_EQ(Table(endpoints, config)->Pick("v4").kind, Kind::kQueue);
  // A failed v2 does not.
  endpoints = {E("v1"), E("v2", kFailed), E("v3")};
  EXPECT_THAT(PickedVersions(endpoints, *Table(endpoints, config), "v4"),
              UnorderedElementsAre("v1", "v3"));
  // A failed requested version falls back too.
  endpoints = {E("v1"), E("v2"), E("v3", kFailed)};
  EXPECT_THAT(PickedVersions(endpoints, *Table(endpoints, config), "v3"),
              ElementsAre("v2"));
}

TEST(PickTableTest, DefaultVersionServesCallsWithoutOne) {
  const std::vector<EndpointInfo> endpoints = {E("v1"), E("v2"), E("v3")};
  auto table = Table(endpoints, Config(R"({"defaultVersion": "v2"})"));
  EXPECT_THAT(PickedVersions(endpoints, *table, std::nullopt),
              ElementsAre("v2"));
  EXPECT_THAT(PickedVersions(endpoints, *table, ""), ElementsAre("v2"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "  "), ElementsAre("v2"));
  EXPECT_THAT(PickedVersions(endpoints, *table, "v3"), ElementsAre("v3"));
}

TEST(PickTableTest, NoVersionAndNoDefaultUsesEveryInstance) {
  const std::vector<EndpointInfo> endpoints = {E("v1"), E("v2"), E(""),
                                               E("canary")};
  auto table = Table(endpoints);
  EXPECT_EQ(PickedVersions(endpoints, *table, std::nullopt).size(), 4u);
  EXPECT_EQ(PickedVersions(endpoints, *table, "").size(), 4u);
}

TEST(PickTableTest, QueuesWhileMatchingInstancesConnect) {
  for (EndpointState state : {kIdle, kConnecting}) {
    auto table = Table({E("v1", state), E("v1", kFailed), E("v2")});
    EXPECT_EQ(table->Pick("v1").kind, Kind::kQueue);
    EXPECT_EQ(table->Pick("v2").kind, Kind::kPicked);
  }
}

TEST(PickTableTest, UnreachableWhenEveryMatchingInstanceFailed) {
  auto table = Table({E("v1", kFailed), E("1.0.0", kFailed), E("v2")});
  EXPECT_EQ(Message(*table, "v1", Kind::kUnreachable),
            "instances of hwholiday.srv.app matching version \"v1\" are "
            "unreachable (2 in TRANSIENT_FAILURE)");
  PickResult r = table->Pick("v1");
  EXPECT_EQ(table->FailureStatus(r, "v1").code(),
            absl::StatusCode::kUnavailable);

  auto with_fallback = Table({E("v1", kFailed), E("v2", kFailed), E("v3")},
                             Config(R"({"fallback": ["v2"]})"));
  EXPECT_EQ(Message(*with_fallback, "v1", Kind::kUnreachable),
            "instances of hwholiday.srv.app matching version \"v1\" are "
            "unreachable (2 in TRANSIENT_FAILURE; fallback tried: v2)");
  // A fallback that matches nothing does not turn it into kNoMatch.
  auto missing_fallback =
      Table({E("v1", kFailed)}, Config(R"({"fallback": ["v9"]})"));
  EXPECT_EQ(missing_fallback->Pick("v1").kind, Kind::kUnreachable);

  auto all_failed = Table({E("v1", kFailed), E("v2", kFailed)});
  EXPECT_EQ(Message(*all_failed, std::nullopt, Kind::kUnreachable),
            "instances of hwholiday.srv.app are unreachable (no version "
            "requested; 2 in TRANSIENT_FAILURE)");
  auto defaulted =
      Table({E("v1", kFailed), E("v2")}, Config(R"({"defaultVersion": "v1"})"));
  EXPECT_EQ(Message(*defaulted, std::nullopt, Kind::kUnreachable),
            "instances of hwholiday.srv.app matching default version \"v1\" "
            "are unreachable (no version requested; 1 in TRANSIENT_FAILURE)");
}

TEST(PickTableTest, BadRequests) {
  auto table = Table({E("v1")});
  for (absl::string_view bad : {"^", "01.2", "v1 ||", ">=x"}) {
    PickResult r = table->Pick(bad);
    EXPECT_EQ(r.kind, Kind::kBadRequest) << bad;
    absl::Status status = table->FailureStatus(r, bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                StartsWith(absl::StrCat("invalid version request \"", bad,
                                        "\" for hwholiday.srv.app: ")))
        << status;
    // The request is named once.
    EXPECT_THAT(std::string(status.message()).substr(10),
                ::testing::Not(HasSubstr("invalid version request")));
  }
}

TEST(PickTableTest, NoMatchMessages) {
  auto table = Table({E("v2"), E("v1"), E("v1")});
  EXPECT_EQ(Message(*table, "v3", Kind::kNoMatch),
            "no instance of hwholiday.srv.app matches version \"v3\" "
            "(available: v1, v2)");
  PickResult r = table->Pick("v3");
  EXPECT_EQ(table->FailureStatus(r, "v3").code(),
            absl::StatusCode::kUnavailable);

  auto with_fallback =
      Table({E("v2"), E("v1")}, Config(R"({"fallback": ["v5", "4.x"]})"));
  EXPECT_EQ(Message(*with_fallback, "v3", Kind::kNoMatch),
            "no instance of hwholiday.srv.app matches version \"v3\" "
            "(available: v1, v2; fallback tried: v5, 4.x)");

  auto defaulted = Table({E("v2")}, Config(R"({"defaultVersion": "v1"})"));
  EXPECT_EQ(Message(*defaulted, std::nullopt, Kind::kNoMatch),
            "no instance of hwholiday.srv.app matches default version \"v1\" "
            "(no version requested; available: v2)");

  auto empty = Table({});
  EXPECT_EQ(Message(*empty, "v1", Kind::kNoMatch),
            "no instance of hwholiday.srv.app matches version \"v1\" "
            "(available: none)");
  EXPECT_EQ(Message(*empty, std::nullopt, Kind::kNoMatch),
            "no instance of hwholiday.srv.app is available (no version "
            "requested; available: none)");
  auto empty_wrr = Table({}, Config("", "vlb_weighted_round_robin"));
  EXPECT_EQ(Message(*empty_wrr, "v1", Kind::kNoMatch),
            "no instance of hwholiday.srv.app is available");
}

// FailureStatus formats what the pick found; a pick served from the
// resolution cache reports the same as one that took the full path.
TEST(PickTableTest, FailedPicksCarryWhatTheyFound) {
  auto table = Table({E("v1", kFailed), E("1.0", kFailed), E("v2", kFailed)},
                     Config(R"({"fallback": ["v2"]})"));
  // Fill the cache's slots, so that "v1 || v9" takes the full path each time.
  for (int i = 0; i < 10; ++i) table->Pick(absl::StrCat("^", i + 3));
  for (absl::string_view request : {"v1", "v1 || v9"}) {
    for (int round = 0; round < 2; ++round) {
      PickResult r = table->Pick(request);
      EXPECT_EQ(r.kind, Kind::kUnreachable) << request;
      EXPECT_EQ(r.source, PickResult::Source::kHeader);
      EXPECT_EQ(r.failed, 3u) << request;
      EXPECT_EQ(r.fallbacks_tried, 1);
    }
  }
  EXPECT_EQ(Message(*table, "v1 || v9", Kind::kUnreachable),
            "instances of hwholiday.srv.app matching version \"v1 || v9\" are "
            "unreachable (3 in TRANSIENT_FAILURE; fallback tried: v2)");
  PickResult bad = table->Pick("v1 |");
  EXPECT_EQ(bad.kind, Kind::kBadRequest);
  EXPECT_NE(bad.syntax_error.code, 0);
}

TEST(PickTableTest, AvailableVersionsAreSortedBySemverThenText) {
  auto table = Table({E("v10"), E("canary"), E("v2"), E("1.0.0-rc.1"), E(""),
                      E("2.0.0"), E("v1.0.0")});
  EXPECT_EQ(Message(*table, "v3", Kind::kNoMatch),
            "no instance of hwholiday.srv.app matches version \"v3\" "
            "(available: 1.0.0-rc.1, v1.0.0, 2.0.0, v2, v10, \"\", canary)");
}

TEST(PickTableTest, RoundRobinSpreadsEvenly) {
  std::vector<EndpointInfo> endpoints;
  for (int i = 0; i < 7; ++i) endpoints.push_back(E(i < 4 ? "v1" : "1.0"));
  endpoints.push_back(E("v2"));
  auto table = Table(endpoints, Config(), 12345);
  for (std::optional<absl::string_view> request :
       {std::optional<absl::string_view>("v1"),
        std::optional<absl::string_view>(std::nullopt)}) {
    const size_t n = request.has_value() ? 7 : 8;
    for (int picks : {1, 6, 100, 1000, 1001}) {
      std::map<size_t, int> counts = Counts(*table, request, picks);
      int lo = picks / static_cast<int>(n);
      for (size_t i = 0; i < n; ++i) {
        EXPECT_GE(counts[i], lo) << picks << " picks";
        EXPECT_LE(counts[i], lo + 1) << picks << " picks";
      }
      if (request.has_value()) {
        EXPECT_EQ(counts.count(7), 0u);
      }
    }
  }
}

TEST(PickTableTest, SeedChoosesTheStartingInstance) {
  const std::vector<EndpointInfo> endpoints = {E("v1"), E("v1"), E("v1"),
                                               E("v1")};
  EXPECT_NE(Table(endpoints, Config(), 0)->Pick("v1").endpoint,
            Table(endpoints, Config(), 1)->Pick("v1").endpoint);
  EXPECT_EQ(Sequence(*Table(endpoints, Config(), 77), "v1", 10),
            Sequence(*Table(endpoints, Config(), 77), "v1", 10));
  // Different seeds give different weighted sequences too.
  std::vector<EndpointInfo> weighted = {E("v1", kReady, 1), E("v1", kReady, 2),
                                        E("v1", kReady, 3)};
  const PolicyConfig wrr = Config(R"({"childPolicy": "weighted_round_robin"})");
  EXPECT_NE(Sequence(*Table(weighted, wrr, 5), "v1", 10),
            Sequence(*Table(weighted, wrr, 6), "v1", 10));
  EXPECT_EQ(Sequence(*Table(weighted, wrr, 5), "v1", 10),
            Sequence(*Table(weighted, wrr, 5), "v1", 10));
}

TEST(PickTableTest, EqualWeightsBehaveExactlyLikeRoundRobin) {
  std::vector<EndpointInfo> endpoints;
  for (int i = 0; i < 5; ++i) endpoints.push_back(E("1.0.0", kReady, 7));
  for (int i = 0; i < 4; ++i) endpoints.push_back(E("1.1.0", kReady, 7));
  endpoints.push_back(E("2.0.0", kReady, 3));
  const PolicyConfig rr = Config();
  const PolicyConfig wrr = Config(R"({"childPolicy": "weighted_round_robin"})");
  for (std::optional<absl::string_view> request :
       {std::optional<absl::string_view>("1.x"),
        std::optional<absl::string_view>("v2")}) {
    EXPECT_EQ(Sequence(*Table(endpoints, rr, 99), request, 50),
              Sequence(*Table(endpoints, wrr, 99), request, 50));
  }
  endpoints.pop_back();
  EXPECT_EQ(Sequence(*Table(endpoints, rr, 3), std::nullopt, 50),
            Sequence(*Table(endpoints, wrr, 3), std::nullopt, 50));
  auto plain = Table(endpoints, Config("", "vlb_weighted_round_robin"), 3);
  EXPECT_EQ(Sequence(*Table(endpoints, rr, 3), std::nullopt, 50),
            Sequence(*plain, "ignored", 50));
}

TEST(PickTableTest, WeightedSharesWithinOnePercent) {
  const PolicyConfig wrr = Config(R"({"childPolicy": "weighted_round_robin"})");
  constexpr int kPicks = 100000;
  struct Case {
    std::vector<EndpointInfo> endpoints;
    std::optional<absl::string_view> request;
  };
  const std::vector<Case> cases = {
      // One group, and the table over everything.
      {{E("v1", kReady, 1), E("v1", kReady, 2), E("v1", kReady, 3),
        E("v1", kReady, 4)},
       "v1"},
      {{E("v1", kReady, 1), E("v1", kReady, 10), E("v1", kReady, 100)},
       std::nullopt},
      // Several groups: the position is split by group weight first.
      {{E("1.0.0", kReady, 1), E("1.1.0", kReady, 2), E("1.0.0", kReady, 3),
        E("1.2.0", kReady, 4)},
       "1.x"},
      {{E("1.0.0", kReady, 1), E("1.1.0", kReady, 10), E("1.2.0", kReady, 100)},
       ">=1"},
      {{E("1.0.0", kReady, 5), E("1.0.0", kReady, 5), E("1.1.0", kReady, 1),
        E("1.1.0", kReady, 1), E("1.1.0", kReady, 100)},
       "^1"},
  };
  for (const Case& c : cases) {
    for (uint64_t seed : {0ull, 0xdeadbeefull}) {
      SCOPED_TRACE(absl::StrCat(c.request.value_or("(none)"), " seed ", seed));
      auto table = Table(c.endpoints, wrr, seed);
      // The sequence is low-discrepancy, not random: besides the 1% asked
      // of it, every count is within a few picks of its exact share.
      ExpectWeightShares(c.endpoints, Counts(*table, c.request, kPicks), kPicks,
                         0.01, 3);
    }
  }
}

TEST(PickTableTest, WeightedPicksInterleave) {
  const std::vector<EndpointInfo> endpoints = {
      E("v1", kReady, 1), E("v1", kReady, 2), E("v1", kReady, 3),
      E("v1", kReady, 4)};
  auto table =
      Table(endpoints, Config(R"({"childPolicy": "weighted_round_robin"})"));
  std::vector<size_t> seq = Sequence(*table, "v1", 10000);
  // The heaviest endpoint has 40%; long runs would mean bursts per backend.
  int longest = 1;
  int run = 1;
  for (size_t i = 1; i < seq.size(); ++i) {
    run = seq[i] == seq[i - 1] ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  EXPECT_LE(longest, 2);
  // Every window of 10 picks sees at least three endpoints.
  for (auto it = seq.begin(); it + 10 <= seq.end(); ++it) {
    std::set<size_t> window(it, it + 10);
    ASSERT_GE(window.size(), 3u) << "at pick " << (it - seq.begin());
  }
}

TEST(PickTableTest, ZeroWeightDrains) {
  const PolicyConfig wrr = Config(R"({"childPolicy": "weighted_round_robin"})");
  // Within one group, and across groups.
  const std::vector<EndpointInfo> one_group = {
      E("v1", kReady, 0), E("v1", kReady, 1), E("v1", kReady, 1),
      E("v1", kReady, 2)};
  std::map<size_t, int> counts = Counts(*Table(one_group, wrr), "v1", 4000);
  EXPECT_EQ(counts.count(0), 0u);
  ExpectWeightShares(one_group, counts, 4000, 0.02);
  const std::vector<EndpointInfo> groups = {E("1.0.0", kReady, 0),
                                            E("1.1.0", kReady, 3)};
  counts = Counts(*Table(groups, wrr), "1.x", 1000);
  EXPECT_EQ(counts.count(0), 0u);
  counts = Counts(*Table(groups, wrr), std::nullopt, 1000);
  EXPECT_EQ(counts.count(0), 0u);
  // Only drained instances ready: they share the load equally.
  const std::vector<EndpointInfo> drained = {
      E("v1", kReady, 0), E("v1", kReady, 0), E("v1", kReady, 0),
      E("v2", kReady, 5)};
  counts = Counts(*Table(drained, wrr), "v1", 300);
  EXPECT_THAT(counts, ElementsAre(std::pair<const size_t, int>(0, 100),
                                  std::pair<const size_t, int>(1, 100),
                                  std::pair<const size_t, int>(2, 100)));
}

TEST(PickTableTest, RandomSpreadsRoughlyUniformly) {
  std::vector<EndpointInfo> endpoints;
  for (int i = 0; i < 10; ++i) endpoints.push_back(E(i < 8 ? "v1" : "v2"));
  auto table = Table(endpoints, Config(R"({"childPolicy": "random"})"));
  constexpr int kPicks = 100000;
  std::map<size_t, int> counts = Counts(*table, "v1", kPicks);
  ASSERT_EQ(counts.size(), 8u);
  for (const auto& [endpoint, count] : counts) {
    EXPECT_LT(endpoint, 8u);
    EXPECT_NEAR(count, kPicks / 8.0, kPicks / 80.0) << endpoint;
  }
  counts =
      Counts(*Table(endpoints, Config("", "vlb_random")), std::nullopt, kPicks);
  ASSERT_EQ(counts.size(), 10u);
  for (const auto& [endpoint, count] : counts) {
    EXPECT_NEAR(count, kPicks / 10.0, kPicks / 100.0) << endpoint;
  }
}

TEST(PickTableTest, NonVersionAwarePoliciesIgnoreTheHeader) {
  const std::vector<EndpointInfo> endpoints = {E("v1"), E("v2"), E("")};
  for (absl::string_view policy : {"vlb_weighted_round_robin", "vlb_random"}) {
    auto table = Table(endpoints, Config("", policy));
    for (std::optional<absl::string_view> request :
         {std::optional<absl::string_view>("v1"),
          std::optional<absl::string_view>("^^garbage"),
          std::optional<absl::string_view>(std::nullopt)}) {
      EXPECT_EQ(PickedVersions(endpoints, *table, request).size(), 3u)
          << policy;
    }
  }
  auto failed = Table({E("v1", kFailed)}, Config("", "vlb_random"));
  EXPECT_EQ(Message(*failed, "v1", Kind::kUnreachable),
            "instances of hwholiday.srv.app are unreachable (1 in "
            "TRANSIENT_FAILURE)");
  auto connecting = Table({E("v1", kConnecting), E("v2", kFailed)},
                          Config("", "vlb_weighted_round_robin"));
  EXPECT_EQ(connecting->Pick("v9").kind, Kind::kQueue);
}

TEST(PickTableTest, ManyMatchingGroups) {
  // More matching groups than a pick lists on its stack.
  std::vector<EndpointInfo> endpoints;
  for (int i = 0; i < 50; ++i) {
    endpoints.push_back(E(absl::StrCat("1.", i, ".0"), kReady,
                          static_cast<uint32_t>(1 + i % 3)));
  }
  endpoints.push_back(E("2.0.0"));
  auto rr = Table(endpoints);
  std::map<size_t, int> counts = Counts(*rr, "1.x", 500);
  EXPECT_EQ(counts.size(), 50u);
  for (const auto& [endpoint, count] : counts) EXPECT_EQ(count, 10);

  std::vector<EndpointInfo> weighted(endpoints.begin(), endpoints.end() - 1);
  auto wrr =
      Table(weighted, Config(R"({"childPolicy": "weighted_round_robin"})"));
  ExpectWeightShares(weighted, Counts(*wrr, "1.x", 100000), 100000, 0.02);
}

TEST(PickTableTest, AggregateState) {
  EXPECT_EQ(Table({})->AggregateState(), EndpointState::kTransientFailure);
  EXPECT_EQ(Table({E("v1", kFailed)})->AggregateState(),
            EndpointState::kTransientFailure);
  EXPECT_EQ(Table({E("v1", kFailed), E("v2", kIdle)})->AggregateState(),
            EndpointState::kConnecting);
  EXPECT_EQ(Table({E("v1", kConnecting)})->AggregateState(),
            EndpointState::kConnecting);
  auto table = Table({E("v1", kConnecting), E("v2"), E("v2"), E("v3")});
  EXPECT_EQ(table->AggregateState(), EndpointState::kReady);
  // The three READY ones, each once per rotation.
  EXPECT_EQ(Counts(*table, std::nullopt, 30).size(), 3u);
}

TEST(PickTableTest, PickDoesNotAllocate) {
  const std::vector<EndpointInfo> endpoints = {
      E("v1", kReady, 1),   E("1.0.0", kReady, 2), E("v2", kReady, 3),
      E("v3", kConnecting), E("v4", kFailed),      E("canary", kReady, 4)};
  std::vector<std::unique_ptr<PickTable>> tables;
  for (absl::string_view child :
       {"round_robin", "weighted_round_robin", "random"}) {
    tables.push_back(Table(
        endpoints,
        Config(absl::StrCat(R"({"fallback": ["v9", "*"], "childPolicy": ")",
                            child, "\"}"))));
    tables.push_back(Table(
        endpoints, Config(absl::StrCat(R"({"defaultVersion": "^1", )",
                                       R"("childPolicy": ")", child, "\"}"))));
  }
  tables.push_back(Table(endpoints, Config("", "vlb_random")));
  tables.push_back(Table(endpoints, Config("", "vlb_weighted_round_robin")));
  const std::optional<absl::string_view> requests[] = {
      std::nullopt,
      "v1",
      "1.x || canary",
      ">=1 <3",
      "v3",
      "v4",
      "v7",
      "^",
      "*",
      "",
      "a very long label that is not a valid request ^"};
  // Warm up thread-local state first; only steady-state picks must not
  // allocate.
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
  EXPECT_GT(picked, 0);
}

// Picks requests[i % size] for `rounds` rounds and counts per endpoint.
std::map<size_t, int> MixedCounts(
    const PickTable& table,
    const std::vector<std::optional<absl::string_view>>& requests, int rounds) {
  std::map<size_t, int> counts;
  for (int round = 0; round < rounds; ++round) {
    for (const auto& request : requests) {
      PickResult r = table.Pick(request);
      if (r.kind != Kind::kPicked) {
        ADD_FAILURE() << "round " << round << " did not pick";
        return counts;
      }
      ++counts[r.endpoint];
    }
  }
  return counts;
}

// One shared rotation for every request locked periodic mixes of requests
// onto fixed instances (a and c got every call, b and d none).
TEST(PickTableTest, MixedTrafficRotatesEachVersionOverAllItsInstances) {
  const std::vector<EndpointInfo> endpoints = {E("v1"), E("v1"), E("v2"),
                                               E("v2"), E("v3")};
  using Requests = std::vector<std::optional<absl::string_view>>;
  const Requests patterns[] = {
      {"v1", "v2"},                   // alternating
      {"v1", "v1", "v2"},             // 2:1
      {"v1", std::nullopt, "v2"},     // no header interleaved
      {"v1", "1.0.0", "v2", "2"},     // same sets, other texts
      {"1.x || 2.x", "v1", "v2"},     // a union beside its parts
      {"v1", "v2", "v3", "v1", "v2"}  // odd period
  };
  for (absl::string_view child : {"round_robin", "weighted_round_robin"}) {
    for (uint64_t seed : {0u, 1u, 7u, 12345u}) {
      for (const Requests& pattern : patterns) {
        auto table = Table(
            endpoints,
            Config(absl::StrCat(R"({"childPolicy": ")", child, "\"}")), seed);
        std::map<size_t, int> counts = MixedCounts(*table, pattern, 1200);
        // Each version's instances share its calls evenly (within 2%, or
        // within the union's calls landing on them).
        const int v1 = counts[0] + counts[1];
        const int v2 = counts[2] + counts[3];
        EXPECT_LE(std::abs(counts[0] - counts[1]), v1 / 50 + 2)
            << child << " seed " << seed << " pattern size " << pattern.size();
        EXPECT_LE(std::abs(counts[2] - counts[3]), v2 / 50 + 2)
            << child << " seed " << seed << " pattern size " << pattern.size();
      }
    }
  }
}

TEST(PickTableTest, MixedTrafficSpreadsRequestsThatAreNotCached) {
  // Texts longer than the cache takes, and more distinct texts than it has
  // slots, take the uncached path; they must rotate too.
  const std::vector<EndpointInfo> endpoints = {E("1.0.0"), E("1.0.0"),
                                               E("1.1.0"), E("1.1.0")};
  // Over 64 bytes: never cached.
  const std::string long_10 =
      ">=1.0.0 <1.0.1 || >=1.0.0 <1.0.2 || >=1.0.0 <1.0.3 || >=1.0.0 <1.0.4";
  const std::string long_11 =
      ">=1.1.0 <1.1.1 || >=1.1.0 <1.1.2 || >=1.1.0 <1.1.3 || >=1.1.0 <1.1.4";
  ASSERT_GT(long_10.size(), 64u);
  std::vector<std::string> texts = {long_10, long_11};
  // Then more short texts than there are cache slots, alternating.
  for (int i = 0; i < 12; ++i) {
    texts.push_back(absl::StrCat(">=1.0 <1.0.", 1 + i));
    texts.push_back(absl::StrCat(">=1.1 <1.1.", 1 + i));
  }
  std::vector<std::optional<absl::string_view>> pattern;
  for (const std::string& t : texts) pattern.push_back(t);
  auto table = Table(endpoints);
  std::map<size_t, int> counts = MixedCounts(*table, pattern, 400);
  EXPECT_LE(std::abs(counts[0] - counts[1]), (counts[0] + counts[1]) / 50 + 2);
  EXPECT_LE(std::abs(counts[2] - counts[3]), (counts[2] + counts[3]) / 50 + 2);
}

TEST(PickTableTest, WeightedInterleavingHoldsUnderMixedTraffic) {
  // The 30% instance of v1 is never picked twice in a row among v1 calls,
  // however v1 and v2 calls alternate.
  const std::vector<EndpointInfo> endpoints = {
      E("v1", kReady, 3), E("v1", kReady, 3), E("v1", kReady, 4),
      E("v2", kReady, 1), E("v2", kReady, 2)};
  auto table =
      Table(endpoints, Config(R"({"childPolicy": "weighted_round_robin"})"));
  std::vector<size_t> v1_picks;
  for (int i = 0; i < 3000; ++i) {
    v1_picks.push_back(table->Pick("v1").endpoint);
    table->Pick("v2");
    if (i % 3 == 0) table->Pick("v2");
  }
  for (size_t i = 1; i < v1_picks.size(); ++i) {
    if (v1_picks[i] != 2) {
      ASSERT_NE(v1_picks[i], v1_picks[i - 1]) << "v1 pick " << i;
    }
  }
  std::map<size_t, int> counts;
  for (size_t e : v1_picks) ++counts[e];
  EXPECT_NEAR(counts[0], 900, 15);
  EXPECT_NEAR(counts[1], 900, 15);
  EXPECT_NEAR(counts[2], 1200, 15);
}

EndpointInfo Multi(std::vector<std::string> versions,
                   EndpointState state = kReady, uint32_t weight = 1) {
  EndpointInfo e;
  e.versions = std::move(versions);
  e.state = state;
  e.weight = weight;
  return e;
}

TEST(PickTableTest, AnAddressServesEveryVersionItIsRegisteredWith) {
  const std::vector<EndpointInfo> endpoints = {Multi({"v1", "v3"}), E("v1"),
                                               Multi({"v2", "v2"})};
  for (absl::string_view child :
       {"round_robin", "weighted_round_robin", "random"}) {
    auto table = Table(
        endpoints, Config(absl::StrCat(R"({"childPolicy": ")", child, "\"}")));
    EXPECT_THAT(Counts(*table, "v3", 10),
                ElementsAre(std::pair<const size_t, int>(0, 10)));
    std::map<size_t, int> v1 = Counts(*table, "v1", 1000);
    EXPECT_EQ(v1.size(), 2u) << child;
    EXPECT_EQ(v1.count(2), 0u);
    EXPECT_THAT(Counts(*table, "v2", 10),
                ElementsAre(std::pair<const size_t, int>(2, 10)));
  }
  // Calls matching everything count each address once.
  auto table = Table(endpoints);
  EXPECT_THAT(Counts(*table, std::nullopt, 300),
              ElementsAre(std::pair<const size_t, int>(0, 100),
                          std::pair<const size_t, int>(1, 100),
                          std::pair<const size_t, int>(2, 100)));
  EXPECT_THAT(Counts(*table, "*", 300),
              ElementsAre(std::pair<const size_t, int>(0, 100),
                          std::pair<const size_t, int>(1, 100),
                          std::pair<const size_t, int>(2, 100)));
  EXPECT_THAT(Message(*table, "v9", Kind::kNoMatch),
              HasSubstr("(available: v1, v2, v3)"));
}

TEST(PickTableTest, ConcurrentPicksKeepExactRoundRobinTotals) {
  std::vector<EndpointInfo> endpoints;
  for (int i = 0; i < 5; ++i) endpoints.push_back(E("v1"));
  endpoints.push_back(E("v2"));
  for (absl::string_view child : {"round_robin", "weighted_round_robin"}) {
    auto table = Table(
        endpoints, Config(absl::StrCat(R"({"childPolicy": ")", child, "\"}")));
    constexpr int kThreads = 4;
    constexpr int kPicksPerThread = 100000;
    std::vector<std::vector<int>> counts(kThreads,
                                         std::vector<int>(endpoints.size()));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&table, &counts, t] {
        for (int i = 0; i < kPicksPerThread; ++i) {
          PickResult r = table->Pick("v1");
          if (r.kind == Kind::kPicked) ++counts[t][r.endpoint];
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (size_t e = 0; e < endpoints.size(); ++e) {
      int total = 0;
      for (int t = 0; t < kThreads; ++t) total += counts[t][e];
      EXPECT_EQ(total, e < 5 ? kThreads * kPicksPerThread / 5 : 0)
          << child << " endpoint " << e;
    }
  }
}

TEST(PickTableTest, RoutedRequestsPickTheirVersionsWithFallbacks) {
  const std::vector<EndpointInfo> endpoints = {E("v1"), E("v2"), E("v2")};
  std::vector<VersionRequest> routed = {*VersionRequest::Parse("v2"),
                                        *VersionRequest::Parse("v9")};
  auto table = PickTable::Build(endpoints, Config(R"({"fallback": ["v1"]})"),
                                kService, 1, routed);
  std::map<size_t, int> counts;
  for (int i = 0; i < 100; ++i) {
    PickResult r = table->PickRouted(0);
    ASSERT_EQ(r.kind, Kind::kPicked);
    EXPECT_EQ(r.source, PickResult::Source::kRoute);
    ++counts[r.endpoint];
  }
  EXPECT_EQ(counts, (std::map<size_t, int>{{1, 50}, {2, 50}}));
  // v9 has no instance: the policy's fallback applies to routed requests.
  PickResult fallback = table->PickRouted(1);
  ASSERT_EQ(fallback.kind, Kind::kPicked);
  EXPECT_EQ(fallback.endpoint, 0u);
  EXPECT_EQ(table->routed_text(1), "v9");
}

TEST(PickTableTest, RoutedFailureNamesTheRoutedVersion) {
  std::vector<VersionRequest> routed = {*VersionRequest::Parse("v9")};
  auto table = PickTable::Build({E("v1")}, Config(), kService, 1, routed);
  PickResult r = table->PickRouted(0);
  ASSERT_EQ(r.kind, Kind::kNoMatch);
  EXPECT_EQ(table->FailureStatus(r, table->routed_text(0)).message(),
            "no instance of hwholiday.srv.app matches routed version \"v9\" "
            "(available: v1)");
}

TEST(PickTableTest, RoutedPicksDoNotAllocate) {
  std::vector<VersionRequest> routed = {*VersionRequest::Parse("^1"),
                                        *VersionRequest::Parse("v2")};
  auto table = PickTable::Build({E("1.0.0"), E("1.2.0"), E("v2")}, Config(),
                                kService, 1, routed);
  vlb::testing::AllocationCounter counter;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(table->PickRouted(i % 2).kind, Kind::kPicked);
  }
  EXPECT_EQ(counter.count(), 0);
}

}  // namespace
}  // namespace vlb::internal
