// vlb::SetVersion and vlb::CreateChannel refuse bad input with a Status
// instead of letting it reach gRPC (which aborts on bad metadata, and only
// logs a bad service config).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "balancer/policy_config.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "vlb/grpc.h"

namespace vlb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr char kTarget[] = "etcd:///hwholiday.srv.app";

std::multimap<std::string, std::string> Sent(grpc::ClientContext* context) {
  return grpc::testing::ClientContextTestPeer(context).GetSendInitialMetadata();
}

TEST(SetVersionTest, AddsTheHeader) {
  grpc::ClientContext context;
  ASSERT_TRUE(SetVersion(&context, "v2").ok());
  EXPECT_THAT(Sent(&context), ElementsAre(Pair("x-version", "v2")));

  grpc::ClientContext custom;
  ASSERT_TRUE(SetVersion(&custom, ">=1.2 <2", "X-App-Version").ok());
  EXPECT_THAT(Sent(&custom), ElementsAre(Pair("x-app-version", ">=1.2 <2")));
}

TEST(SetVersionTest, RefusesValuesThatCannotBeSent) {
  std::vector<std::string> values = {
      "\n", "v1\n", "v1\xc3\xa9", "\x01", "v1\x7f", "v1\r\nx: y", "", "  "};
  values.push_back(std::string("v\0", 2));
  values.push_back(std::string(257, '1'));
  values.push_back(std::string(1 << 20, '1'));
  for (const std::string& value : values) {
    grpc::ClientContext context;
    const absl::Status status = SetVersion(&context, value);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(value) << ": " << status;
    EXPECT_THAT(std::string(status.message()),
                StartsWith("vlb::SetVersion: version: "));
    EXPECT_THAT(Sent(&context), IsEmpty()) << absl::CHexEscape(value);
  }
  grpc::ClientContext context;
  EXPECT_EQ(SetVersion(&context, "v1\xc3\xa9").message(),
            "vlb::SetVersion: version: \"v1\\xc3\\xa9\" cannot be sent as "
            "metadata: byte 0xc3 at offset 2 is not printable ASCII (allowed: "
            "0x20-0x7e)");
}

TEST(SetVersionTest, RefusesBadHeaderNames) {
  for (absl::string_view header : {"Bad Header", "", ":path", "grpc-version",
                                   "x-version-bin", "te", "x\xc3\xa9", "x\n"}) {
    grpc::ClientContext context;
    const absl::Status status = SetVersion(&context, "v1", header);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(header) << ": " << status;
    EXPECT_THAT(std::string(status.message()),
                StartsWith("vlb::SetVersion: header: "));
    EXPECT_THAT(Sent(&context), IsEmpty()) << absl::CHexEscape(header);
  }
  grpc::ClientContext context;
  EXPECT_EQ(SetVersion(&context, "v1", "Bad Header").message(),
            "vlb::SetVersion: header: \"Bad Header\" is not a valid header "
            "name (allowed: 0-9 a-z - _ .; found ' ')");
}

class CreateChannelTest : public ::testing::Test {
 protected:
  // With the etcd resolver and the policies registered, as in a real
  // program; no channel here connects, so no etcd is needed.
  static void SetUpTestSuite() { ASSERT_TRUE(RegisterGrpcPlugins().ok()); }

  // The error message, or "OK" for a usable channel.
  static std::string Error(const std::string& target,
                           const VersionPolicyOptions& options = {}) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        CreateChannel(target, grpc::InsecureChannelCredentials(), options);
    if (!channel.ok()) {
      EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
      return std::string(channel.status().message());
    }
    if (*channel == nullptr) return "null channel";
    // A channel gRPC could not set up is in TRANSIENT_FAILURE from the start.
    if ((*channel)->GetState(false) != GRPC_CHANNEL_IDLE) return "not idle";
    return "OK";
  }
};

VersionPolicyOptions ChildPolicy(std::string child) {
  VersionPolicyOptions options;
  options.child_policy = std::move(child);
  return options;
}

VersionPolicyOptions Header(std::string header) {
  VersionPolicyOptions options;
  options.header = std::move(header);
  return options;
}

TEST_F(CreateChannelTest, RefusesBadOptionsNamingTheField) {
  EXPECT_EQ(Error(kTarget, ChildPolicy("bogus")),
            "VersionPolicyOptions.child_policy: \"bogus\" is not one of "
            "round_robin, weighted_round_robin, random");
  EXPECT_THAT(Error(kTarget, ChildPolicy("")),
              StartsWith("VersionPolicyOptions.child_policy: \"\" is not"));
  EXPECT_EQ(Error(kTarget, Header("")),
            "VersionPolicyOptions.header: must not be empty");
  EXPECT_EQ(Error(kTarget, Header("Bad Header")),
            "VersionPolicyOptions.header: \"Bad Header\" is not a valid header "
            "name (allowed: 0-9 a-z - _ .; found ' ')");
  EXPECT_THAT(Error(kTarget, Header("grpc-version")),
              StartsWith("VersionPolicyOptions.header: \"grpc-version\" is "
                         "reserved by gRPC"));

  VersionPolicyOptions fallback;
  fallback.fallback = {"v2", "^"};
  EXPECT_THAT(Error(kTarget, fallback),
              StartsWith("VersionPolicyOptions.fallback[1]: invalid version "
                         "request \"^\""));
  VersionPolicyOptions default_version;
  default_version.default_version = "1..2";
  EXPECT_THAT(Error(kTarget, default_version),
              StartsWith("VersionPolicyOptions.default_version: invalid "
                         "version request \"1..2\""));
}

TEST_F(CreateChannelTest, RefusesBadEtcdTargets) {
  for (const char* target :
       {"etcd:", "etcd://", "etcd:///", "etcd:///bad service", "etcd:///a/b",
        "etcd://127.0.0.1:notaport/app", "etcd://127.0.0.1/app",
        "etcd://127.0.0.1:2379/", "etcd://,/app", "etcd:///app?zone=eu"}) {
    EXPECT_THAT(Error(target),
                StartsWith(absl::StrCat("etcd target \"",
                                        absl::CHexEscape(target), "\": ")));
  }
  EXPECT_THAT(Error("etcd://127.0.0.1:notaport/app"),
              StartsWith("etcd target \"etcd://127.0.0.1:notaport/app\": "
                         "endpoint: "));
}

TEST_F(CreateChannelTest, AcceptsGoodTargetsAndPassesOthersThrough) {
  for (const char* target :
       {kTarget, "etcd:hwholiday.srv.app",
        "etcd://127.0.0.1:1,[::1]:2/hwholiday.srv.app", "ipv4:127.0.0.1:1",
        "dns:///x", "localhost:1",
        // Not the etcd scheme for gRPC (case-sensitive): DNS's business.
        "ETCD:///whatever"}) {
    EXPECT_EQ(Error(target), "OK") << target;
  }
}

TEST_F(CreateChannelTest, AcceptsGoodOptions) {
  VersionPolicyOptions all;
  all.header = "X-App-Version";
  all.default_version = "^1.2";
  all.fallback = {"v2", "*"};
  all.child_policy = "weighted_round_robin";
  EXPECT_EQ(Error(kTarget, all), "OK");
  EXPECT_EQ(Error(kTarget, ChildPolicy("random")), "OK");
  EXPECT_EQ(Error(kTarget, ChildPolicy("round_robin")), "OK");
}

// One rule: CreateChannel accepts exactly the options whose service config
// the policy accepts.
TEST_F(CreateChannelTest, JudgesOptionsLikeThePolicyJudgesTheirConfig) {
  std::vector<VersionPolicyOptions> cases = {
      {}, ChildPolicy("bogus"), ChildPolicy("")};
  for (const char* header :
       {"", "X-Version", "x version", ":path", "x-bin", "te", "x\xc3\xa9"}) {
    cases.push_back(Header(header));
  }
  for (const char* version : {"v1", "^", "1..2", "blue", "*", " ", "v1\xff"}) {
    VersionPolicyOptions with_default;
    with_default.default_version = version;
    cases.push_back(with_default);
    VersionPolicyOptions with_fallback;
    with_fallback.fallback = {"v2", version};
    cases.push_back(with_fallback);
  }
  for (const VersionPolicyOptions& options : cases) {
    const nlohmann::json config =
        nlohmann::json::parse(VersionServiceConfig(options));
    const std::string policy_json =
        config["loadBalancingConfig"][0]["vlb_version"].dump();
    const bool policy_ok =
        internal::ParsePolicyConfig("vlb_version", policy_json).ok();
    EXPECT_EQ(Error("dns:///x", options) == "OK", policy_ok) << policy_json;
  }
}

}  // namespace
}  // namespace vlb
