// ParseRouteDocument: the issue's example document, and every refusal
// naming its field.
#include "routing/route_document.h"

#include <string>

#include "balancer/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "route_examples.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr const char* kExample = vlb::testing::kExampleRouteDocument;

TEST(RouteDocumentTest, FallbackListIsBounded) {
  std::string doc = R"({"fallback": ["*")";
  for (size_t i = 0; i < kMaxFallbacks - 1; ++i) doc += R"(, "*")";
  EXPECT_TRUE(ParseRouteDocument(doc + "]}").ok());
  absl::StatusOr<RouteDocument> parsed = ParseRouteDocument(doc + R"(, "*"]})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            "fallback: has 65 entries, at most 64 are allowed");
}

TEST(RouteDocumentTest, ParsesTheExampleDocument) {
  absl::StatusOr<RouteDocument> doc = ParseRouteDocument(kExample);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->default_version, "v1");
  ASSERT_TRUE(doc->fallback.has_value());
  EXPECT_THAT(*doc->fallback, ElementsAre("v1", "*"));
  ASSERT_EQ(doc->rules.size(), 3u);
  const RouteRule& caller = doc->rules[0];
  EXPECT_EQ(caller.name, "gateway-v2-needs-app-v3");
  EXPECT_EQ(caller.when.caller_service, "hwholiday.srv.gateway");
  EXPECT_EQ(caller.when.caller_version, "^2");
  EXPECT_EQ(caller.version, "v3");
  EXPECT_THAT(doc->rules[1].when.headers, ElementsAre(Pair("x-beta", "1")));
  const RouteRule& canary = doc->rules[2];
  EXPECT_EQ(canary.when.version, "v1");
  ASSERT_EQ(canary.split.size(), 2u);
  EXPECT_EQ(canary.split[1].version, "1.1.0-canary.1");
  EXPECT_EQ(canary.split[1].weight, 5u);
  EXPECT_EQ(canary.sticky_header, "x-user-id");
}

TEST(RouteDocumentTest, EmptyObjectIsValidAndChangesNothing) {
  absl::StatusOr<RouteDocument> doc = ParseRouteDocument("{}");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_FALSE(doc->default_version.has_value());
  EXPECT_FALSE(doc->fallback.has_value());
  EXPECT_TRUE(doc->rules.empty());
}

TEST(RouteDocumentTest, HeaderNamesAreLowered) {
  absl::StatusOr<RouteDocument> doc = ParseRouteDocument(
      R"({"rules": [{"name": "a", "when": {"header": {"X-Beta": "1"}},
          "split": [{"version": "v1", "weight": 1},
                    {"version": "v2", "weight": 1}],
          "stickyHeader": "X-User-Id"}]})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_THAT(doc->rules[0].when.headers, ElementsAre(Pair("x-beta", "1")));
  EXPECT_EQ(doc->rules[0].sticky_header, "x-user-id");
}

struct Bad {
  const char* json;
  const char* error;  // substring of the message
};

class RouteDocumentErrorTest : public ::testing::TestWithParam<Bad> {};

TEST_P(RouteDocumentErrorTest, NamesTheField) {
  absl::StatusOr<RouteDocument> doc = ParseRouteDocument(GetParam().json);
  ASSERT_FALSE(doc.ok()) << GetParam().json;
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(doc.status().message()), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Refusals, RouteDocumentErrorTest,
    ::testing::Values(
        Bad{"", "route document: not valid JSON"},
        Bad{"[]", "route document: expected an object, got array"},
        Bad{R"({"defaultversion": "v1"})",
            "defaultversion: unknown field (expected one of defaultVersion, "
            "fallback, rules)"},
        Bad{R"({"defaultVersion": "^"})", "defaultVersion: invalid version"},
        Bad{R"({"fallback": "v1"})", "fallback: expected an array, got string"},
        Bad{R"({"fallback": ["v1", 2]})", "fallback[1]: expected a string"},
        Bad{R"({"rules": {}})", "rules: expected an array, got object"},
        Bad{R"({"rules": [{"version": "v1"}]})", "rules[0]: name is missing"},
        Bad{R"({"rules": [{"name": "", "version": "v1"}]})",
            "rules[0].name: is empty"},
        Bad{R"({"rules": [{"name": "a"}]})",
            "rules[0]: needs \"version\", \"split\" or \"strictLane\""},
        Bad{R"({"rules": [{"name": "a", "strictLane": false}]})",
            "rules[0]: needs \"version\", \"split\" or \"strictLane\": true"},
        Bad{R"({"rules": [{"name": "a", "strictLane": "yes"}]})",
            "rules[0].strictLane: expected a boolean, got string"},
        Bad{R"({"rules": [{"name": "a", "version": "v1",
                "split": [{"version": "v1", "weight": 1},
                          {"version": "v2", "weight": 1}]}]})",
            "rules[0]: has both \"version\" and \"split\""},
        Bad{R"({"rules": [{"name": "a", "version": "v1"},
                          {"name": "a", "version": "v2"}]})",
            "rules[1].name: \"a\" is used twice"},
        Bad{R"({"rules": [{"name": "a", "version": "v1", "stickyHeadr": "x"}]})",
            "rules[0].stickyHeadr: unknown field"},
        Bad{R"({"rules": [{"name": "a", "version": "v1",
                "stickyHeader": "x-user"}]})",
            "rules[0].stickyHeader: needs a \"split\""},
        Bad{R"({"rules": [{"name": "a", "when": {"versio": "v1"},
                "version": "v1"}]})",
            "rules[0].when.versio: unknown field"},
        Bad{R"({"rules": [{"name": "a", "when": {"header": {"grpc-x": "1"}},
                "version": "v1"}]})",
            "rules[0].when.header[\"grpc-x\"]"},
        Bad{R"({"rules": [{"name": "a", "when": {"header": {"x": 1}},
                "version": "v1"}]})",
            "rules[0].when.header[\"x\"]: expected a string, got number"},
        Bad{R"({"rules": [{"name": "a", "when": {"header": {}},
                "version": "v1"}]})",
            "rules[0].when.header: names no header"},
        Bad{R"({"rules": [{"name": "a", "when": {"callerVersion": "^"},
                "version": "v1"}]})",
            "rules[0].when.callerVersion: invalid version"},
        Bad{R"({"rules": [{"name": "a", "version": ">= "}]})",
            "rules[0].version: invalid version"},
        Bad{R"({"rules": [{"name": "a", "split": [{"version": "v1",
                "weight": 1}]}]})",
            "rules[0].split: needs 2 to 16 entries, got 1"},
        Bad{R"({"rules": [{"name": "a", "split": [{"version": "v1",
                "weight": 0}, {"version": "v2", "weight": 0}]}]})",
            "rules[0].split: every weight is 0"},
        Bad{R"({"rules": [{"name": "a", "split": [{"version": "v1",
                "weight": -1}, {"version": "v2", "weight": 1}]}]})",
            "rules[0].split[0].weight: expected an integer in [0, 10000]"},
        Bad{R"({"rules": [{"name": "a", "split": [{"version": "v1",
                "weight": 1.5}, {"version": "v2", "weight": 1}]}]})",
            "rules[0].split[0].weight: expected an integer"},
        Bad{R"({"rules": [{"name": "a", "split": [{"version": "v1"},
                {"version": "v2", "weight": 1}]}]})",
            "rules[0].split[0]: weight is missing"},
        Bad{R"({"rules": [{"name": "a", "split": [{"version": "v1",
                "weight": 1, "lane": "x"}, {"version": "v2", "weight": 1}]}]})",
            "rules[0].split[0].lane: unknown field"}));

TEST(RouteDocumentTest, RefusesDeepNestingBeforeParsing) {
  const std::string deep =
      "{\"rules\": " + std::string(5000, '[') + std::string(5000, ']') + "}";
  absl::StatusOr<RouteDocument> doc = ParseRouteDocument(deep);
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(std::string(doc.status().message()), HasSubstr("nested deeper"));
}

TEST(RouteDocumentTest, RefusesHugeDocuments) {
  const std::string huge = "{\"defaultVersion\": \"" +
                           std::string(kMaxRouteDocumentBytes, 'v') + "\"}";
  absl::StatusOr<RouteDocument> doc = ParseRouteDocument(huge);
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(std::string(doc.status().message()), HasSubstr("larger than"));
}

}  // namespace
}  // namespace vlb::internal
