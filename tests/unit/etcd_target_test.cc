#include "client/etcd_target.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::string Error(absl::string_view target) {
  absl::StatusOr<EtcdTarget> parsed = ParseEtcdTarget(target);
  if (parsed.ok()) return "OK";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

TEST(IsEtcdTargetTest, LooksAtTheSchemeOnly) {
  EXPECT_TRUE(IsEtcdTarget("etcd:///app"));
  EXPECT_TRUE(IsEtcdTarget("etcd:app"));
  EXPECT_TRUE(IsEtcdTarget("etcd:"));
  // gRPC's scheme lookup is case-sensitive: these go to DNS.
  EXPECT_FALSE(IsEtcdTarget("ETCD:///app"));
  EXPECT_FALSE(IsEtcdTarget("etcd"));
  EXPECT_FALSE(IsEtcdTarget("etcd2:///app"));
  EXPECT_FALSE(IsEtcdTarget("dns:///etcd:2379"));
  EXPECT_FALSE(IsEtcdTarget("ipv4:127.0.0.1:1"));
  EXPECT_FALSE(IsEtcdTarget(""));
}

TEST(ParseEtcdTargetTest, DefaultCluster) {
  absl::StatusOr<EtcdTarget> target =
      ParseEtcdTarget("etcd:///hwholiday.srv.app");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_THAT(target->endpoints, IsEmpty());
  EXPECT_EQ(target->service, "hwholiday.srv.app");

  // Without "//" gRPC sees no authority either; the path is the service.
  for (absl::string_view text : {"etcd:app", "etcd:/app"}) {
    absl::StatusOr<EtcdTarget> bare = ParseEtcdTarget(text);
    ASSERT_TRUE(bare.ok()) << text << ": " << bare.status();
    EXPECT_THAT(bare->endpoints, IsEmpty());
    EXPECT_EQ(bare->service, "app");
  }
}

TEST(ParseEtcdTargetTest, NamedCluster) {
  absl::StatusOr<EtcdTarget> target =
      ParseEtcdTarget("etcd://127.0.0.1:2379,[::1]:2380,localhost:2379/a.b");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_THAT(target->endpoints,
              ElementsAre("127.0.0.1:2379", "[::1]:2380", "localhost:2379"));
  EXPECT_EQ(target->service, "a.b");
}

TEST(ParseEtcdTargetTest, DecodesPercentEscapesLikeGrpc) {
  absl::StatusOr<EtcdTarget> target =
      ParseEtcdTarget("etcd://127.0.0.1%3A2379/hwholiday%2Esrv.app");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_THAT(target->endpoints, ElementsAre("127.0.0.1:2379"));
  EXPECT_EQ(target->service, "hwholiday.srv.app");
  // Not a valid escape: kept, and then refused by the name check.
  EXPECT_THAT(Error("etcd:///app%2"), HasSubstr("service: "));
  EXPECT_THAT(Error("etcd:///a%2Fb"), HasSubstr("service: "));
}

TEST(ParseEtcdTargetTest, RefusesBadServices) {
  EXPECT_THAT(Error("etcd:///"),
              StartsWith("etcd target \"etcd:///\": service: "));
  EXPECT_THAT(Error("etcd:"), StartsWith("etcd target \"etcd:\": service: "));
  EXPECT_THAT(Error("etcd://127.0.0.1:2379"), HasSubstr("service: "));
  EXPECT_THAT(Error("etcd://127.0.0.1:2379/"), HasSubstr("service: "));
  EXPECT_THAT(Error("etcd:///bad service"), HasSubstr("service: "));
  EXPECT_THAT(Error("etcd:///a/b"), HasSubstr("service: "));
  EXPECT_THAT(Error("etcd:///a..b"), HasSubstr("service: "));
  EXPECT_THAT(Error("etcd:///app\n"),
              StartsWith("etcd target \"etcd:///app\\n\": service: "));
}

TEST(ParseEtcdTargetTest, RefusesBadEndpoints) {
  EXPECT_THAT(Error("etcd://127.0.0.1:notaport/app"),
              StartsWith("etcd target \"etcd://127.0.0.1:notaport/app\": "
                         "endpoint: "));
  EXPECT_THAT(Error("etcd://127.0.0.1:0/app"), HasSubstr("endpoint: "));
  EXPECT_THAT(Error("etcd://127.0.0.1/app"), HasSubstr("endpoint: "));
  EXPECT_THAT(Error("etcd://a:1,b:99999/app"), HasSubstr("endpoint: "));
  EXPECT_THAT(Error("etcd://user@127.0.0.1:2379/app"), HasSubstr("endpoint: "));
  // An authority that names no endpoint must not quietly mean the default
  // cluster.
  EXPECT_THAT(Error("etcd://,/app"),
              HasSubstr("endpoints: none given (leave the authority empty"));
}

TEST(ParseEtcdTargetTest, RefusesQueriesAndFragments) {
  EXPECT_EQ(Error("etcd:///app?zone=eu"),
            "etcd target \"etcd:///app?zone=eu\": query or fragment: "
            "\"?zone=eu\" is not supported");
  EXPECT_THAT(Error("etcd:///app#x"), HasSubstr("\"#x\" is not supported"));
  EXPECT_THAT(Error("etcd://h:1?x/app"), HasSubstr("query or fragment"));
}

TEST(ParseEtcdTargetTest, RefusesOtherSchemes) {
  EXPECT_EQ(Error("dns:///app"),
            "etcd target \"dns:///app\": scheme: must be etcd:");
}

}  // namespace
}  // namespace vlb::internal
