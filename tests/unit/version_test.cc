#include "balancer/version.h"

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "allocation_counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::HasSubstr;

static_assert(std::is_trivially_copyable_v<VersionRequest>);

bool RequestMatches(absl::string_view request, absl::string_view instance) {
  VersionRequest parsed;
  EXPECT_TRUE(VersionRequest::TryParse(request, &parsed)) << request;
  return parsed.Matches(instance, ParseSemVer(instance));
}

TEST(ParseSemVerTest, AcceptsValidVersions) {
  struct Case {
    const char* text;
    uint64_t major, minor, patch;
    const char* prerelease;
    int parts;
  };
  const Case cases[] = {
      {"1", 1, 0, 0, "", 1},
      {"v1", 1, 0, 0, "", 1},
      {"V1", 1, 0, 0, "", 1},
      {"1.4", 1, 4, 0, "", 2},
      {"0.0.0", 0, 0, 0, "", 3},
      {"2.3.1", 2, 3, 1, "", 3},
      {"v2.0.0-beta.1", 2, 0, 0, "beta.1", 3},
      {"1.0.0-alpha-a.b-c", 1, 0, 0, "alpha-a.b-c", 3},
      {"1.0.0-0.3.7", 1, 0, 0, "0.3.7", 3},
      {"1.0.0+20130313144700", 1, 0, 0, "", 3},
      {"1.0.0-beta+exp.sha.5114f85", 1, 0, 0, "beta", 3},
      {"1.0.0+001", 1, 0, 0, "", 3},  // build identifiers may have zeros
      {"2-rc1", 2, 0, 0, "rc1", 1},
      {"2024-canary", 2024, 0, 0, "canary", 1},
      {"18446744073709551615.0.1", 18446744073709551615u, 0, 1, "", 3},
  };
  for (const Case& c : cases) {
    std::optional<SemVer> v = ParseSemVer(c.text);
    ASSERT_TRUE(v.has_value()) << c.text;
    EXPECT_EQ(v->major, c.major) << c.text;
    EXPECT_EQ(v->minor, c.minor) << c.text;
    EXPECT_EQ(v->patch, c.patch) << c.text;
    EXPECT_EQ(v->prerelease, c.prerelease) << c.text;
    EXPECT_EQ(v->parts, c.parts) << c.text;
  }
}

TEST(ParseSemVerTest, RejectsInvalidVersions) {
  for (const char* text : {"",
                           "v",
                           "V",
                           "blue",
                           "canary-2024",
                           " 1",
                           "1 ",
                           "1.",
                           "1..2",
                           ".1",
                           "01",
                           "1.02",
                           "1.2.03",
                           "1.2.3.4",
                           "1.2.3-",
                           "1.2.3-a..b",
                           "1.2.3-01",
                           "1.2.3-a_b",
                           "1.2.3+",
                           "1.2.3+a..b",
                           "1.2.3+a+b",
                           "1.x",
                           "*",
                           "x",
                           "-1",
                           "+1",
                           "1.2.3 ",
                           "vv1",
                           "18446744073709551616",
                           "1.99999999999999999999",
                           "1.2.3-rc.1 "}) {
    EXPECT_FALSE(ParseSemVer(text).has_value()) << text;
  }
}

TEST(CompareSemVerTest, FollowsSemverOrgPrecedence) {
  // From semver.org, section 11, in increasing order.
  const char* ordered[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                           "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                           "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                           "1.1.0",       "2.0.0",         "2.1.0",
                           "2.1.1"};
  const int n = sizeof(ordered) / sizeof(ordered[0]);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      std::optional<SemVer> a = ParseSemVer(ordered[i]);
      std::optional<SemVer> b = ParseSemVer(ordered[j]);
      ASSERT_TRUE(a && b);
      int c = CompareSemVer(*a, *b);
      int want = (i > j) - (i < j);
      EXPECT_EQ((c > 0) - (c < 0), want) << ordered[i] << " vs " << ordered[j];
    }
  }
}

TEST(CompareSemVerTest, PadsMissingPartsAndIgnoresBuild) {
  struct Case {
    const char* a;
    const char* b;
    int sign;
  };
  const Case cases[] = {
      {"v1", "1.0.0", 0},
      {"1", "v1.0", 0},
      {"1.0.0+a", "1.0.0+b", 0},
      {"1.0.0-rc.1+a", "1.0.0-rc.1", 0},
      {"1.4", "1.4.1", -1},
      {"2", "1.99.99", 1},
      // Numeric identifiers longer than 64 bits still compare numerically.
      {"1.0.0-99999999999999999999", "1.0.0-100000000000000000000", -1},
      {"1.0.0-2", "1.0.0-10", -1},
      {"1.0.0-10", "1.0.0-a", -1},
      {"1.0.0-B", "1.0.0-a", -1},  // ASCII order
      {"1.0.0-a.b", "1.0.0-a", 1},
  };
  for (const Case& c : cases) {
    int got = CompareSemVer(*ParseSemVer(c.a), *ParseSemVer(c.b));
    EXPECT_EQ((got > 0) - (got < 0), c.sign) << c.a << " vs " << c.b;
  }
}

struct MatchCase {
  const char* request;
  const char* instance;
  bool matches;
};

void ExpectMatches(const std::vector<MatchCase>& cases) {
  for (const MatchCase& c : cases) {
    EXPECT_EQ(RequestMatches(c.request, c.instance), c.matches)
        << "request \"" << c.request << "\", instance \"" << c.instance << "\"";
  }
}

TEST(VersionRequestTest, ExactSemverMatchesAfterPadding) {
  ExpectMatches({
      {"v1", "1", true},
      {"v1", "1.0.0", true},
      {"v1", "v1.0", true},
      {"1", "V1.0.0+build.7", true},
      {"1.0.0", "v1", true},
      {"v1", "1.4.0", false},
      {"v1", "2", false},
      {"2.3.1", "2.3.1", true},
      {"2.3.1", "2.3.2", false},
      {"2.3", "2.3.0", true},
      {"2.3", "2.3.1", false},
      {"1.2.3+build.1", "1.2.3+build.2", true},
      {"=1.2.3", "1.2.3", true},
      {"= 1.2", "1.2.0", true},
      {"=1.2.3", "1.2.4", false},
      {"  v2 \t", "2.0.0", true},
  });
}

TEST(VersionRequestTest, ExactPrereleaseMustBeEqual) {
  ExpectMatches({
      {"v2.0.0-beta.1", "2.0.0-beta.1", true},
      {"v2.0.0-beta.1", "v2-beta.1", true},
      {"v2.0.0-beta.1", "2.0.0-beta.1+sha.1", true},
      {"v2.0.0-beta.1", "2.0.0-beta.2", false},
      {"v2.0.0-beta.1", "2.0.0", false},
      {"v2", "2.0.0-beta.1", false},
      {"2.0.0", "2.0.0-rc.1", false},
  });
}

TEST(VersionRequestTest, NonSemverIsByteEqual) {
  ExpectMatches({
      {"blue", "blue", true},
      {"blue", "Blue", false},
      {"blue", "blue ", false},
      {"blue", "green", false},
      {"canary-2024", "canary-2024", true},
      {"canary-2024", "canary-2025", false},
      {"xray", "xray", true},
      {"vnext", "vnext", true},
      {"v1", "blue", false},
      {"blue", "1.0.0", false},
      {"release/2024.01.15", "release/2024.01.15", true},
      // An instance version that is not semver is matched by bytes only.
      {"1.2.3", "2024.01.15", false},
  });
}

TEST(VersionRequestTest, Caret) {
  ExpectMatches({
      {"^1.4", "1.4.0", true},
      {"^1.4", "1.9.9", true},
      {"^1.4", "1.3.9", false},
      {"^1.4", "2.0.0", false},
      {"^1.4", "2.0.0-rc.1", false},
      {"^1.2.3", "1.2.3", true},
      {"^1.2.3", "1.2.2", false},
      {"^1", "1.0.0", true},
      {"^1", "1.99.0", true},
      {"^1", "2.0.0", false},
      {"^0.4", "0.4.0", true},
      {"^0.4", "0.4.9", true},
      {"^0.4", "0.5.0", false},
      {"^0.4", "0.3.9", false},
      {"^0.4.2", "0.4.1", false},
      {"^0.0.3", "0.0.3", true},
      {"^0.0.3", "0.0.4", false},
      {"^0.0.3", "0.0.2", false},
      {"^0.0", "0.0.9", true},
      {"^0.0", "0.1.0", false},
      {"^0", "0.9.9", true},
      {"^0", "1.0.0", false},
      {"^ 1.4", "1.5.0", true},
      {"^v1.4", "1.5.0", true},
      // No larger major can be represented, so there is no upper end.
      {"^18446744073709551615", "18446744073709551615.7.0", true},
  });
}

TEST(VersionRequestTest, Tilde) {
  ExpectMatches({
      {"~1.4.2", "1.4.2", true},
      {"~1.4.2", "1.4.9", true},
      {"~1.4.2", "1.4.1", false},
      {"~1.4.2", "1.5.0", false},
      {"~1.4", "1.4.0", true},
      {"~1.4", "1.5.0", false},
      {"~1", "1.0.0", true},
      {"~1", "1.9.0", true},
      {"~1", "2.0.0", false},
      {"~0.2.3", "0.2.9", true},
      {"~0.2.3", "0.3.0", false},
      {"~0", "0.9.0", true},
  });
}

// 18446744073709551615 is the largest number a part can hold (2^64 - 1).
// Bumping it for an upper bound carries into the part above, as no version
// lies between x.18446744073709551615 and x+1.0.0.
TEST(VersionRequestTest, UpperBoundsCarryOnOverflow) {
  ExpectMatches({
      {"~1.18446744073709551615", "1.18446744073709551615.0", true},
      {"~1.18446744073709551615", "1.18446744073709551615.9", true},
      {"~1.18446744073709551615", "1.18446744073709551614.0", false},
      {"~1.18446744073709551615", "2.0.0", false},
      {"~1.18446744073709551615.4", "1.18446744073709551615.5", true},
      {"~1.18446744073709551615.4", "2.0.0", false},
      {"^0.18446744073709551615", "0.18446744073709551615.3", true},
      {"^0.18446744073709551615", "1.0.0", false},
      {"^0.0.18446744073709551615", "0.0.18446744073709551615", true},
      {"^0.0.18446744073709551615", "0.1.0", false},
      // A carry can ripple through more than one part.
      {"^0.18446744073709551615.18446744073709551615", "1.0.0", false},
      {"~2.18446744073709551615.18446744073709551615", "3.0.0", false},
      {"~2.18446744073709551615.18446744073709551615",
       "2.18446744073709551615.18446744073709551615", true},
      {"1.18446744073709551615.x", "1.18446744073709551615.7", true},
      {"1.18446744073709551615.x", "2.0.0", false},
      {"0.0.18446744073709551615 || 0.18446744073709551615.x", "1.0.0", false},
      // The carried bound still keeps the next tuple's pre-releases out,
      // even where the pre-release rule lets that tuple through.
      {">=2.0.0-alpha ~1.18446744073709551615", "2.0.0-beta", false},
      {">=1.0.0-alpha ^0.18446744073709551615", "1.0.0-beta", false},
  });
}

// When the major itself would overflow, every representable version is
// below the bound: the range has no upper end.
TEST(VersionRequestTest, UpperBoundPastTheLargestMajorIsOpen) {
  constexpr char kTop[] =
      "18446744073709551615.18446744073709551615.18446744073709551615";
  ExpectMatches({
      {"^18446744073709551615", kTop, true},
      {"~18446744073709551615", kTop, true},
      {"18446744073709551615.x", kTop, true},
      {"~18446744073709551615.18446744073709551615", kTop, true},
      {"^18446744073709551615.0.1", "18446744073709551615.0.0", false},
      {"^18446744073709551615", "18446744073709551614.9.9", false},
      {"^18446744073709551615.1", "18446744073709551615.1.0-rc.1", false},
  });
}

TEST(VersionRequestTest, Comparators) {
  ExpectMatches({
      {">=1.2", "1.2.0", true},     {">=1.2", "1.1.9", false},
      {">=1.2", "7.0.0", true},     {">1.2", "1.2.0", false},
      {">1.2", "1.2.1", true},      {"<2", "1.99.99", true},
      {"<2", "2.0.0", false},       {"<=2.1.0", "2.1.0", true},
      {"<=2.1.0", "2.1.1", false},  {"<=2", "2.0.0", true},
      {"<=2", "2.0.1", false},      {">=1.2 <2", "1.2.0", true},
      {">=1.2 <2", "1.9.0", true},  {">=1.2 <2", "2.0.0", false},
      {">=1.2 <2", "1.1.0", false}, {">= 1.2   < 2", "1.5.0", true},
      {">=1.2\t<2", "1.5.0", true}, {">1 <1", "1.0.0", false},
      {"1.2.3 >=1", "1.2.3", true}, {">=1.0.0 <=1.0.0 1.0.0 =1", "1.0.0", true},
  });
}

TEST(VersionRequestTest, Wildcards) {
  ExpectMatches({
      {"1.x", "1.0.0", true},
      {"1.x", "1.9.9", true},
      {"1.x", "2.0.0", false},
      {"1.x", "0.9.0", false},
      {"1.X", "1.2.0", true},
      {"1.*", "1.2.0", true},
      {"1.x.x", "1.2.3", true},
      {"1.*.X", "2.2.3", false},
      {"1.4.x", "1.4.7", true},
      {"1.4.x", "1.5.0", false},
      {"1.4.x", "1.3.0", false},
      {"v1.x", "1.1.0", true},
      {"1.x", "1.2.0-rc.1", false},
      {"*", "1.2.3", true},
      {"*", "blue", true},
      {"*", "", true},
      {"*", "1.0.0-rc.1", true},
      {"x", "0.0.1", true},
      {"X", "canary", true},
      {"x.x", "canary", true},
      {"* *", "canary", true},
      // With a real bound beside it, `*` adds nothing and semver is needed.
      {"* >=1", "1.0.0", true},
      {"* >=1", "0.1.0", false},
      {"* >=1", "blue", false},
  });
}

TEST(VersionRequestTest, Alternatives) {
  ExpectMatches({
      {"^1.2 || ^2", "1.2.0", true},
      {"^1.2 || ^2", "2.5.0", true},
      {"^1.2 || ^2", "1.1.0", false},
      {"^1.2 || ^2", "3.0.0", false},
      {"^1.2||^2", "2.0.0", true},
      {">=1.2 <2 || 3.x", "1.5.0", true},
      {">=1.2 <2 || 3.x", "3.1.0", true},
      {">=1.2 <2 || 3.x", "2.0.0", false},
      {">=1.2 <2 || 3.x", "4.0.0", false},
      {"blue || green", "green", true},
      {"blue || green", "red", false},
      {"~2.1.0 || canary", "canary", true},
      {"~2.1.0 || canary", "2.1.5", true},
      {"^1 || *", "blue", true},
      {"v1 || v2 || v3 || v4", "4", true},
  });
}

TEST(VersionRequestTest, RangesMatchPrereleasesOnlyWhenNamed) {
  ExpectMatches({
      {"^1.0", "1.5.0-rc1", false},
      {">=1.0.0", "1.5.0-rc1", false},
      {"1.x", "1.5.0-rc1", false},
      {">=1.5.0-rc.1 <2", "1.5.0-rc.1", true},
      {">=1.5.0-rc.1 <2", "1.5.0-rc.2", true},
      {">=1.5.0-rc.1 <2", "1.5.0-beta", false},  // below the bound
      {">=1.5.0-rc.1 <2", "1.6.0-rc.1", false},  // other tuple
      {">=1.5.0-rc.1 <2", "1.6.0", true},
      {"^1.2.3-beta.2", "1.2.3-beta.4", true},
      {"^1.2.3-beta.2", "1.2.3-beta.1", false},
      {"^1.2.3-beta.2", "1.2.4-beta.3", false},
      {"^1.2.3-beta.2", "1.2.4", true},
      {"~1.2.3-beta", "1.2.3", true},
      // The rule applies per alternative.
      {">=1.5.0-rc.1 || ^1", "1.5.0-rc.2", true},
      {"^1 || >=2.0.0-rc.1", "1.5.0-rc.2", false},
      // Upper bounds of ^, ~ and wildcards exclude the bound's pre-releases,
      // even when the pre-release rule lets that tuple through.
      {">=2.0.0-alpha ^1.0", "2.0.0-beta", false},
      {">=2.0.0-alpha <2", "2.0.0-beta", true},
      {"<2.0.0-rc.1", "2.0.0-beta", true},
      {"<2.0.0-rc.1", "2.0.0-rc.1", false},
  });
}

TEST(VersionRequestTest, PrereleaseZeroIsTheLowestOfItsTuple) {
  ExpectMatches({
      {">=2.0.0-0", "2.0.0-0", true},
      {"^1.2 || >=2.0.0-0 <=2.0.0-0", "2.0.0-0", true},
      {"<=2.0.0-0", "2.0.0-0", true},
  });
}

TEST(VersionRequestTest, AccessorsDescribeTheRequest) {
  struct Case {
    const char* request;
    bool exact;
    bool any;
  };
  const Case cases[] = {
      {"v1", true, false},        {"=1.2.3", true, false},
      {"blue", true, false},      {"2.0.0-rc.1", true, false},
      {"^1", false, false},       {">=1", false, false},
      {"1.x", false, false},      {"v1 || v2", false, false},
      {"1.0.0 <2", false, false}, {"*", false, true},
      {"x.x", false, true},       {"^1 || *", false, true},
      {"* >=1", false, false},
  };
  for (const Case& c : cases) {
    absl::StatusOr<VersionRequest> request = VersionRequest::Parse(c.request);
    ASSERT_TRUE(request.ok()) << c.request << ": " << request.status();
    EXPECT_EQ(request->IsExactVersion(), c.exact) << c.request;
    EXPECT_EQ(request->IsAny(), c.any) << c.request;
  }
}

TEST(VersionRequestTest, OwnsItsText) {
  VersionRequest copy;
  {
    std::string text = "  ^1.2.3-beta.2 || canary  ";
    absl::StatusOr<VersionRequest> request = VersionRequest::Parse(text);
    ASSERT_TRUE(request.ok()) << request.status();
    copy = *request;
    text.assign(text.size(), '#');
  }
  EXPECT_EQ(copy.text(), "^1.2.3-beta.2 || canary");
  EXPECT_TRUE(copy.Matches("canary", std::nullopt));
  EXPECT_TRUE(copy.Matches("1.2.3-beta.3", ParseSemVer("1.2.3-beta.3")));
  EXPECT_FALSE(copy.Matches("1.2.3-alpha", ParseSemVer("1.2.3-alpha")));
}

TEST(VersionRequestTest, AcceptsTheLimits) {
  EXPECT_TRUE(VersionRequest::Parse("1 || 2 || 3 || 4").ok());
  EXPECT_TRUE(VersionRequest::Parse(">=1 <9 >0 <=8 || ^1 ^1 ^1 ^1").ok());
  std::string longest(VersionRequest::kMaxTextSize, 'a');
  absl::StatusOr<VersionRequest> request = VersionRequest::Parse(longest);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_TRUE(request->Matches(longest, std::nullopt));
}

TEST(VersionRequestTest, RejectsMalformedRequests) {
  struct Case {
    std::string request;
    const char* message;
  };
  const Case cases[] = {
      {"", "the request is empty"},
      {" \t ", "the request is empty"},
      {"^", "expected a version after the operator at '^' (column 1)"},
      {">=", "expected a version after the operator at '>' (column 1)"},
      {"< ", "expected a version after the operator"},
      {">=blue", "expected a version after the operator"},
      {"=", "expected a version after the operator"},
      {"1..2", "expected a number at '.' (column 3)"},
      {"1.", "expected a number at the end"},
      {"01.2", "numbers cannot have leading zeros at '0' (column 1)"},
      {"1.02", "leading zeros at '0' (column 3)"},
      {"2024.01.15", "leading zeros"},
      {"^1 ||", "'||' needs a range on each side at '|' (column 4)"},
      {"|| ^1", "'||' needs a range on each side"},
      {"^1 || || ^2", "'||' needs a range on each side"},
      {"^1 | ^2", "a single '|'"},
      {"1 || 2 || 3 || 4 || 5",
       "too many alternatives joined by '||' (at most 4, column 18)"},
      {"1 2 3 4 5",
       "too many space-separated terms in one alternative (at "
       "most 4, column 9)"},
      {"18446744073709551616", "does not fit in 64 bits"},
      {"^1.18446744073709551616", "does not fit in 64 bits at '1' (column 4)"},
      {"1.2.3.4", "unexpected character at '.' (column 6)"},
      {">=1.2<2", "unexpected character at '<'"},
      {"1.2.3-", "invalid pre-release"},
      {"1.2.3-01", "invalid pre-release"},
      {"1.2.3-a..b", "invalid pre-release"},
      {"1.2.3+", "invalid build metadata"},
      {"^1.x", "wildcards cannot follow an operator"},
      {">=*", "wildcards cannot follow an operator"},
      {">=1.2.x", "wildcards cannot follow an operator at 'x' (column 7)"},
      {"1.x.3", "a wildcard part can only be followed by wildcard parts"},
      {"x.1", "a wildcard part can only be followed by wildcard parts"},
      {"1.x-rc.1", "cannot have a pre-release or build"},
      {"blue green", "a label must be alone in its alternative"},
      {"blue ^1", "a label must be alone in its alternative"},
      {"^1 blue", "a label must be alone in its alternative"},
      {"-1", "unexpected character at '-'"},
      {"@latest", "unexpected character at '@'"},
      {std::string(VersionRequest::kMaxTextSize + 1, '1'),
       "the request is too long (257 bytes, at most 256)"},
      {std::string("1\0", 2), "unexpected character at '\\x00'"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<VersionRequest> request = VersionRequest::Parse(c.request);
    ASSERT_FALSE(request.ok()) << c.request;
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
    std::string message(request.status().message());
    EXPECT_THAT(message, HasSubstr(c.message));
    EXPECT_THAT(message, HasSubstr("invalid version request"));
    VersionRequest out;
    EXPECT_FALSE(VersionRequest::TryParse(c.request, &out)) << c.request;
  }
}

TEST(VersionRequestTest, ErrorMessageQuotesTheTrimmedRequest) {
  absl::StatusOr<VersionRequest> request = VersionRequest::Parse("  ^1 || ");
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.status().message(),
            "invalid version request \"^1 ||\": '||' needs a range on each "
            "side at '|' (column 4)");
}

// A failed pick carries TryParse's SyntaxError and describes it later
// without parsing again: the description is Parse's message minus the
// quoted request.
TEST(VersionRequestTest, SyntaxErrorDescribesWhatParseReports) {
  const std::string too_long(300, '1');
  const std::vector<absl::string_view> texts = {"^",
                                                " 01.2 ",
                                                "v1 ||",
                                                ">=x",
                                                "1.x.2",
                                                "a b",
                                                "v1 || v2 || v3 || v4 || v5",
                                                "1 2 3 4 5",
                                                "1.0.0-",
                                                too_long,
                                                "  "};
  for (absl::string_view text : texts) {
    absl::StatusOr<VersionRequest> parsed = VersionRequest::Parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    VersionRequest out;
    VersionRequest::SyntaxError error;
    {
      vlb::testing::AllocationCounter allocations;
      EXPECT_FALSE(VersionRequest::TryParse(text, &out, &error)) << text;
      EXPECT_EQ(allocations.count(), 0);
    }
    EXPECT_NE(error.code, 0) << text;
    EXPECT_EQ(
        parsed.status().message(),
        absl::StrCat("invalid version request \"",
                     absl::CHexEscape(absl::StripAsciiWhitespace(text)),
                     "\": ", VersionRequest::DescribeSyntaxError(text, error)));
  }
  VersionRequest out;
  VersionRequest::SyntaxError error;
  EXPECT_TRUE(VersionRequest::TryParse(" ^1 ", &out, &error));
  EXPECT_EQ(error.code, 0);
  EXPECT_EQ(VersionRequest::DescribeSyntaxError("1..2",
                                                [] {
                                                  VersionRequest r;
                                                  VersionRequest::SyntaxError e;
                                                  VersionRequest::TryParse(
                                                      "1..2", &r, &e);
                                                  return e;
                                                }()),
            "expected a number at '.' (column 3)");
}

TEST(VersionRequestTest, PickPathDoesNotAllocate) {
  const char* requests[] = {"v1",
                            "^1.4",
                            ">=1.2 <2 || 3.x",
                            "~2.1.0-rc.1 || canary || *",
                            "v2.0.0-beta.1",
                            "  >= 1.0.0-alpha.1 <=1.99999 1.x || ~0.0 ^0.0.3 "};
  const char* instances[] = {"1.0.0",        "1.5.2",     "3.0.1",
                             "2.1.0-rc.2",   "canary",    "2.0.0-beta.1",
                             "1.0.0-beta.2", "0.0.3+abc", "not semver"};
  std::optional<SemVer> parsed[sizeof(instances) / sizeof(instances[0])];
  for (size_t i = 0; i < std::size(instances); ++i) {
    parsed[i] = ParseSemVer(instances[i]);
  }
  VersionRequest request;
  int matched = 0;
  {
    vlb::testing::AllocationCounter allocations;
    for (const char* text : requests) {
      bool ok = VersionRequest::TryParse(text, &request);
      for (size_t i = 0; ok && i < std::size(instances); ++i) {
        matched += request.Matches(instances[i], parsed[i]);
        matched += ParseSemVer(instances[i]).has_value();
      }
      matched += ok;
    }
    VersionRequest::TryParse("1..2", &request);  // errors too
    EXPECT_EQ(allocations.count(), 0);
  }
  EXPECT_GT(matched, 0);

  // The counter works.
  vlb::testing::AllocationCounter allocations;
  auto s = std::make_unique<std::string>(100, 'a');
  EXPECT_GE(allocations.count(), 1);
}

}  // namespace
}  // namespace vlb::internal
