// ExplainPick (vlb/explain.h without etcd): the rule, request, lane and
// outcome it reports, and each instance's verdict, come from the same route
// table and pick table a client builds.
#include <optional>
#include <string>
#include <vector>

#include "admin/explain_internal.h"
#include "balancer/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/route_document.h"
#include "routing/route_table.h"

namespace vlb::internal {
namespace {

using ::testing::HasSubstr;

constexpr char kService[] = "hwholiday.srv.user";

InstanceListing Instance(std::string id, std::string version,
                         std::string lane = "", bool drained = false) {
  InstanceListing listed;
  listed.id = id;
  listed.instance.id = std::move(id);
  listed.instance.version = std::move(version);
  listed.instance.lane = std::move(lane);
  listed.instance.drained = drained;
  listed.instance.address = "127.0.0.1:1";
  return listed;
}

ServiceListing Listing() {
  ServiceListing listing;
  listing.service = kService;
  listing.instances = {Instance("u1", "1.0.0"), Instance("u2", "2.0.0"),
                       Instance("u3", "1.0.0", "feature-x"),
                       Instance("u4", "1.0.0", "", /*drained=*/true)};
  return listing;
}

// The verdicts as "id:yes" or "id:<reason>".
std::vector<std::string> Verdicts(const Explanation& e) {
  std::vector<std::string> out;
  for (const InstanceVerdict& v : e.instances) {
    out.push_back(v.id + ":" + (v.eligible ? "yes" : v.reason));
  }
  return out;
}

struct Case {
  Case(std::optional<std::string> v, std::string l = "",
       std::vector<std::pair<std::string, std::string>> h = {})
      : version(std::move(v)), lane(std::move(l)), headers(std::move(h)) {}
  std::optional<std::string> version;
  std::string lane;
  std::vector<std::pair<std::string, std::string>> headers;
};

Explanation Explain(const Case& call, const std::string& document = "",
                    const std::string& config_json = "") {
  absl::StatusOr<PolicyConfig> config =
      ParsePolicyConfig("vlb_version", config_json);
  EXPECT_TRUE(config.ok()) << config.status();
  std::unique_ptr<const RouteTable> routes;
  if (!document.empty()) {
    absl::StatusOr<RouteDocument> doc = ParseRouteDocument(document);
    EXPECT_TRUE(doc.ok()) << doc.status();
    routes = RouteTable::Compile(*doc, kService, {});
    *config = routes->ApplyDefaults(*config);
  }
  std::optional<absl::string_view> requested;
  if (call.version.has_value()) requested = *call.version;
  RouteDecision decision;
  if (routes != nullptr) {
    decision = routes->Evaluate(
        requested,
        [&](absl::string_view name) -> std::optional<absl::string_view> {
          for (const auto& [k, v] : call.headers) {
            if (k == name) return v;
          }
          return std::nullopt;
        });
  }
  Explanation out;
  ExplainPick(Listing(), *config, routes.get(), requested, decision, call.lane,
              &out);
  return out;
}

TEST(ExplainPickTest, VersionAndDrainReasons) {
  Explanation e = Explain({"v1"});
  EXPECT_EQ(e.outcome, "picked");
  EXPECT_EQ(e.request, "v1");
  EXPECT_EQ(e.source, "header");
  EXPECT_THAT(Verdicts(e),
              ::testing::ElementsAre(
                  "u1:yes", "u2:version \"2.0.0\" does not match \"v1\"",
                  "u3:in lane \"feature-x\"; the call has none",
                  "u4:drained; undrained instances serve the call"));
}

TEST(ExplainPickTest, LaneCallsAreServedInTheirLane) {
  Explanation e = Explain({"v1", "feature-x"});
  EXPECT_EQ(e.lane_outcome, "in lane");
  EXPECT_THAT(Verdicts(e),
              ::testing::ElementsAre(
                  "u1:baseline; lane \"feature-x\" serves the call",
                  "u2:version \"2.0.0\" does not match \"v1\"", "u3:yes",
                  "u4:baseline; lane \"feature-x\" serves the call"));
  Explanation v2 = Explain({"v2", "feature-x"});
  EXPECT_EQ(v2.lane_outcome, "baseline (lane has no reachable match)");
  EXPECT_EQ(Verdicts(v2)[1], "u2:yes");
  EXPECT_EQ(Verdicts(v2)[2], "u3:version \"1.0.0\" does not match \"v2\"");
}

TEST(ExplainPickTest, RuleSplitAndFallbackAreNamed) {
  const std::string document = R"({"fallback": ["*"], "rules": [
      {"name": "canary", "when": {"version": "v1"},
       "split": [{"version": "v1", "weight": 50}, {"version": "v2", "weight": 50}],
       "stickyHeader": "x-user-id"}]})";
  Explanation e = Explain({"v1", "", {{"x-user-id", "uid-1"}}}, document);
  EXPECT_EQ(e.rule, "canary");
  EXPECT_GE(e.bucket, 0);
  EXPECT_EQ(e.source, "route rule");
  EXPECT_TRUE(e.request == "v1" || e.request == "v2") << e.request;
  Explanation fallback = Explain({"v9"}, document);
  EXPECT_EQ(fallback.rule, "");
  EXPECT_EQ(fallback.request, "v9");
  EXPECT_EQ(fallback.fallback, "*");
  EXPECT_EQ(fallback.outcome, "picked");
}

TEST(ExplainPickTest, FailuresCarryTheClientsMessage) {
  Explanation e = Explain({"v3"});
  EXPECT_EQ(e.outcome,
            "no instance of hwholiday.srv.user matches version \"v3\" "
            "(available: 1.0.0, 2.0.0; laned instances serve only calls of "
            "their lane)");
  for (const InstanceVerdict& v : e.instances) EXPECT_FALSE(v.eligible);
  Explanation strict =
      Explain({"v1", "feature-q"}, "", R"({"strictLanes": ["feature-q"]})");
  EXPECT_TRUE(strict.strict_lane);
  EXPECT_EQ(strict.request, "v1");
  EXPECT_EQ(strict.source, "header");
  EXPECT_THAT(strict.outcome, HasSubstr("is in strict lane \"feature-q\""));
  Explanation bad = Explain({"1..2"});
  EXPECT_THAT(bad.outcome, HasSubstr("invalid version request \"1..2\""));
}

}  // namespace
}  // namespace vlb::internal
