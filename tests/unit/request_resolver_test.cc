#include "balancer/request_resolver.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "balancer/policy_config.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using Kind = PickResult::Kind;
using Source = PickResult::Source;

constexpr EndpointState kReady = EndpointState::kReady;
constexpr EndpointState kFailed = EndpointState::kTransientFailure;

EndpointInfo E(std::string version, EndpointState state = kReady) {
  EndpointInfo e;
  e.versions = {std::move(version)};
  e.state = state;
  return e;
}

PolicyConfig Config(absl::string_view json = "",
                    absl::string_view policy = "vlb_version") {
  absl::StatusOr<PolicyConfig> config = ParsePolicyConfig(policy, json);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : PolicyConfig();
}

// A resolver over its own index and scheduler, as PickTable composes them.
struct Fixture {
  Fixture(const std::vector<EndpointInfo>& endpoints, PolicyConfig c)
      : config(std::move(c)),
        index(endpoints),
        scheduler(config.child, index, 1, ResolutionCache::kMaxPrecomputed),
        resolver(config, index, scheduler, 1) {
    resolver.Precompute();
  }

  // What a pick of `requested` would report, short of the rotation.
  PickResult Outcome(std::optional<absl::string_view> requested) {
    if (const Resolution* cached = resolver.Lookup(requested)) {
      return cached->outcome;
    }
    VersionRequest scratch;
    Resolution out;
    return resolver.Resolve(requested, &scratch, &out)->outcome;
  }

  const PolicyConfig config;
  const GroupIndex index;
  const PickScheduler scheduler;
  RequestResolver resolver;
};

TEST(RequestResolverTest, ReportsWhereTheRequestCameFrom) {
  Fixture plain({E("v1"), E("v2")}, Config());
  EXPECT_EQ(plain.Outcome("v1").source, Source::kHeader);
  EXPECT_EQ(plain.Outcome(std::nullopt).source, Source::kNone);
  EXPECT_EQ(plain.Outcome("  ").source, Source::kNone);

  Fixture defaulted({E("v1"), E("v2")}, Config(R"({"defaultVersion": "v2"})"));
  EXPECT_EQ(defaulted.Outcome(std::nullopt).source, Source::kDefault);
  EXPECT_EQ(defaulted.Outcome("").source, Source::kDefault);
  EXPECT_EQ(defaulted.Outcome(" v1").source, Source::kHeader);

  Fixture ignoring({E("v1")}, Config("", "vlb_random"));
  EXPECT_EQ(ignoring.Outcome("v1").source, Source::kNone);
}

TEST(RequestResolverTest, ReportsWhichFallbackDecided) {
  Fixture f({E("v1", kFailed), E("v2", kFailed), E("v3")},
            Config(R"({"fallback": ["v2", "v3", "*"]})"));
  PickResult r = f.Outcome("v1");
  EXPECT_EQ(r.kind, Kind::kPicked);
  EXPECT_EQ(r.fallbacks_tried, 2);  // v2 failed, v3 picked
  EXPECT_EQ(f.Outcome("v3").fallbacks_tried, 0);
  // No request: every instance was a candidate, fallbacks do not apply.
  EXPECT_EQ(f.Outcome(std::nullopt).fallbacks_tried, 0);

  Fixture failing({E("v1", kFailed), E("1.0.0", kFailed), E("v2", kFailed)},
                  Config(R"({"fallback": ["v2", "v9"]})"));
  r = failing.Outcome("v1");
  EXPECT_EQ(r.kind, Kind::kUnreachable);
  EXPECT_EQ(r.fallbacks_tried, 2);
  EXPECT_EQ(r.failed, 3u);
  r = failing.Outcome(std::nullopt);
  EXPECT_EQ(r.kind, Kind::kUnreachable);
  EXPECT_EQ(r.failed, 3u);
  EXPECT_EQ(r.fallbacks_tried, 0);
}

TEST(RequestResolverTest, BadRequestsCarryTheirSyntaxError) {
  Fixture f({E("v1")}, Config());
  for (absl::string_view bad : {"^", "01.2", " v1 || "}) {
    PickResult r = f.Outcome(bad);
    EXPECT_EQ(r.kind, Kind::kBadRequest) << bad;
    EXPECT_EQ(r.source, Source::kHeader);
    EXPECT_NE(r.syntax_error.code, 0);
    VersionRequest out;
    VersionRequest::SyntaxError error;
    EXPECT_FALSE(VersionRequest::TryParse(bad, &out, &error));
    EXPECT_EQ(r.syntax_error.code, error.code);
    EXPECT_EQ(r.syntax_error.pos, error.pos);
  }
}

TEST(RequestResolverTest, CachesGroupVersionsAndTextsSeenOnce) {
  Fixture f({E("v1"), E("v2"), E("1.0.0")}, Config());
  // Precomputed: the groups' version strings and no header.
  EXPECT_NE(f.resolver.Lookup("v1"), nullptr);
  EXPECT_NE(f.resolver.Lookup("1.0.0"), nullptr);
  EXPECT_NE(f.resolver.Lookup(std::nullopt), nullptr);
  // Other texts once resolved, bad ones included; never blank ones (they
  // stand for no header) nor texts longer than a cache key.
  EXPECT_EQ(f.resolver.Lookup("^1"), nullptr);
  f.Outcome("^1");
  f.Outcome("^^");
  f.Outcome("  ");
  const std::string long_text =
      absl::StrCat(std::string(ResolutionCache::kMaxText, ' '), "v1");
  f.Outcome(long_text);
  EXPECT_NE(f.resolver.Lookup("^1"), nullptr);
  EXPECT_NE(f.resolver.Lookup("^^"), nullptr);
  EXPECT_EQ(f.resolver.Lookup("  "), nullptr);
  EXPECT_EQ(f.resolver.Lookup(long_text), nullptr);
  EXPECT_EQ(f.Outcome(long_text).kind, Kind::kPicked);
}

// The entry point for requests obtained another way than from the header
// (issue 10's route rules): the same fallbacks, the given source, no cache.
TEST(RequestResolverTest, ResolvesAnAlreadyParsedRequest) {
  Fixture f({E("v1", kFailed), E("v2")}, Config(R"({"fallback": ["v2"]})"));
  VersionRequest request;
  ASSERT_TRUE(VersionRequest::TryParse("v1", &request));
  Resolution out;
  f.resolver.ResolveRequest(&request, Source::kDefault, &out);
  EXPECT_EQ(out.outcome.kind, Kind::kPicked);
  EXPECT_EQ(out.outcome.source, Source::kDefault);
  EXPECT_EQ(out.outcome.fallbacks_tried, 1);
  EXPECT_EQ(out.candidates.ready, 1u);
  EXPECT_NE(out.counter, nullptr);
  EXPECT_EQ(out.slice.size, 1u);
  EXPECT_EQ(out.slice.endpoints[0], 1u);
}

}  // namespace
}  // namespace vlb::internal
