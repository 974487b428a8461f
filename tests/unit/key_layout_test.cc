#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vlb/service_instance.h"

namespace vlb {
namespace {

using ::testing::HasSubstr;

TEST(KeyLayoutTest, ServicePathAndPrefix) {
  EXPECT_EQ(ServicePath("hwholiday.srv.app"), "/hwholiday/srv/app");
  EXPECT_EQ(ServicePrefix("hwholiday.srv.app"), "/hwholiday/srv/app/");
  EXPECT_EQ(ServicePath("app"), "/app");
  EXPECT_EQ(ServicePrefix("app"), "/app/");
}

TEST(KeyLayoutTest, PrefixOfOneServiceDoesNotMatchAnother) {
  std::string key = InstanceKey("org.app2", "x");
  EXPECT_NE(key.rfind(ServicePrefix("org.app"), 0), 0u) << key;
}

TEST(KeyLayoutTest, InstanceKey) {
  EXPECT_EQ(InstanceKey("hwholiday.srv.app",
                        "app-beb3cb56-eb61-11eb-858d-2cf05dc7c711"),
            "/hwholiday/srv/app/app-beb3cb56-eb61-11eb-858d-2cf05dc7c711");
  EXPECT_EQ(InstanceKey("a", "1"), "/a/1");
}

TEST(KeyLayoutTest, ServiceShortName) {
  EXPECT_EQ(ServiceShortName("hwholiday.srv.app"), "app");
  EXPECT_EQ(ServiceShortName("app"), "app");
  EXPECT_EQ(ServiceShortName("a.b-c_d"), "b-c_d");
}

TEST(ValidateServiceNameTest, AcceptsDottedNames) {
  EXPECT_TRUE(ValidateServiceName("hwholiday.srv.app").ok());
  EXPECT_TRUE(ValidateServiceName("app").ok());
  EXPECT_TRUE(ValidateServiceName("My_org.srv-2.App9").ok());
  EXPECT_TRUE(ValidateServiceName(std::string(255, 'a')).ok());
}

TEST(ValidateServiceNameTest, RejectsBadNames) {
  for (const char* name :
       {"", ".", "a..b", ".a", "a.", "a/b", "/a", "a b", "a.b*", "ä", "a\nb"}) {
    absl::Status status = ValidateServiceName(name);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << "\"" << name << "\"";
  }
  EXPECT_THAT(ValidateServiceName("").message(), HasSubstr("empty"));
  EXPECT_THAT(ValidateServiceName("a..b").message(), HasSubstr("empty part"));
  EXPECT_THAT(ValidateServiceName("a/b").message(), HasSubstr("\"/\""));
  EXPECT_EQ(ValidateServiceName(std::string(256, 'a')).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateInstanceIdTest, AcceptsIds) {
  EXPECT_TRUE(ValidateInstanceId("app-1").ok());
  EXPECT_TRUE(
      ValidateInstanceId("app-beb3cb56-eb61-11eb-858d-2cf05dc7c711").ok());
  EXPECT_TRUE(ValidateInstanceId("host:8080 #2").ok());
  EXPECT_TRUE(ValidateInstanceId(std::string(255, 'x')).ok());
}

TEST(ValidateInstanceIdTest, RejectsBadIds) {
  EXPECT_THAT(ValidateInstanceId("").message(), HasSubstr("empty"));
  EXPECT_THAT(ValidateInstanceId("a/b").message(), HasSubstr("'/'"));
  EXPECT_THAT(ValidateInstanceId("a\tb").message(),
              HasSubstr("control character"));
  EXPECT_EQ(ValidateInstanceId(std::string("a\0b", 3)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateInstanceId("a\x7f").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateInstanceId(std::string(256, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateAddressTest, AcceptsHostPort) {
  for (const char* address :
       {"10.0.0.1:8089", "172.12.12.188:8089", "localhost:1",
        "my-host.example.com:65535", "svc_name:50051", "[::1]:8080",
        "[2001:db8::1]:443", "[fe80::1%eth0]:80", "example.com.:80"}) {
    EXPECT_TRUE(ValidateAddress(address).ok())
        << address << ": " << ValidateAddress(address);
  }
}

TEST(ValidateAddressTest, RejectsBadPorts) {
  for (const char* address :
       {"10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:99999999999",
        "10.0.0.1:", "10.0.0.1", "host:-1", "host:+80", "host:80a", "host: 80",
        "[::1]", "[::1]:"}) {
    absl::Status status = ValidateAddress(address);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(status.message(), HasSubstr("port")) << address;
  }
}

TEST(ValidateAddressTest, RejectsBadHosts) {
  for (const char* address :
       {"", ":80", "::1:80", "[::1:80", "[zz::1]:80", "[1.2.3.4]:80",
        "10.0.0.256:80", "1.2.3:80", "-host:80", "host-:80", "a..b:80",
        "a b:80", "host/x:80", "http://host:80"}) {
    EXPECT_EQ(ValidateAddress(address).code(),
              absl::StatusCode::kInvalidArgument)
        << address;
  }
  EXPECT_THAT(ValidateAddress("::1:80").message(), HasSubstr("brackets"));
  EXPECT_THAT(ValidateAddress("[::1]").message(), HasSubstr("\"[::1]\""));
}

}  // namespace
}  // namespace vlb
