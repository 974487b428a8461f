#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vlb/etcd_options.h"

namespace vlb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ParseEndpointListTest, SplitsOnCommasAndIgnoresSpaces) {
  EXPECT_THAT(ParseEndpointList("a:2379, b:2379"),
              ElementsAre("a:2379", "b:2379"));
  EXPECT_THAT(ParseEndpointList(" a:1 ,\tb:2\n"), ElementsAre("a:1", "b:2"));
}

TEST(ParseEndpointListTest, SingleEndpoint) {
  EXPECT_THAT(ParseEndpointList("127.0.0.1:2379"),
              ElementsAre("127.0.0.1:2379"));
}

TEST(ParseEndpointListTest, StripsSchemesAndTrailingSlashes) {
  EXPECT_THAT(ParseEndpointList("http://a:2379,https://b:2379/,HTTP://c:1//"),
              ElementsAre("a:2379", "b:2379", "c:1"));
}

TEST(ParseEndpointListTest, DropsEmptyEntries) {
  EXPECT_THAT(ParseEndpointList(",a:1,, ,b:2,"), ElementsAre("a:1", "b:2"));
  EXPECT_THAT(ParseEndpointList("http://,/"), IsEmpty());
}

TEST(ParseEndpointListTest, EmptyInput) {
  EXPECT_THAT(ParseEndpointList(""), IsEmpty());
  EXPECT_THAT(ParseEndpointList("   "), IsEmpty());
}

TEST(ParseEndpointListTest, KeepsIpv6AndOrder) {
  EXPECT_THAT(ParseEndpointList("http://[::1]:2379,z:1,a:1"),
              ElementsAre("[::1]:2379", "z:1", "a:1"));
}

TEST(EndpointListUsesHttpsTest, AnyHttpsEntryCounts) {
  EXPECT_TRUE(EndpointListUsesHttps("https://a:1"));
  EXPECT_TRUE(EndpointListUsesHttps("a:1, HTTPS://b:2"));
  EXPECT_TRUE(EndpointListUsesHttps(" \thttps://a:1"));
  EXPECT_FALSE(EndpointListUsesHttps("http://a:1,b:2"));
  EXPECT_FALSE(EndpointListUsesHttps("a:1"));
  EXPECT_FALSE(EndpointListUsesHttps(""));
}

}  // namespace
}  // namespace vlb
