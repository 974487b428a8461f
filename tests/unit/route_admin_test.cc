// The parts of the route admin API (vlb/route_admin.h) that must answer
// before any etcd is asked: validation, and the refusal of bad arguments.
// The etcd endpoint below has nothing behind it, so a call that tried to
// reach it would fail with Unavailable instead of the error expected.
#include "vlb/route_admin.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/route_document.h"

namespace vlb {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = R"({"defaultVersion": "v1", "rules": [
  {"name": "pin", "when": {"header": {"x-beta": "1"}}, "version": "v2"}]})";
constexpr char kInvalid[] = R"({"rules": [{"name": "pin", "versio": "v2"}]})";

EtcdOptions Nowhere() {
  EtcdOptions etcd;
  etcd.endpoints = {"127.0.0.1:1"};
  etcd.request_timeout = absl::Milliseconds(100);
  return etcd;
}

TEST(RouteAdminTest, ValidateGivesTheErrorClientsLog) {
  EXPECT_TRUE(ValidateRouteDocument(kValid).ok());
  const absl::Status invalid = ValidateRouteDocument(kInvalid);
  EXPECT_EQ(invalid, internal::ParseRouteDocument(kInvalid).status());
  EXPECT_EQ(invalid.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(invalid.message()), HasSubstr("rules[0].versio"));
}

TEST(RouteAdminTest, SetRefusesAnInvalidDocumentBeforeAskingEtcd) {
  EXPECT_EQ(SetRouteDocument(Nowhere(), "hwholiday.srv.app", kInvalid).status(),
            ValidateRouteDocument(kInvalid));
  const absl::Status negative = SetRouteDocument(Nowhere(), "hwholiday.srv.app",
                                                 kValid, kDefaultRoutesRoot, -1)
                                    .status();
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(negative.message()), HasSubstr("if_revision"));
}

TEST(RouteAdminTest, RefusesBadServiceNamesAndRoots) {
  for (const char* service : {"", "a..b", "a/b", ".a"}) {
    const absl::Status get = GetRouteDocument(Nowhere(), service).status();
    EXPECT_EQ(get.code(), absl::StatusCode::kInvalidArgument) << service;
    EXPECT_THAT(std::string(get.message()), HasSubstr("service")) << service;
    EXPECT_EQ(SetRouteDocument(Nowhere(), service, kValid).status().code(),
              absl::StatusCode::kInvalidArgument)
        << service;
    EXPECT_EQ(DeleteRouteDocument(Nowhere(), service).status().code(),
              absl::StatusCode::kInvalidArgument)
        << service;
  }
  for (const char* root : {"", "vlb/routes/", "/vlb/routes"}) {
    const absl::Status get =
        GetRouteDocument(Nowhere(), "hwholiday.srv.app", root).status();
    EXPECT_EQ(get.code(), absl::StatusCode::kInvalidArgument) << root;
    EXPECT_THAT(std::string(get.message()), HasSubstr("routes root")) << root;
  }
}

TEST(RouteAdminTest, AnUnreachableEtcdIsReportedWithTheKeyAndEndpoint) {
  const absl::Status get =
      GetRouteDocument(Nowhere(), "hwholiday.srv.app").status();
  EXPECT_EQ(get.code(), absl::StatusCode::kUnavailable) << get;
  EXPECT_THAT(std::string(get.message()),
              HasSubstr("reading /vlb/routes/hwholiday.srv.app"));
  EXPECT_THAT(std::string(get.message()), HasSubstr("127.0.0.1:1"));
}

}  // namespace
}  // namespace vlb
