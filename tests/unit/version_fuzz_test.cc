// Fuzz-style tests of the version request parser and matcher
// (balancer/version.h): random and mutated requests and versions, checked
// against properties that hold for every input rather than against a list of
// answers. The seed is fixed so that CI runs are reproducible; set
// VLB_FUZZ_SEED to explore others (the seed in use is printed, and every
// failure names it).
//
// The range checks compare with a reference model in 128-bit arithmetic, in
// which bumping a part never overflows, so they also cover the carry at
// 2^64-1 (issue 7).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "balancer/version.h"
#include "fuzz_test_base.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

constexpr uint64_t kMax = UINT64_MAX;
// Inputs per test: enough to reach the corners (checked by reverting the
// overflow fix), few enough for well under a second under ASan.
constexpr int kIterations = 3000;
// Parsing is linear in the input (at most 256 bytes), so anything near this
// is a hang, not noise; a slow input is re-run before it counts as one.
constexpr std::chrono::milliseconds kMaxTimePerInput(50);

class VersionFuzzTest : public vlb::testing::FuzzTest {
 protected:
  uint64_t Number();
  std::string Identifiers();
  std::string RandomSemVer();
  std::string RandomRequest();
  std::string Mutate(std::string text);
  std::string AnyInput();
  std::vector<std::string> Instances();
  std::string Near(const SemVer& a);
};

// Runs `body` and fails if it took too long, re-running a slow input twice
// so that a descheduled process is not mistaken for a slow parser.
template <typename Body>
void ExpectFast(absl::string_view input, Body body) {
  auto best = std::chrono::steady_clock::duration::max();
  for (int attempt = 0; attempt < 3 && best > kMaxTimePerInput; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::steady_clock::now() - start);
  }
  EXPECT_LE(best, kMaxTimePerInput)
      << "slow input \"" << absl::CHexEscape(input) << "\"";
}

// Numbers with the corners overrepresented: 0 (caret rules) and the top of
// the range (carries).
uint64_t VersionFuzzTest::Number() {
  switch (Below(8)) {
    case 0:
    case 1:
      return 0;
    case 2:
      return 1 + Below(3);
    case 3:
      return kMax;
    case 4:
      return kMax - 1;
    case 5:
      return kMax - Below(3);
    case 6:
      return Below(1000);
    default:
      return rng()();
  }
}

std::string VersionFuzzTest::Identifiers() {
  static constexpr const char* kIds[] = {
      "0", "1", "2",    "11", "alpha", "rc", "a-b",
      "-", "x", "beta", "9z", "00a",   "V1", "18446744073709551616"};
  std::string out = PickOne(kIds);
  // At most 4, so that every generated request fits kMaxTextSize.
  for (int i = 0; i < 3 && OneIn(2); ++i) {
    absl::StrAppend(&out, ".", PickOne(kIds));
  }
  return out;
}

// A valid version of the grammar, with random corners.
std::string VersionFuzzTest::RandomSemVer() {
  std::string out = OneIn(3) ? PickOne({"v", "V"}) : "";
  const size_t parts = 1 + Below(3);
  for (size_t p = 0; p < parts; ++p) {
    absl::StrAppend(&out, p == 0 ? "" : ".", Number());
  }
  if (OneIn(3)) absl::StrAppend(&out, "-", Identifiers());
  if (OneIn(5)) {
    absl::StrAppend(&out, "+", Identifiers(), OneIn(2) ? ".007" : "");
  }
  return out;
}

std::string VersionFuzzTest::RandomRequest() {
  static constexpr absl::string_view kAlphabet =
      "^~<>=|*xX. -+vV0123456789012345678901234567890abrc\t";
  std::string out;
  const size_t size = OneIn(20) ? Below(300) : Below(24);
  while (out.size() < size) {
    if (OneIn(12)) {
      // Long digit runs, around 2^64.
      absl::StrAppend(&out,
                      PickOne({"18446744073709551615", "18446744073709551616",
                               "99999999999999999999999999999999", "0"}));
    } else if (OneIn(40)) {
      out.push_back(static_cast<char>(Below(256)));
    } else {
      out.push_back(kAlphabet[Below(kAlphabet.size())]);
    }
  }
  return out;
}

std::string VersionFuzzTest::Mutate(std::string text) {
  static constexpr absl::string_view kSignificant = "^~<>=|*xX. -+v0123456789";
  const size_t rounds = 1 + Below(4);
  for (size_t r = 0; r < rounds; ++r) {
    const size_t at = Below(text.size() + 1);
    switch (Below(6)) {
      case 0:
        text.insert(at, 1, kSignificant[Below(kSignificant.size())]);
        break;
      case 1:
        if (at < text.size()) text.erase(at, 1 + Below(3));
        break;
      case 2:
        if (at < text.size()) {
          text[at] = kSignificant[Below(kSignificant.size())];
        }
        break;
      case 3:
        text.insert(at, PickOne({"18446744073709551615", "18446744073709551616",
                                 "||", " || ", ".x", "-0", "+b", "  "}));
        break;
      case 4:
        text.insert(at, text.substr(Below(text.size() + 1), Below(8)));
        break;
      default:
        if (at < text.size()) {
          text[at] = static_cast<char>(text[at] ^ (1 << Below(8)));
        }
        break;
    }
  }
  return text;
}

// A request: random, or a mutation of a valid one.
std::string VersionFuzzTest::AnyInput() {
  static constexpr const char* kValid[] = {
      "v1",
      "^1.4",
      "~1.2.3",
      ">=1.2 <2 || 3.x",
      "1.x.x",
      "*",
      "blue || canary-2024",
      "v2.0.0-beta.1+build.5",
      "^0.0.3",
      "~18446744073709551615.18446744073709551615",
      "^0.18446744073709551615",
      "18446744073709551615.x",
      ">=1.0.0-alpha.1 <=1.99999 1.x || ~0.0 ^0.0.3",
      "1 || 2 || 3 || 4",
      ">=1 <9 >0 <=8 || ^1 ^1 ^1 ^1",
      "= 1.2",
  };
  switch (Below(3)) {
    case 0:
      return RandomRequest();
    case 1:
      return Mutate(PickOne(kValid));
    default:
      return Mutate(RandomSemVer());
  }
}

std::vector<std::string> VersionFuzzTest::Instances() {
  std::vector<std::string> out = {"",      "blue",   "1.0.0",     "2.0.0-rc.1",
                                  "x",     "0.0.0",  "*",         "canary-2024",
                                  "1.4.7", "v2.1.0", "not semver"};
  for (int i = 0; i < 4; ++i) out.push_back(RandomSemVer());
  out.push_back(Mutate(RandomSemVer()));
  return out;
}

// The properties every request text has, valid or not.
void CheckRequest(absl::string_view text,
                  const std::vector<std::string>& instances) {
  VersionRequest fast;
  const bool parsed = VersionRequest::TryParse(text, &fast);
  const absl::StatusOr<VersionRequest> slow = VersionRequest::Parse(text);
  ASSERT_EQ(parsed, slow.ok())
      << "TryParse and Parse disagree on \"" << absl::CHexEscape(text)
      << "\": " << slow.status();
  if (!slow.ok()) {
    EXPECT_EQ(slow.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(
        absl::StartsWith(slow.status().message(), "invalid version request \""))
        << slow.status();
    return;
  }
  EXPECT_EQ(fast.text(), absl::StripAsciiWhitespace(text));
  EXPECT_EQ(slow->text(), fast.text());
  EXPECT_LE(fast.text().size(), VersionRequest::kMaxTextSize);
  EXPECT_EQ(fast.IsAny(), slow->IsAny());
  EXPECT_EQ(fast.IsExactVersion(), slow->IsExactVersion());
  // A copy owns its text: reusing the original must not change its answers.
  const VersionRequest copy = fast;
  VersionRequest::TryParse("0.0.1 || reused", &fast);
  for (const std::string& instance : instances) {
    const std::optional<SemVer> semver = ParseSemVer(instance);
    const bool matches = slow->Matches(instance, semver);
    EXPECT_EQ(copy.Matches(instance, semver), matches)
        << "\"" << absl::CHexEscape(text) << "\" vs \"" << instance << "\"";
    if (slow->IsAny()) {
      EXPECT_TRUE(matches) << text << " vs " << instance;
    }
  }
}

TEST_F(VersionFuzzTest, TryParseAndParseAgreeOnEveryInput) {
  int valid = 0;
  for (int i = 0; i < kIterations; ++i) {
    const std::string text = AnyInput();
    const std::vector<std::string> instances = Instances();
    ExpectFast(text, [&] { CheckRequest(text, instances); });
    VersionRequest out;
    valid += VersionRequest::TryParse(text, &out);
    if (HasFailure()) return;
  }
  // Both sides of the grammar were exercised.
  EXPECT_GT(valid, kIterations / 10);
  EXPECT_LT(valid, kIterations * 9 / 10);
}

// Versions as instances advertise them: whatever ParseSemVer accepts must
// be requestable exactly, and mean the same version.
TEST_F(VersionFuzzTest, EveryParsedVersionIsRequestableExactly) {
  int versions = 0;
  for (int i = 0; i < kIterations; ++i) {
    const std::string text = OneIn(2) ? RandomSemVer() : AnyInput();
    ExpectFast(text, [&] {
      const std::optional<SemVer> v = ParseSemVer(text);
      if (!v.has_value()) return;
      ++versions;
      EXPECT_GE(v->parts, 1);
      EXPECT_LE(v->parts, 3);
      EXPECT_EQ(CompareSemVer(*v, *v), 0);
      if (text.size() > VersionRequest::kMaxTextSize) return;
      VersionRequest request;
      ASSERT_TRUE(VersionRequest::TryParse(text, &request)) << text;
      EXPECT_TRUE(request.IsExactVersion()) << text;
      EXPECT_TRUE(request.Matches(text, v)) << text;
    });
    if (HasFailure()) return;
  }
  EXPECT_GT(versions, kIterations / 2);
}

// Three-way comparison of the release tuples, in 128 bits.
int CompareTuples(const absl::uint128 a[3], const SemVer& b) {
  const absl::uint128 bb[3] = {b.major, b.minor, b.patch};
  for (int p = 0; p < 3; ++p) {
    if (a[p] != bb[p]) return a[p] < bb[p] ? -1 : 1;
  }
  return 0;
}

bool SameTuple(const SemVer& a, const SemVer& b) {
  return a.major == b.major && a.minor == b.minor && a.patch == b.patch;
}

// What `^a`, `~a` or the wildcard form of `a` (its first `bump + 1` parts
// then `.x`) should answer for `b`: >=a and below a's tuple with part `bump`
// incremented, computed without overflow. A pre-release `b` needs a
// pre-release `a` of its tuple (npm's rule).
bool ModelRangeMatches(const SemVer& a, int bump, const SemVer& b) {
  if (!b.prerelease.empty() && (a.prerelease.empty() || !SameTuple(a, b))) {
    return false;
  }
  absl::uint128 upper[3] = {a.major, a.minor, a.patch};
  upper[bump] += 1;
  for (int p = bump + 1; p < 3; ++p) upper[p] = 0;
  return CompareSemVer(b, a) >= 0 && CompareTuples(upper, b) > 0;
}

int CaretBump(const SemVer& a) {
  if (a.major != 0) return 0;
  if (a.minor != 0 && a.parts >= 2) return 1;
  return a.parts - 1;
}

// `b` near `a`: the boundaries are where ranges go wrong.
std::string VersionFuzzTest::Near(const SemVer& a) {
  uint64_t parts[3] = {a.major, a.minor, a.patch};
  for (uint64_t& part : parts) {
    switch (Below(6)) {
      case 0:
        part = part == kMax ? part : part + 1;
        break;
      case 1:
        part = part == 0 ? part : part - 1;
        break;
      case 2:
        part = 0;
        break;
      case 3:
        part = kMax;
        break;
      default:
        break;
    }
  }
  std::string out = absl::StrCat(parts[0], ".", parts[1], ".", parts[2]);
  if (OneIn(4)) absl::StrAppend(&out, "-", OneIn(2) ? "0" : "rc.1");
  return out;
}

void ExpectRange(absl::string_view request, const SemVer& a, int bump,
                 absl::string_view instance) {
  const std::optional<SemVer> b = ParseSemVer(instance);
  ASSERT_TRUE(b.has_value()) << instance;
  VersionRequest parsed;
  ASSERT_TRUE(VersionRequest::TryParse(request, &parsed)) << request;
  EXPECT_EQ(parsed.Matches(instance, b), ModelRangeMatches(a, bump, *b))
      << "request \"" << request << "\", instance \"" << instance << "\"";
}

TEST_F(VersionFuzzTest, RangesMatchTheUnboundedModel) {
  for (int i = 0; i < kIterations; ++i) {
    const std::string text = RandomSemVer();
    ASSERT_TRUE(ParseSemVer(text).has_value()) << text;
    const SemVer a = *ParseSemVer(text);
    const std::string instance = OneIn(4) ? RandomSemVer() : Near(a);
    ExpectFast(text, [&] {
      ExpectRange("^" + text, a, CaretBump(a), instance);
      ExpectRange("~" + text, a, a.parts == 1 ? 0 : 1, instance);
      if (a.parts >= 2 && a.prerelease.empty()) {
        // "1.2.x" from "1.2.3", "1.x" from "1.2": the written parts but
        // the last, then a wildcard.
        SemVer prefix = a;
        if (a.parts == 3) prefix.patch = 0;
        if (a.parts == 2) prefix.minor = 0;
        prefix.parts = a.parts - 1;
        std::string wildcard = absl::StrCat(a.major, ".x");
        if (a.parts == 3) wildcard = absl::StrCat(a.major, ".", a.minor, ".x");
        ExpectRange(wildcard, prefix, prefix.parts - 1, instance);
      }
    });
    if (HasFailure()) return;
  }
}

// Comparators against the semver order; pre-release instances need a
// pre-release bound of their tuple.
TEST_F(VersionFuzzTest, ComparatorsFollowCompareSemVer) {
  for (int i = 0; i < kIterations; ++i) {
    const std::string text = RandomSemVer();
    ASSERT_TRUE(ParseSemVer(text).has_value()) << text;
    const SemVer a = *ParseSemVer(text);
    const std::string instance = OneIn(3) ? RandomSemVer() : Near(a);
    ASSERT_TRUE(ParseSemVer(instance).has_value()) << instance;
    const SemVer b = *ParseSemVer(instance);
    const int c = CompareSemVer(b, a);
    const int reverse = CompareSemVer(a, b);
    EXPECT_EQ((c > 0) - (c < 0), (reverse < 0) - (reverse > 0))
        << text << " vs " << instance;
    const bool allowed =
        b.prerelease.empty() || (!a.prerelease.empty() && SameTuple(a, b));
    const struct {
      const char* op;
      bool want;
    } cases[] = {{"", c == 0},   {"=", c == 0}, {">", c > 0},
                 {">=", c >= 0}, {"<", c < 0},  {"<=", c <= 0}};
    for (const auto& op : cases) {
      const std::string request = op.op + text;
      VersionRequest parsed;
      ASSERT_TRUE(VersionRequest::TryParse(request, &parsed)) << request;
      // An exact request for a pre-release names it, so it may match.
      EXPECT_EQ(parsed.Matches(instance, b), allowed && op.want)
          << "request \"" << request << "\", instance \"" << instance << "\"";
    }
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace vlb::internal
