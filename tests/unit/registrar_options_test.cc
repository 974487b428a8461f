// Registrar::Create's validation. Create does not connect, so no etcd runs
// here: the endpoint is a port nothing listens on.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vlb/registrar.h"

namespace vlb {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

RegistrarOptions ValidOptions() {
  RegistrarOptions options;
  options.etcd.endpoints = {"127.0.0.1:1"};
  options.service_name = "hwholiday.srv.app";
  options.instance_id = "app-1";
  options.version = "v1";
  options.address = "10.0.0.1:8089";
  options.ttl = absl::Seconds(2);
  return options;
}

// Create's error for `options`, which must be InvalidArgument.
std::string CreateError(RegistrarOptions options) {
  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      Registrar::Create(std::move(options));
  EXPECT_FALSE(registrar.ok());
  if (registrar.ok()) return "<created>";
  EXPECT_EQ(registrar.status().code(), absl::StatusCode::kInvalidArgument)
      << registrar.status();
  return std::string(registrar.status().message());
}

TEST(RegistrarOptionsTest, ValidOptionsCreateWithoutConnecting) {
  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      Registrar::Create(ValidOptions());
  ASSERT_TRUE(registrar.ok()) << registrar.status();
  EXPECT_EQ((*registrar)->key(), "/hwholiday/srv/app/app-1");
  EXPECT_FALSE((*registrar)->registered());
  EXPECT_EQ((*registrar)->lease_id(), 0);
  const ServiceInstance instance = (*registrar)->instance();
  EXPECT_EQ(instance.name, "app");
  EXPECT_EQ(instance.path, "/hwholiday/srv/app");
  EXPECT_EQ(instance.id, "app-1");
  EXPECT_EQ(instance.version, "v1");
  EXPECT_EQ(instance.address, "10.0.0.1:8089");
  EXPECT_EQ(instance.weight, kDefaultWeight);
}

TEST(RegistrarOptionsTest, MinimumTtlAndWeightBoundsAreAccepted) {
  RegistrarOptions options = ValidOptions();
  options.ttl = kMinRegistrationTtl;
  options.weight = kMaxWeight;
  EXPECT_TRUE(Registrar::Create(options).ok());
  options.weight = kMinWeight;
  EXPECT_TRUE(Registrar::Create(options).ok());
}

TEST(RegistrarOptionsTest, DefaultInstanceIdIsShortNameAndUuid) {
  RegistrarOptions options = ValidOptions();
  options.instance_id.clear();
  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      Registrar::Create(options);
  ASSERT_TRUE(registrar.ok()) << registrar.status();
  const std::string id = (*registrar)->instance().id;
  EXPECT_THAT(id, MatchesRegex("app-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                               "[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_EQ((*registrar)->key(), "/hwholiday/srv/app/" + id);

  absl::StatusOr<std::unique_ptr<Registrar>> other = Registrar::Create(options);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->instance().id, id);
}

TEST(RegistrarOptionsTest, RejectsBadServiceName) {
  RegistrarOptions options = ValidOptions();
  options.service_name = "";
  EXPECT_THAT(CreateError(options), StartsWith("service_name"));
  options.service_name = "hwholiday/srv.app";
  EXPECT_THAT(CreateError(options), StartsWith("service_name"));
  options.service_name = "hwholiday..app";
  EXPECT_THAT(CreateError(options), StartsWith("service_name"));
}

TEST(RegistrarOptionsTest, RejectsBadInstanceId) {
  RegistrarOptions options = ValidOptions();
  options.instance_id = "a/b";
  EXPECT_THAT(CreateError(options), StartsWith("instance_id"));
}

TEST(RegistrarOptionsTest, RejectsBadAddress) {
  for (const char* address : {"", "10.0.0.1", "10.0.0.1:", "10.0.0.1:0",
                              "10.0.0.1:70000", "10.0.0.1:-1", ":8089"}) {
    RegistrarOptions options = ValidOptions();
    options.address = address;
    EXPECT_THAT(CreateError(options), StartsWith("address"))
        << "address \"" << address << "\"";
  }
}

TEST(RegistrarOptionsTest, RejectsTtlBelowEtcdMinimum) {
  RegistrarOptions options = ValidOptions();
  options.ttl = absl::Seconds(1);
  EXPECT_THAT(CreateError(options), StartsWith("ttl"));
  options.ttl = kMinRegistrationTtl - absl::Milliseconds(1);
  EXPECT_THAT(CreateError(options), StartsWith("ttl"));
}

TEST(RegistrarOptionsTest, RejectsWeightAboveMaximum) {
  RegistrarOptions options = ValidOptions();
  options.weight = kMaxWeight + 1;
  EXPECT_THAT(CreateError(options), StartsWith("weight"));
}

TEST(RegistrarOptionsTest, RejectsReservedOrEmptyMetadataKey) {
  RegistrarOptions options = ValidOptions();
  options.metadata = {{"weight", "5"}};
  EXPECT_THAT(CreateError(options), StartsWith("metadata"));
  options.metadata = {{"", "x"}};
  EXPECT_THAT(CreateError(options), StartsWith("metadata"));
  options.metadata = {{"drained", "true"}};
  EXPECT_THAT(CreateError(options), HasSubstr("\"drained\" is reserved"));
  options.metadata = {{"lane", "a"}};
  EXPECT_THAT(CreateError(options), HasSubstr("\"lane\" is reserved"));
}

TEST(RegistrarOptionsTest, LaneIsValidatedAndWrittenToTheRecord) {
  RegistrarOptions options = ValidOptions();
  for (const char* bad : {"Feature", "a_b", "a.b"}) {
    options.lane = bad;
    EXPECT_THAT(CreateError(options), StartsWith("lane: ")) << bad;
  }
  options.lane = std::string(64, 'a');
  EXPECT_THAT(CreateError(options), StartsWith("lane: "));
  options.lane = "feature-x";
  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      Registrar::Create(options);
  ASSERT_TRUE(registrar.ok()) << registrar.status();
  EXPECT_EQ((*registrar)->instance().lane, "feature-x");
  EXPECT_FALSE((*registrar)->instance().drained);
}

TEST(RegistrarOptionsTest, RejectsNegativeDrainGrace) {
  RegistrarOptions options = ValidOptions();
  options.drain_grace = absl::Seconds(-1);
  EXPECT_THAT(CreateError(options), StartsWith("drain_grace: -1s"));
  options.drain_grace = absl::ZeroDuration();
  EXPECT_TRUE(Registrar::Create(options).ok());
}

TEST(RegistrarOptionsTest, RejectsOversizedRecord) {
  RegistrarOptions options = ValidOptions();
  options.metadata = {{"blob", std::string(kMaxRecordBytes, 'x')}};
  EXPECT_THAT(CreateError(options), StartsWith("metadata"));
}

TEST(RegistrarOptionsTest, RejectsBadVersion) {
  RegistrarOptions options = ValidOptions();
  options.version = "";
  EXPECT_THAT(CreateError(options), StartsWith("version"));
  options.version = "v 1";
  EXPECT_THAT(CreateError(options), StartsWith("version"));
}

// Every registered version must be one a client can ask for exactly;
// otherwise the instance is reachable only through `*` or a fallback.
TEST(RegistrarOptionsTest, RejectsVersionsNoRequestCanName) {
  struct Case {
    const char* version;
    const char* detail;  // from the request parser, or why it cannot match
  };
  const Case cases[] = {
      {"2024.01.15", "numbers cannot have leading zeros"},
      {"1.0.0.1", "unexpected character at '.' (column 6)"},
      {"01", "leading zeros"},
      {"v1.", "expected a number at the end"},
      {"1.2.3-01", "invalid pre-release"},
      {"1.0.0+", "invalid build metadata"},
      {"18446744073709551616", "does not fit in 64 bits"},
      {"_blue", "unexpected character"},
      {"-1", "unexpected character"},
      {"@latest", "unexpected character"},
      {"a|b", "a single '|'"},
      {"1.x.3", "wildcard"},
      {"^1", "does not match it"},
      {">=1.0.0", "does not match it"},
      {"~1.2", "does not match it"},
      {"=1.0.0", "does not match it"},
      {"1.x", "does not match it"},
      {"blue||green", "does not match it"},
      {"*", "matches every version"},
      {"x", "matches every version"},
      {"X.x", "matches every version"},
  };
  for (const Case& c : cases) {
    RegistrarOptions options = ValidOptions();
    options.version = c.version;
    const std::string error = CreateError(options);
    EXPECT_THAT(error, StartsWith(absl::StrCat("version: \"", c.version,
                                               "\" cannot be requested by "
                                               "clients (")))
        << c.version;
    EXPECT_THAT(error, HasSubstr(c.detail)) << c.version;
    EXPECT_THAT(error, EndsWith("); use a semantic version such as 1.0.0 or "
                                "a label such as blue"))
        << c.version;
  }
}

TEST(RegistrarOptionsTest, AcceptsRequestableVersions) {
  for (const std::string& version :
       {std::string("v1"), std::string("V2"), std::string("3"),
        std::string("2.3.1"), std::string("v2.0.0-beta.1"),
        std::string("1.0.0+build.5"), std::string("2024-canary"),
        std::string("18446744073709551615.0.0"), std::string("blue"),
        std::string("canary-2024"), std::string("xray"), std::string("vnext"),
        std::string("release/2024.01.15"), std::string(128, 'a')}) {
    RegistrarOptions options = ValidOptions();
    options.version = version;
    absl::StatusOr<std::unique_ptr<Registrar>> registrar =
        Registrar::Create(options);
    EXPECT_TRUE(registrar.ok()) << version << ": " << registrar.status();
  }
}

TEST(RegistrarOptionsTest, UpdateRejectsVersionsNoRequestCanName) {
  absl::StatusOr<std::unique_ptr<Registrar>> created =
      Registrar::Create(ValidOptions());
  ASSERT_TRUE(created.ok()) << created.status();
  absl::Status status =
      (*created)->Update("1.0.0.1", std::nullopt, std::nullopt);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("version: \"1.0.0.1\" cannot be requested"));
  EXPECT_EQ((*created)->instance().version, "v1");
}

TEST(RegistrarOptionsTest, RejectsBadEtcdSettings) {
  RegistrarOptions options = ValidOptions();
  options.etcd.endpoints = {"127.0.0.1"};
  EXPECT_THAT(CreateError(options), StartsWith("etcd.endpoints"));

  options = ValidOptions();
  options.etcd.request_timeout = absl::ZeroDuration();
  EXPECT_THAT(CreateError(options), StartsWith("etcd.request_timeout"));

  options = ValidOptions();
  options.etcd.username = "root";
  EXPECT_THAT(CreateError(options), StartsWith("etcd.username"));

  options = ValidOptions();
  options.initial_backoff = absl::Seconds(2);
  options.max_backoff = absl::Seconds(1);
  EXPECT_THAT(CreateError(options), StartsWith("initial_backoff"));
}

// Before Start() nothing is written, so Update only validates and stores.
TEST(RegistrarOptionsTest, UpdateValidatesBeforeStart) {
  absl::StatusOr<std::unique_ptr<Registrar>> created =
      Registrar::Create(ValidOptions());
  ASSERT_TRUE(created.ok()) << created.status();
  Registrar& registrar = **created;

  absl::Status status = registrar.Update("", std::nullopt, std::nullopt);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("version"));

  status = registrar.Update(std::nullopt, kMaxWeight + 1, std::nullopt);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("weight"));

  status =
      registrar.Update(std::nullopt, std::nullopt,
                       std::map<std::string, std::string>{{"weight", "1"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("metadata"));
  EXPECT_EQ(registrar.instance().version, "v1");

  ASSERT_TRUE(
      registrar
          .Update("v2", 4, std::map<std::string, std::string>{{"zone", "c"}})
          .ok());
  const ServiceInstance instance = registrar.instance();
  EXPECT_EQ(instance.version, "v2");
  EXPECT_EQ(instance.weight, 4u);
  EXPECT_EQ(instance.metadata,
            (std::map<std::string, std::string>{{"zone", "c"}}));
  EXPECT_FALSE(registrar.registered());
}

}  // namespace
}  // namespace vlb
