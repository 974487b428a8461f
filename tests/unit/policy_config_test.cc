#include "balancer/policy_config.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::optional<SemVer> V(absl::string_view text) { return ParseSemVer(text); }

bool RequestMatches(const VersionRequest& request, absl::string_view version) {
  return request.Matches(version, V(version));
}

// The error message, or "OK" so that a wrongly accepted config shows up as
// a readable mismatch.
std::string Error(absl::string_view policy, absl::string_view json) {
  absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(policy, json);
  if (config.ok()) return "OK";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
      << config.status();
  return std::string(config.status().message());
}

TEST(ParsePolicyConfigTest, EmptyOrNullMeansDefaults) {
  for (absl::string_view json : {"", "  \n", "null", " null ", "{}"}) {
    absl::StatusOr<PolicyConfig> config =
        ParsePolicyConfig("vlb_version", json);
    ASSERT_TRUE(config.ok()) << json << ": " << config.status();
    EXPECT_TRUE(config->version_aware);
    EXPECT_EQ(config->header, "x-version");
    EXPECT_FALSE(config->default_version.has_value());
    EXPECT_TRUE(config->fallback.empty());
    EXPECT_EQ(config->child, ChildPolicy::kRoundRobin);
  }
}

TEST(ParsePolicyConfigTest, ParsesEveryVersionField) {
  absl::StatusOr<PolicyConfig> config = ParsePolicyConfig("vlb_version", R"({
      "header": "X-App-Version", "defaultVersion": "v1",
      "fallback": ["v2", "*"], "childPolicy": "weighted_round_robin"})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->version_aware);
  EXPECT_EQ(config->header, "x-app-version");
  ASSERT_TRUE(config->default_version.has_value());
  EXPECT_EQ(config->default_version->text(), "v1");
  EXPECT_TRUE(RequestMatches(*config->default_version, "1.0.0"));
  EXPECT_FALSE(RequestMatches(*config->default_version, "1.4.0"));
  ASSERT_EQ(config->fallback.size(), 2u);
  EXPECT_EQ(config->fallback[0].text(), "v2");
  EXPECT_EQ(config->fallback[1].text(), "*");
  EXPECT_TRUE(config->fallback[1].IsAny());
  EXPECT_EQ(config->child, ChildPolicy::kWeightedRoundRobin);
}

TEST(ParsePolicyConfigTest, ParsesEachChildPolicy) {
  struct Case {
    const char* name;
    ChildPolicy child;
  };
  for (const Case& c :
       {Case{"round_robin", ChildPolicy::kRoundRobin},
        Case{"weighted_round_robin", ChildPolicy::kWeightedRoundRobin},
        Case{"random", ChildPolicy::kRandom}}) {
    absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(
        "vlb_version", std::string(R"({"childPolicy": ")") + c.name + "\"}");
    ASSERT_TRUE(config.ok()) << c.name << ": " << config.status();
    EXPECT_EQ(config->child, c.child) << c.name;
  }
}

TEST(ParsePolicyConfigTest, EmptyFallbackListIsAllowed) {
  absl::StatusOr<PolicyConfig> config =
      ParsePolicyConfig("vlb_version", R"({"fallback": []})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->fallback.empty());
}

TEST(ParsePolicyConfigTest, AcceptsRangesAndLabels) {
  absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(
      "vlb_version",
      R"({"defaultVersion": ">=1.2 <2 || canary", "fallback": ["^1.4", "1.x"]})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(RequestMatches(*config->default_version, "1.3.0"));
  EXPECT_TRUE(RequestMatches(*config->default_version, "canary"));
  EXPECT_FALSE(RequestMatches(*config->default_version, "2.0.0"));
}

TEST(ParsePolicyConfigTest, NonVersionPoliciesTakeOnlyLaneFields) {
  absl::StatusOr<PolicyConfig> wrr =
      ParsePolicyConfig("vlb_weighted_round_robin", "{}");
  ASSERT_TRUE(wrr.ok()) << wrr.status();
  EXPECT_FALSE(wrr->version_aware);
  EXPECT_EQ(wrr->child, ChildPolicy::kWeightedRoundRobin);

  absl::StatusOr<PolicyConfig> random = ParsePolicyConfig("vlb_random", "");
  ASSERT_TRUE(random.ok()) << random.status();
  EXPECT_FALSE(random->version_aware);
  EXPECT_EQ(random->child, ChildPolicy::kRandom);

  absl::StatusOr<PolicyConfig> null_config =
      ParsePolicyConfig("vlb_random", "null");
  ASSERT_TRUE(null_config.ok()) << null_config.status();
  EXPECT_EQ(null_config->child, ChildPolicy::kRandom);

  EXPECT_EQ(Error("vlb_random", R"({"childPolicy": "round_robin"})"),
            "vlb_random.childPolicy: unknown field (vlb_random takes "
            "laneHeader and strictLanes)");
  EXPECT_EQ(Error("vlb_weighted_round_robin", R"({"header": "x"})"),
            "vlb_weighted_round_robin.header: unknown field "
            "(vlb_weighted_round_robin takes laneHeader and strictLanes)");
  absl::StatusOr<PolicyConfig> laned = ParsePolicyConfig(
      "vlb_random", R"({"laneHeader": "X-Env", "strictLanes": ["a"]})");
  ASSERT_TRUE(laned.ok()) << laned.status();
  EXPECT_EQ(laned->lane_header, "x-env");
  EXPECT_THAT(laned->strict_lanes, ElementsAre("a"));
  EXPECT_EQ(Error("vlb_random", R"({"laneHeader": "grpc-lane"})"),
            "vlb_random.laneHeader: \"grpc-lane\" is reserved by gRPC (grpc- "
            "prefix)");
}

TEST(ParsePolicyConfigTest, ReadsLaneSettings) {
  absl::StatusOr<PolicyConfig> defaults = ParsePolicyConfig("vlb_version", "");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->lane_header, "x-lane");
  EXPECT_THAT(defaults->strict_lanes, IsEmpty());
  absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(
      "vlb_version",
      R"({"laneHeader": "x-env", "strictLanes": ["feature-x", "b"]})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->lane_header, "x-env");
  EXPECT_THAT(config->strict_lanes, ElementsAre("feature-x", "b"));
  EXPECT_EQ(Error("vlb_version", R"({"laneHeader": ""})"),
            "vlb_version.laneHeader: must not be empty");
  EXPECT_EQ(Error("vlb_version", R"({"strictLanes": "feature-x"})"),
            "vlb_version.strictLanes: must be an array of strings, not string");
  EXPECT_EQ(Error("vlb_version", R"({"strictLanes": ["ok", "Feature X"]})"),
            "vlb_version.strictLanes[1]: lane \"Feature X\" may only hold "
            "lower-case letters, digits and '-'");
}

TEST(ParsePolicyConfigTest, RejectsUnknownPolicy) {
  EXPECT_EQ(Error("vlb_nope", "{}"),
            "unknown policy \"vlb_nope\" (expected vlb_version, "
            "vlb_weighted_round_robin or vlb_random)");
}

TEST(ParsePolicyConfigTest, RejectsUnknownFields) {
  EXPECT_EQ(Error("vlb_version", R"({"defaultversion": "v1"})"),
            "vlb_version.defaultversion: unknown field (expected header, "
            "defaultVersion, fallback, childPolicy, laneHeader or "
            "strictLanes)");
}

TEST(ParsePolicyConfigTest, RejectsBadChildPolicy) {
  EXPECT_EQ(Error("vlb_version", R"({"childPolicy": "rr"})"),
            "vlb_version.childPolicy: \"rr\" is not one of round_robin, "
            "weighted_round_robin, random");
  EXPECT_EQ(Error("vlb_version", R"({"childPolicy": 1})"),
            "vlb_version.childPolicy: must be a string, not number");
}

TEST(ParsePolicyConfigTest, RejectsBadHeaders) {
  EXPECT_EQ(Error("vlb_version", R"({"header": ""})"),
            "vlb_version.header: must not be empty");
  EXPECT_EQ(Error("vlb_version", R"({"header": null})"),
            "vlb_version.header: must be a string, not null");
  EXPECT_EQ(Error("vlb_version", R"({"header": ":path"})"),
            "vlb_version.header: \":path\" is a pseudo-header, which calls "
            "cannot set");
  EXPECT_EQ(Error("vlb_version", R"({"header": "grpc-version"})"),
            "vlb_version.header: \"grpc-version\" is reserved by gRPC (grpc- "
            "prefix)");
  EXPECT_EQ(Error("vlb_version", R"({"header": "GRPC-Version"})"),
            "vlb_version.header: \"GRPC-Version\" is reserved by gRPC (grpc- "
            "prefix)");
  EXPECT_THAT(Error("vlb_version", R"({"header": "x version"})"),
              StartsWith("vlb_version.header: \"x version\" is not a valid "
                         "header name"));
  EXPECT_THAT(Error("vlb_version", R"({"header": "x/v"})"),
              HasSubstr("found '/'"));
  // The rule of vlb::SetVersion (balancer/version_header.h): names a call
  // cannot send are refused here too.
  EXPECT_EQ(Error("vlb_version", R"({"header": "x-version-bin"})"),
            "vlb_version.header: \"x-version-bin\" names binary metadata "
            "(-bin suffix); routing headers are text");
  for (absl::string_view reserved :
       {"te", "content-type", "Host", "user-agent", "content-length"}) {
    EXPECT_EQ(Error("vlb_version",
                    absl::StrCat(R"({"header": ")", reserved, R"("})")),
              absl::StrCat("vlb_version.header: \"", reserved,
                           "\" is a header that gRPC or HTTP/2 reserves"));
  }
  EXPECT_EQ(Error("vlb_version", R"({"header": "Bad Header"})"),
            "vlb_version.header: \"Bad Header\" is not a valid header name "
            "(allowed: 0-9 a-z - _ .; found ' ')");
  EXPECT_THAT(Error("vlb_version", "{\"header\": \"x-v\xc3\xa9\"}"),
              StartsWith("vlb_version.header: \"x-v\\xc3\\xa9\" is not a "
                         "valid header name"));
  EXPECT_THAT(Error("vlb_version", R"({"header": "x\nv"})"),
              HasSubstr("found '\\n'"));
  for (absl::string_view ok : {"x-version", "app.version_2", "v"}) {
    absl::StatusOr<PolicyConfig> config =
        ParsePolicyConfig("vlb_version", std::string(R"({"header": ")") +
                                             std::string(ok) + "\"}");
    ASSERT_TRUE(config.ok()) << ok << ": " << config.status();
    EXPECT_EQ(config->header, ok);
  }
}

TEST(ParsePolicyConfigTest, RejectsBadVersionRequests) {
  EXPECT_THAT(Error("vlb_version", R"({"defaultVersion": "^"})"),
              StartsWith("vlb_version.defaultVersion: invalid version "
                         "request \"^\": "));
  EXPECT_EQ(Error("vlb_version", R"({"defaultVersion": ""})"),
            Error("vlb_version", R"({"defaultVersion": "  "})"));
  EXPECT_THAT(Error("vlb_version", R"({"defaultVersion": ""})"),
              StartsWith("vlb_version.defaultVersion: invalid version "
                         "request"));
  EXPECT_EQ(Error("vlb_version", R"({"defaultVersion": 2})"),
            "vlb_version.defaultVersion: must be a string, not number");
  EXPECT_THAT(Error("vlb_version", R"({"fallback": ["v2", "^"]})"),
              StartsWith("vlb_version.fallback[1]: invalid version request "
                         "\"^\": "));
  EXPECT_EQ(Error("vlb_version", R"({"fallback": ["v2", 3]})"),
            "vlb_version.fallback[1]: must be a string, not number");
  EXPECT_EQ(Error("vlb_version", R"({"fallback": "v2"})"),
            "vlb_version.fallback: must be an array of strings, not string");
  std::string many = R"({"fallback": ["*")";
  for (size_t i = 0; i < kMaxFallbacks; ++i) many += R"(, "*")";
  EXPECT_EQ(Error("vlb_version", many + "]}"),
            "vlb_version.fallback: has 65 entries, at most 64 are allowed");
}

TEST(ParsePolicyConfigTest, RejectsBadJson) {
  EXPECT_THAT(Error("vlb_version", R"({"header": )"),
              StartsWith("vlb_version: invalid JSON: parse error at line 1"));
  EXPECT_THAT(Error("vlb_version", "{} {}"),
              StartsWith("vlb_version: invalid JSON: "));
  EXPECT_EQ(Error("vlb_version", "[]"),
            "vlb_version: must be a JSON object, not array");
  EXPECT_EQ(Error("vlb_random", "\"x\""),
            "vlb_random: must be a JSON object, not string");
  // Invalid UTF-8 inside a string.
  EXPECT_THAT(Error("vlb_version", "{\"header\": \"\xff\"}"),
              StartsWith("vlb_version: invalid JSON: "));
}

}  // namespace
}  // namespace vlb::internal
