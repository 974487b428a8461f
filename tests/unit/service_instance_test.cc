#include "vlb/service_instance.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Verbatim from the seed document (the Go implementation's records).
constexpr char kSeedRecordV1[] = R"({
    "node": {
        "name": "app",
        "path": "/hwholiday/srv/app",
        "id": "app-beb3cb56-eb61-11eb-858d-2cf05dc7c711",
        "version": "v1",
        "address": "172.12.12.188:8089"
    }
})";

ServiceInstance SampleInstance() {
  ServiceInstance instance;
  instance.name = "app";
  instance.path = "/hwholiday/srv/app";
  instance.id = "app-1";
  instance.version = "v1";
  instance.address = "127.0.0.1:8089";
  instance.weight = 7;
  instance.metadata = {{"zone", "eu-1"}, {"canary", "true"}};
  return instance;
}

// Decodes `json` and expects InvalidArgument whose message contains `text`.
void ExpectRejected(const std::string& json, const std::string& text) {
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(json);
  const std::string shown = json.substr(0, 200);
  ASSERT_FALSE(decoded.ok()) << "accepted: " << shown;
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(text))
      << shown;
}

std::string RecordWithNode(const std::string& node_fields) {
  return absl::StrCat(R"({"node":{)", node_fields, "}}");
}

std::string RecordWithMetadata(const std::string& metadata_fields) {
  return absl::StrCat(
      R"({"node":{"version":"v1","address":"h:1"},"metadata":{)",
      metadata_fields, "}}");
}

TEST(DecodeServiceRecordTest, DecodesSeedRecord) {
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(kSeedRecordV1);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->name, "app");
  EXPECT_EQ(decoded->path, "/hwholiday/srv/app");
  EXPECT_EQ(decoded->id, "app-beb3cb56-eb61-11eb-858d-2cf05dc7c711");
  EXPECT_EQ(decoded->version, "v1");
  EXPECT_EQ(decoded->address, "172.12.12.188:8089");
  EXPECT_EQ(decoded->weight, kDefaultWeight);
  EXPECT_THAT(decoded->metadata, IsEmpty());
  EXPECT_EQ(decoded->unknown_fields_json, "");
}

TEST(DecodeServiceRecordTest, DecodesWeightAndMetadata) {
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(
      R"({"node":{"name":"app","path":"/hwholiday/srv/app","id":"app-1",)"
      R"("version":"v2","address":"[::1]:8088"},)"
      R"("metadata":{"weight":"250","zone":"eu-1","empty":""}})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->version, "v2");
  EXPECT_EQ(decoded->address, "[::1]:8088");
  EXPECT_EQ(decoded->weight, 250u);
  EXPECT_EQ(decoded->metadata, (std::map<std::string, std::string>{
                                   {"zone", "eu-1"}, {"empty", ""}}));
}

TEST(EncodeServiceRecordTest, ProducesCompactSeedFormat) {
  ServiceInstance instance = SampleInstance();
  EXPECT_EQ(EncodeServiceRecord(instance),
            R"({"node":{"name":"app","path":"/hwholiday/srv/app",)"
            R"("id":"app-1","version":"v1","address":"127.0.0.1:8089"},)"
            R"("metadata":{"weight":"7","canary":"true","zone":"eu-1"}})");
}

TEST(EncodeServiceRecordTest, WeightFieldWinsOverMetadataEntry) {
  ServiceInstance instance = SampleInstance();
  instance.metadata["weight"] = "99";
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(EncodeServiceRecord(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->weight, 7u);
  EXPECT_EQ(decoded->metadata.count("weight"), 0u);
}

TEST(ServiceRecordTest, RoundTrips) {
  ServiceInstance instance = SampleInstance();
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(EncodeServiceRecord(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, instance);

  // And the seed record survives decode + encode + decode.
  absl::StatusOr<ServiceInstance> seed = DecodeServiceRecord(kSeedRecordV1);
  ASSERT_TRUE(seed.ok());
  absl::StatusOr<ServiceInstance> again =
      DecodeServiceRecord(EncodeServiceRecord(*seed));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *seed);
}

TEST(ServiceRecordTest, RoundTripsUnusualStrings) {
  ServiceInstance instance = SampleInstance();
  instance.version = "2.3.1-rc.1+build\"7\"\\";
  instance.metadata = {{"k\"ey", "line\nbreak"}, {"utf8", "h\xC3\xA9"}};
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(EncodeServiceRecord(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, instance);
}

TEST(EncodeServiceRecordTest, InvalidUtf8DoesNotThrow) {
  ServiceInstance instance = SampleInstance();
  instance.metadata = {{"bad", "\xFF\xFE"}};
  std::string encoded = EncodeServiceRecord(instance);
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->metadata.at("bad"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(DecodeServiceRecordTest, NamePathAndIdMayBeMissing) {
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(RecordWithNode(R"("version":"v1","address":"h:1")"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->name, "");
  EXPECT_EQ(decoded->path, "");
  EXPECT_EQ(decoded->id, "");
  EXPECT_EQ(decoded->version, "v1");
  EXPECT_EQ(decoded->address, "h:1");
}

TEST(DecodeServiceRecordTest, VersionAndAddressAreRequired) {
  ExpectRejected(RecordWithNode(R"("address":"h:1")"),
                 "node.version is missing");
  ExpectRejected(RecordWithNode(R"("version":"","address":"h:1")"),
                 "node.version is empty");
  ExpectRejected(RecordWithNode(R"("version":"v1")"),
                 "node.address is missing");
  ExpectRejected(R"({"metadata":{}})", "node is missing");
  ExpectRejected(R"({"node":null})", "node: expected an object, got null");
}

TEST(DecodeServiceRecordTest, ValidatesAddress) {
  ExpectRejected(RecordWithNode(R"("version":"v1","address":"")"),
                 "node.address: address \"\"");
  ExpectRejected(RecordWithNode(R"("version":"v1","address":"127.0.0.1")"),
                 "node.address: address \"127.0.0.1\" has no port");
  ExpectRejected(RecordWithNode(R"("version":"v1","address":"h:0")"),
                 "node.address");
}

TEST(DecodeServiceRecordTest, RejectsWrongTypesNamingTheField) {
  ExpectRejected(RecordWithNode(R"("version":1,"address":"h:1")"),
                 "node.version: expected a string, got number 1");
  ExpectRejected(RecordWithNode(R"("version":"v1","address":["h:1"])"),
                 "node.address: expected a string, got array");
  ExpectRejected(
      RecordWithNode(R"("name":null,"version":"v1","address":"h:1")"),
      "node.name: expected a string, got null");
  ExpectRejected(RecordWithNode(R"("path":{},"version":"v1","address":"h:1")"),
                 "node.path: expected a string, got object");
  ExpectRejected(RecordWithNode(R"("id":true,"version":"v1","address":"h:1")"),
                 "node.id: expected a string, got boolean");
  ExpectRejected(R"({"node":"app"})", "node: expected an object, got string");
  ExpectRejected(R"({"node":{"version":"v1","address":"h:1"},"metadata":[]})",
                 "metadata: expected an object, got array");
}

TEST(DecodeServiceRecordTest, RejectsNonStringMetadataValues) {
  ExpectRejected(RecordWithMetadata(R"("zone":1)"),
                 "metadata.zone: expected a string, got number 1");
  ExpectRejected(RecordWithMetadata(R"("a":"x","flag":true)"),
                 "metadata.flag: expected a string, got boolean true");
  ExpectRejected(RecordWithMetadata(R"("nested":{"x":"y"})"),
                 "metadata.nested: expected a string, got object");
  ExpectRejected(RecordWithMetadata(R"("n":null)"),
                 "metadata.n: expected a string, got null");
}

TEST(DecodeServiceRecordTest, NullMetadataIsAbsent) {
  // Go's encoding/json writes a nil map as null.
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(
      R"({"node":{"version":"v1","address":"h:1"},"metadata":null})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->weight, kDefaultWeight);
  EXPECT_THAT(decoded->metadata, IsEmpty());
  EXPECT_EQ(decoded->unknown_fields_json, "");
}

TEST(DecodeServiceRecordTest, WeightBounds) {
  struct Case {
    const char* json_value;
    uint32_t weight;
  };
  for (const Case& c : {Case{R"("0")", 0}, Case{R"("1")", 1},
                        Case{R"("10000")", 10000}, Case{R"("007")", 7},
                        Case{"0", 0}, Case{"10000", 10000}, Case{"42", 42}}) {
    absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(
        RecordWithMetadata(absl::StrCat(R"("weight":)", c.json_value)));
    ASSERT_TRUE(decoded.ok()) << c.json_value << ": " << decoded.status();
    EXPECT_EQ(decoded->weight, c.weight) << c.json_value;
  }
}

TEST(DecodeServiceRecordTest, RejectsBadWeights) {
  for (const char* value :
       {R"("10001")", R"("-1")", R"("+5")", R"(" 5")", R"("5 ")", R"("")",
        R"("x")", R"("1.5")", R"("1e3")", R"("99999999999999999999")", "10001",
        "-1", "1.5"}) {
    ExpectRejected(RecordWithMetadata(absl::StrCat(R"("weight":)", value)),
                   absl::StrCat("metadata.weight: ", value,
                                " is not an integer in [0, 10000]"));
  }
  // Floats, even integral ones, are rejected rather than truncated.
  for (const char* value : {"1.0", "1e3", "18446744073709551616"}) {
    ExpectRejected(RecordWithMetadata(absl::StrCat(R"("weight":)", value)),
                   " is not an integer in [0, 10000]");
  }
  ExpectRejected(RecordWithMetadata(R"("weight":true)"),
                 "metadata.weight: expected a string, got boolean");
  ExpectRejected(RecordWithMetadata(R"("weight":null)"),
                 "metadata.weight: expected a string, got null");
}

TEST(DecodeServiceRecordTest, PreservesUnknownFieldsAtBothLevels) {
  const std::string record =
      R"({"node":{"name":"app","path":"/p","id":"i","version":"v1",)"
      R"("address":"h:1","region":"eu","tags":["a","b"]},)"
      R"("metadata":{"weight":"3"},"endpoints":{"grpc":1},"ttl":10})";
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(record);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(
      decoded->unknown_fields_json,
      R"({"endpoints":{"grpc":1},"node":{"region":"eu","tags":["a","b"]},)"
      R"("ttl":10})");

  std::string encoded = EncodeServiceRecord(*decoded);
  EXPECT_EQ(encoded,
            R"({"node":{"name":"app","path":"/p","id":"i","version":"v1",)"
            R"("address":"h:1","region":"eu","tags":["a","b"]},)"
            R"("metadata":{"weight":"3"},"endpoints":{"grpc":1},"ttl":10})");
  absl::StatusOr<ServiceInstance> again = DecodeServiceRecord(encoded);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *decoded);
}

TEST(EncodeServiceRecordTest, KnownFieldsWinOverUnknownOnes) {
  ServiceInstance instance = SampleInstance();
  instance.unknown_fields_json =
      R"({"node":{"version":"v9","extra":1},"metadata":{"weight":"5"},)"
      R"("x":2})";
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(EncodeServiceRecord(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->version, "v1");
  EXPECT_EQ(decoded->weight, 7u);
  EXPECT_EQ(decoded->unknown_fields_json, R"({"node":{"extra":1},"x":2})");
}

TEST(EncodeServiceRecordTest, IgnoresMalformedUnknownFields) {
  ServiceInstance instance = SampleInstance();
  for (const char* unknown : {"not json", "[1,2]", R"({"node":"x"})"}) {
    instance.unknown_fields_json = unknown;
    absl::StatusOr<ServiceInstance> decoded =
        DecodeServiceRecord(EncodeServiceRecord(instance));
    ASSERT_TRUE(decoded.ok()) << unknown << ": " << decoded.status();
    EXPECT_EQ(decoded->unknown_fields_json, "") << unknown;
  }
}

TEST(DecodeServiceRecordTest, RejectsRecordsOverTheSizeLimit) {
  const std::string huge_value(kMaxRecordBytes, 'x');
  ExpectRejected(
      RecordWithMetadata(absl::StrCat(R"("big":")", huge_value, R"(")")),
      "bytes; the limit is 65536");
  // Exactly at the limit is fine.
  std::string prefix = R"({"node":{"version":"v1","address":"h:1"},"x":")";
  std::string at_limit = absl::StrCat(
      prefix, std::string(kMaxRecordBytes - prefix.size() - 2, 'y'), "\"}");
  ASSERT_EQ(at_limit.size(), kMaxRecordBytes);
  EXPECT_TRUE(DecodeServiceRecord(at_limit).ok());
  ExpectRejected(at_limit + " ", "record is 65537 bytes");
}

TEST(DecodeServiceRecordTest, RejectsBadJson) {
  ExpectRejected("", "record is empty");
  ExpectRejected("{", "record is not valid JSON");
  ExpectRejected(R"({"node":{"version":"v1","address":"h:1"}} trailing)",
                 "record is not valid JSON");
  ExpectRejected(R"({"node":{"version":"v1","address":"h:1",}})",
                 "record is not valid JSON");
  ExpectRejected("{\"node\":{\"version\":\"\xFF\",\"address\":\"h:1\"}}",
                 "record is not valid JSON");
  ExpectRejected(std::string(40000, '['),
                 "record nests arrays or objects deeper than 64 levels");
}

TEST(DecodeServiceRecordTest, RejectsNonObjects) {
  ExpectRejected("[]", "record: expected a JSON object, got array");
  ExpectRejected("\"node\"", "record: expected a JSON object, got string");
  ExpectRejected("null", "record: expected a JSON object, got null");
  ExpectRejected("42", "record: expected a JSON object, got number");
}

// --- drained and lane (operator-facing entries with typed fields) ---------

TEST(DecodeServiceRecordTest, DecodesDrainedAndLane) {
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(
      RecordWithMetadata(R"("drained":"true","lane":"feature-x","zone":"a")"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->drained);
  EXPECT_EQ(decoded->lane, "feature-x");
  EXPECT_EQ(decoded->metadata,
            (std::map<std::string, std::string>{{"zone", "a"}}));

  decoded = DecodeServiceRecord(RecordWithMetadata(R"("drained":"false")"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(decoded->drained);
  EXPECT_THAT(decoded->metadata, IsEmpty());

  decoded = DecodeServiceRecord(kSeedRecordV1);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(decoded->drained);
  EXPECT_EQ(decoded->lane, "");
}

TEST(DecodeServiceRecordTest, RejectsBadDrainedNamingTheField) {
  for (const char* value : {R"("yes")", R"("TRUE")", R"("")", R"("1")"}) {
    ExpectRejected(RecordWithMetadata(absl::StrCat(R"("drained":)", value)),
                   "metadata.drained: ");
  }
  ExpectRejected(RecordWithMetadata(R"("drained":true)"),
                 "metadata.drained: expected a string, got boolean");
}

TEST(DecodeServiceRecordTest, RejectsBadLaneNamingTheField) {
  for (const std::string& lane :
       {std::string(""), std::string("Feature"), std::string("a_b"),
        std::string("a b"), std::string(64, 'a'), std::string("\u00e9")}) {
    ExpectRejected(RecordWithMetadata(absl::StrCat(R"("lane":")", lane, "\"")),
                   "metadata.lane: ");
  }
  ExpectRejected(RecordWithMetadata(R"("lane":7)"),
                 "metadata.lane: expected a string, got number");
  EXPECT_TRUE(
      DecodeServiceRecord(RecordWithMetadata(absl::StrCat(
                              R"("lane":")", std::string(63, 'z'), "\"")))
          .ok());
}

TEST(ValidateLaneTest, AcceptsOnlyShortLowerCaseNames) {
  EXPECT_TRUE(ValidateLane("a").ok());
  EXPECT_TRUE(ValidateLane("feature-x-2").ok());
  EXPECT_FALSE(ValidateLane("").ok());
  EXPECT_FALSE(ValidateLane("X").ok());
  EXPECT_FALSE(ValidateLane("a.b").ok());
  EXPECT_FALSE(ValidateLane(std::string(64, 'a')).ok());
}

TEST(EncodeServiceRecordTest, WritesDrainedAndLaneOnlyWhenSet) {
  ServiceInstance instance = SampleInstance();
  const std::string plain = EncodeServiceRecord(instance);
  EXPECT_THAT(plain, ::testing::Not(HasSubstr("drained")));
  EXPECT_THAT(plain, ::testing::Not(HasSubstr("lane")));

  instance.drained = true;
  instance.lane = "feature-x";
  EXPECT_EQ(EncodeServiceRecord(instance),
            R"({"node":{"name":"app","path":"/hwholiday/srv/app",)"
            R"("id":"app-1","version":"v1","address":"127.0.0.1:8089"},)"
            R"("metadata":{"weight":"7","drained":"true","lane":"feature-x",)"
            R"("canary":"true","zone":"eu-1"}})");
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(EncodeServiceRecord(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, instance);
}

TEST(EncodeServiceRecordTest, TypedFieldsWinOverMetadataEntries) {
  ServiceInstance instance = SampleInstance();
  instance.metadata["drained"] = "true";
  instance.metadata["lane"] = "NOT A LANE";
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(EncodeServiceRecord(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(decoded->drained);
  EXPECT_EQ(decoded->lane, "");
  EXPECT_EQ(decoded->metadata.count("drained"), 0u);
}

}  // namespace
}  // namespace vlb
