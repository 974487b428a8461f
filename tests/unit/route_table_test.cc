// RouteTable: rule precedence, caller rules, sticky and per-call splits,
// the published hash vectors, and an allocation-free Evaluate().
#include "routing/route_table.h"

#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "allocation_counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "route_examples.h"
#include "routing/sticky_hash.h"

namespace vlb::internal {
namespace {

constexpr const char* kService = "hwholiday.srv.app";

constexpr const char* kExample = vlb::testing::kExampleRouteDocument;

std::unique_ptr<const RouteTable> Compile(absl::string_view json,
                                          CallerIdentity caller = {}) {
  absl::StatusOr<RouteDocument> doc = ParseRouteDocument(json);
  EXPECT_TRUE(doc.ok()) << doc.status();
  if (!doc.ok()) return nullptr;
  return RouteTable::Compile(*doc, kService, caller);
}

// A call: its version header and other metadata.
struct Call {
  std::optional<std::string> version;
  std::map<std::string, std::string> headers;
};

RouteDecision Evaluate(const RouteTable& table, const Call& call) {
  auto lookup =
      [&](absl::string_view name) -> std::optional<absl::string_view> {
    auto it = call.headers.find(std::string(name));
    if (it == call.headers.end()) return std::nullopt;
    return it->second;
  };
  std::optional<absl::string_view> requested;
  if (call.version.has_value()) requested = *call.version;
  return table.Evaluate(requested, lookup);
}

// The request a call ends up with: the rule's, or "own".
std::string Outcome(const RouteTable& table, const Call& call) {
  RouteDecision d = Evaluate(table, call);
  if (d.request == RouteDecision::kNone) return "own";
  return std::string(table.request(d.request).text());
}

TEST(RouteTableTest, FirstMatchingRuleDecides) {
  auto table = Compile(kExample, {"hwholiday.srv.gateway", "2.3.0"});
  ASSERT_NE(table, nullptr);
  // The caller rule comes first and holds for every call of this process.
  EXPECT_EQ(Outcome(*table, {"v1", {{"x-beta", "1"}}}), "v3");
  EXPECT_EQ(Outcome(*table, {}), "v3");
  EXPECT_EQ(Evaluate(*table, {}).rule, 0);
}

TEST(RouteTableTest, RuleNamesAreThoseOfTheDocumentsIndices) {
  // The caller rule (index 0) is dropped for this process; decisions still
  // index the document, and so do names.
  auto table = Compile(kExample);
  ASSERT_NE(table, nullptr);
  const RouteDecision d = Evaluate(*table, {"v1", {{"x-beta", "1"}}});
  ASSERT_EQ(d.rule, 1);
  EXPECT_EQ(table->rule_name(d.rule), "beta-users");
  EXPECT_EQ(table->rule_name(0), "gateway-v2-needs-app-v3");
  EXPECT_EQ(table->num_rules_in_document(), 3u);
}

TEST(RouteTableTest, CallerRulesApplyOnlyToTheirCaller) {
  auto gateway_v1 = Compile(kExample, {"hwholiday.srv.gateway", "1.9.0"});
  auto other = Compile(kExample, {"hwholiday.srv.web", "2.0.0"});
  auto anonymous = Compile(kExample);
  for (const auto* table : {gateway_v1.get(), other.get(), anonymous.get()}) {
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(Outcome(*table, {"v1", {{"x-beta", "1"}}}), "^2.0.0-0");
    EXPECT_EQ(Evaluate(*table, {"v1", {{"x-beta", "1"}}}).rule, 1);
  }
}

TEST(RouteTableTest, HeaderRuleNeedsTheExactValue) {
  auto table = Compile(kExample);
  EXPECT_EQ(Outcome(*table, {"v2", {{"x-beta", "1"}}}), "^2.0.0-0");
  EXPECT_EQ(Outcome(*table, {"v2", {{"x-beta", "10"}}}), "own");
  EXPECT_EQ(Outcome(*table, {"v2", {{"x-beta", ""}}}), "own");
  EXPECT_EQ(Outcome(*table, {"v2", {}}), "own");
  EXPECT_EQ(Evaluate(*table, {"v2", {}}).rule, RouteDecision::kNone);
}

TEST(RouteTableTest, WhenVersionMatchesTheTrimmedRequestText) {
  auto table = Compile(R"({"rules": [
      {"name": "none", "when": {"version": ""}, "version": "v9"},
      {"name": "v1", "when": {"version": "v1"}, "version": "v8"}]})");
  EXPECT_EQ(Outcome(*table, {}), "v9");
  EXPECT_EQ(Outcome(*table, {"  ", {}}), "v9");
  EXPECT_EQ(Outcome(*table, {" v1 ", {}}), "v8");
  EXPECT_EQ(Outcome(*table, {"v1.0", {}}), "own");
}

TEST(RouteTableTest, StrictLaneRuleKeepsTheCallsRequest) {
  auto table = Compile(R"({"rules": [
      {"name": "x-only", "when": {"header": {"x-lane": "feature-x"}},
       "strictLane": true},
      {"name": "pinned", "when": {"header": {"x-lane": "feature-y"}},
       "version": "v2", "strictLane": true},
      {"name": "loose", "when": {"header": {"x-lane": "feature-z"}},
       "version": "v3", "strictLane": false}]})");
  ASSERT_NE(table, nullptr);
  RouteDecision x = Evaluate(*table, {"v1", {{"x-lane", "feature-x"}}});
  EXPECT_EQ(x.rule, 0);
  EXPECT_EQ(x.request, RouteDecision::kNone);
  EXPECT_TRUE(x.strict_lane);
  EXPECT_EQ(Outcome(*table, {"v1", {{"x-lane", "feature-y"}}}), "v2");
  EXPECT_TRUE(Evaluate(*table, {"v1", {{"x-lane", "feature-y"}}}).strict_lane);
  EXPECT_FALSE(Evaluate(*table, {"v1", {{"x-lane", "feature-z"}}}).strict_lane);
  EXPECT_FALSE(Evaluate(*table, {"v1", {}}).strict_lane);
}

TEST(RouteTableTest, DocumentDefaultsOverrideTheLocalConfig) {
  auto table = Compile(kExample);
  PolicyConfig local;
  local.default_version = *VersionRequest::Parse("v7");
  PolicyConfig merged = table->ApplyDefaults(local);
  ASSERT_TRUE(merged.default_version.has_value());
  EXPECT_EQ(merged.default_version->text(), "v1");
  ASSERT_EQ(merged.fallback.size(), 2u);
  EXPECT_EQ(merged.fallback[1].text(), "*");
  auto empty = Compile("{}");
  EXPECT_EQ(empty->ApplyDefaults(local).default_version->text(), "v7");
}

TEST(RouteTableTest, StickySplitSendsOneUserAlwaysToOneSide) {
  auto table = Compile(kExample);
  for (int i = 0; i < 100; ++i) {
    const std::string user = absl::StrCat("user-", i);
    const std::string first = Outcome(*table, {"v1", {{"x-user-id", user}}});
    for (int k = 0; k < 5; ++k) {
      EXPECT_EQ(Outcome(*table, {"v1", {{"x-user-id", user}}}), first) << user;
    }
    // A table compiled elsewhere (another process) agrees.
    EXPECT_EQ(Outcome(*Compile(kExample), {"v1", {{"x-user-id", user}}}),
              first);
  }
}

TEST(RouteTableTest, StickySplitOfTenThousandUsersIsWithinOnePercent) {
  auto table = Compile(kExample);
  int canary = 0;
  for (int i = 0; i < 10000; ++i) {
    canary += Outcome(*table, {"v1", {{"x-user-id", absl::StrCat(i)}}}) != "v1";
  }
  EXPECT_NEAR(canary / 10000.0, 0.05, 0.01);
}

TEST(RouteTableTest, RaisingTheCanaryOnlyMovesUsersIntoIt) {
  auto five = Compile(kExample);
  std::string ten_json = kExample;
  ten_json.replace(ten_json.find("\"weight\": 95"), 12, "\"weight\": 90");
  ten_json.replace(ten_json.find("\"weight\": 5}"), 11, "\"weight\": 10");
  auto ten = Compile(ten_json);
  ASSERT_NE(ten, nullptr);
  int moved = 0;
  for (int i = 0; i < 10000; ++i) {
    const Call call{"v1", {{"x-user-id", absl::StrCat("u", i)}}};
    const std::string before = Outcome(*five, call);
    const std::string after = Outcome(*ten, call);
    if (before != "v1") {
      EXPECT_EQ(after, before) << "a canary user left the canary";
    }
    moved += before != after;
  }
  EXPECT_NEAR(moved / 10000.0, 0.05, 0.01);
}

TEST(RouteTableTest, SplitWithoutTheStickyHeaderIsPerCall) {
  auto table = Compile(kExample);
  int canary = 0;
  constexpr int kCalls = 100000;
  for (int i = 0; i < kCalls; ++i) {
    const RouteDecision d = Evaluate(*table, {"v1", {}});
    ASSERT_EQ(d.rule, 2);
    EXPECT_EQ(d.bucket, RouteDecision::kNone);
    canary += d.split_entry == 1;
  }
  // 5% of 100,000: the standard deviation is 0.07%, so 1% is 14 of them.
  EXPECT_NEAR(canary / static_cast<double>(kCalls), 0.05, 0.01);
}

// The vectors published in README "Sticky splits".
TEST(StickyHashTest, PublishedVectors) {
  struct Vector {
    const char* service;
    const char* rule;
    const char* value;
    uint64_t hash;
    uint32_t bucket;
  };
  for (const Vector& v : {
           Vector{"", "", "", 0xdb01c3104e99566du, 3677},
           Vector{"hwholiday.srv.app", "canary", "user-1", 0xfe279dccb2e5aedbu,
                  7499},
           Vector{"hwholiday.srv.app", "canary", "user-2", 0x632ee392fccea7ceu,
                  8014},
           Vector{"hwholiday.srv.app", "canary", "42", 0xdbd26dadde2d8086u,
                  9510},
           Vector{"hwholiday.srv.user", "beta", "alice@example.com",
                  0x31c285fb46d9ea6au, 8074},
       }) {
    EXPECT_EQ(StickyHash(v.service, v.rule, v.value), v.hash) << v.value;
    EXPECT_EQ(StickyBucket(v.service, v.rule, v.value), v.bucket) << v.value;
  }
}

TEST(RouteTableTest, EvaluateDoesNotAllocate) {
  auto table = Compile(kExample, {"hwholiday.srv.web", "1.0.0"});
  const std::string user = "user-12345";
  auto lookup =
      [&](absl::string_view name) -> std::optional<absl::string_view> {
    if (name == "x-user-id") return user;
    if (name == "x-beta") return absl::string_view("0");
    return std::nullopt;
  };
  vlb::testing::AllocationCounter counter;
  for (int i = 0; i < 1000; ++i) {
    RouteDecision d = table->Evaluate(absl::string_view("v1"), lookup);
    ASSERT_EQ(d.rule, 2);
    d = table->Evaluate(std::nullopt, lookup);
    ASSERT_EQ(d.rule, RouteDecision::kNone);
  }
  EXPECT_EQ(counter.count(), 0);
}

}  // namespace
}  // namespace vlb::internal
