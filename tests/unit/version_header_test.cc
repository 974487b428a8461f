#include "balancer/version_header.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "balancer/lane_value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::HasSubstr;

// The error message, or "OK" so that a wrongly accepted input shows up as a
// readable mismatch.
std::string NameError(absl::string_view name) {
  absl::StatusOr<std::string> normalized = NormalizeVersionHeaderName(name);
  if (normalized.ok()) return "OK";
  EXPECT_EQ(normalized.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(normalized.status().message());
}

std::string ValueError(absl::string_view value) {
  absl::Status status = ValidateVersionHeaderValue(value);
  if (status.ok()) return "OK";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST(VersionHeaderNameTest, AcceptsTokensAndLowersThem) {
  for (absl::string_view name : {"x-version", "app.version_2", "v", "0"}) {
    absl::StatusOr<std::string> normalized = NormalizeVersionHeaderName(name);
    ASSERT_TRUE(normalized.ok()) << name << ": " << normalized.status();
    EXPECT_EQ(*normalized, name);
  }
  absl::StatusOr<std::string> upper = NormalizeVersionHeaderName("X-Version");
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(*upper, "x-version");
  // Only as a prefix or suffix do these mean something to gRPC.
  EXPECT_EQ(NameError("x-grpc-version"), "OK");
  EXPECT_EQ(NameError("x-bin-version"), "OK");
  EXPECT_EQ(NameError("tee"), "OK");
}

TEST(VersionHeaderNameTest, RefusesWhatGrpcRefusesOrOwns) {
  EXPECT_EQ(NameError(""), "must not be empty");
  EXPECT_EQ(NameError("Bad Header"),
            "\"Bad Header\" is not a valid header name (allowed: 0-9 a-z - _ "
            ".; found ' ')");
  EXPECT_THAT(NameError("x\nversion"), HasSubstr("found '\\n'"));
  EXPECT_THAT(NameError("x-v\xc3\xa9rsion"),
              HasSubstr("\"x-v\\xc3\\xa9rsion\" is not a valid header name"));
  EXPECT_THAT(NameError("x/v"), HasSubstr("found '/'"));
  EXPECT_THAT(NameError(std::string("x\0v", 3)), HasSubstr("found '\\x00'"));
  EXPECT_EQ(NameError(":path"),
            "\":path\" is a pseudo-header, which calls cannot set");
  EXPECT_EQ(NameError("GRPC-Version"),
            "\"GRPC-Version\" is reserved by gRPC (grpc- prefix)");
  EXPECT_EQ(NameError("x-version-bin"),
            "\"x-version-bin\" names binary metadata (-bin suffix); routing "
            "headers are text");
  for (absl::string_view reserved :
       {"te", "content-type", "Content-Length", "host", "user-agent",
        "connection", "transfer-encoding", "lb-token"}) {
    EXPECT_THAT(NameError(reserved),
                HasSubstr("is a header that gRPC or HTTP/2 reserves"))
        << reserved;
  }
}

TEST(VersionHeaderValueTest, AcceptsPrintableAscii) {
  for (absl::string_view value :
       {"v1", "^1.4", ">=1.2 <2", "^1.2 || ^2", "*", "blue", "~!@#$%^&*()_+"}) {
    EXPECT_EQ(ValueError(value), "OK") << value;
  }
  EXPECT_EQ(ValueError(std::string(256, '1')), "OK");
  // Trimmed as the parser does, so padding does not count.
  EXPECT_EQ(ValueError("  " + std::string(256, '1') + "  "), "OK");
}

TEST(VersionHeaderValueTest, RefusesWhatCannotBeSent) {
  EXPECT_EQ(ValueError("\n"),
            "\"\\n\" cannot be sent as metadata: byte 0x0a at offset 0 is not "
            "printable ASCII (allowed: 0x20-0x7e)");
  EXPECT_EQ(ValueError("v1\xc3\xa9"),
            "\"v1\\xc3\\xa9\" cannot be sent as metadata: byte 0xc3 at offset "
            "2 is not printable ASCII (allowed: 0x20-0x7e)");
  EXPECT_THAT(ValueError("\x01"), HasSubstr("byte 0x01 at offset 0"));
  EXPECT_THAT(ValueError("v1\x7f"), HasSubstr("byte 0x7f at offset 2"));
  EXPECT_THAT(ValueError("v1\r\n"), HasSubstr("byte 0x0d at offset 2"));
  EXPECT_THAT(ValueError(std::string("v1\0", 3)),
              HasSubstr("byte 0x00 at offset 2"));
  EXPECT_THAT(ValueError("v1\t"), HasSubstr("byte 0x09 at offset 2"));
}

TEST(VersionHeaderValueTest, RefusesEmptyAndOversized) {
  EXPECT_EQ(ValueError(""), "must not be empty");
  EXPECT_EQ(ValueError("   "), "\"   \" is blank");
  const std::string huge(1 << 20, '1');
  const std::string error = ValueError(huge);
  EXPECT_THAT(error, HasSubstr("is 1048576 bytes long; a version request has "
                               "at most 256"));
  // The message quotes an excerpt, not the whole value.
  EXPECT_LT(error.size(), 200u);
  EXPECT_THAT(ValueError(std::string(257, '1')), HasSubstr("257 bytes long"));
}

// The lane header's value as gRPC hands it to the picker: repeated
// entries joined with ',', spaces kept.
std::string Lane(absl::string_view value) {
  absl::string_view lane = "unchanged";
  if (!ParseLaneValue(value, &lane)) return "<several>";
  return std::string(lane);
}

TEST(ParseLaneValueTest, OneLaneHoweverItArrives) {
  EXPECT_EQ(Lane("feature-x"), "feature-x");
  EXPECT_EQ(Lane("  feature-x\t"), "feature-x");
  EXPECT_EQ(Lane("feature-x,feature-x"), "feature-x");
  EXPECT_EQ(Lane("feature-x, feature-x ,feature-x"), "feature-x");
  EXPECT_EQ(Lane("feature-x,,"), "feature-x");
  EXPECT_EQ(Lane(",feature-x"), "feature-x");
}

TEST(ParseLaneValueTest, BlankIsNoLane) {
  EXPECT_EQ(Lane(""), "");
  EXPECT_EQ(Lane("   "), "");
  EXPECT_EQ(Lane(" , ,"), "");
}

TEST(ParseLaneValueTest, DifferentLanesAreRefused) {
  EXPECT_EQ(Lane("feature-x,feature-y"), "<several>");
  EXPECT_EQ(Lane("feature-x, feature-x, beta"), "<several>");
  EXPECT_EQ(Lane("a,A"), "<several>");  // lanes are case-sensitive
}

}  // namespace
}  // namespace vlb::internal
