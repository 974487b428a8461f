// Fuzz-style tests of the record codec (vlb/service_instance.h): random
// bytes and mutations of valid records (bit flips, truncations, JSON
// punctuation, deep nesting, huge numbers, invalid UTF-8), checked against
// properties that hold for every input: no crash or sanitizer report, an
// InvalidArgument error or a valid instance, and a lossless round trip
// through EncodeServiceRecord. The seed is fixed so that CI runs are
// reproducible; set VLB_FUZZ_SEED to explore others (the seed in use is
// printed, and every failure names it).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzz_test_base.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "vlb/service_instance.h"

namespace vlb {
namespace {

using Json = nlohmann::json;

// Inputs per test: modest, so that each test stays well under a second
// under ASan even with records of tens of KiB.
constexpr int kIterations = 500;
// Decoding is linear in the record (at most 64 KiB), so anything near this
// is a hang, not noise; a slow input is re-run before it counts as one.
constexpr std::chrono::milliseconds kMaxTimePerInput(200);
// Deep enough to pass the decoder's nesting limit (64 levels).
constexpr size_t kSafeDepth = 1000;
constexpr size_t kMaxNesting = 64;

// A record excerpt for failure messages: records can be 64 KiB.
std::string Shown(absl::string_view record) {
  constexpr size_t kMaxShown = 300;
  std::string out = absl::CHexEscape(record.substr(0, kMaxShown));
  if (record.size() > kMaxShown) {
    absl::StrAppend(&out, "... (", record.size(), " bytes)");
  }
  return out;
}

class RecordFuzzTest : public vlb::testing::FuzzTest {
 protected:
  std::string RandomText();
  Json RandomValue(int depth);
  std::string ValidRecord();
  std::string Mutate(std::string record);
  std::string AnyInput();
};

// Strings a writer could put in a field: ASCII, JSON escapes' targets
// (quotes, backslashes, control characters), multi-byte UTF-8.
std::string RecordFuzzTest::RandomText() {
  static constexpr absl::string_view kNul("\0", 1);
  static constexpr absl::string_view kPieces[] = {
      // ASCII and what JSON must escape.
      "a", "Z", "0", "9", "-", ".", ":", "/", " ", "\"", "\\", "\n", "\x1f",
      "\x7f", kNul,
      // Multi-byte UTF-8; words of the record format.
      "é", "東京", "😀", "weight", "node", "{}", "[", "v1"};
  std::string out;
  const size_t pieces = OneIn(10) ? Below(200) : Below(8);
  for (size_t i = 0; i < pieces; ++i) absl::StrAppend(&out, PickOne(kPieces));
  return out;
}

// A JSON value of any type, nested at most `depth` levels.
Json RecordFuzzTest::RandomValue(int depth) {
  switch (Below(depth > 0 ? 9 : 7)) {
    case 0:
      return nullptr;
    case 1:
      return OneIn(2);
    case 2:
      return static_cast<int64_t>(rng()());
    case 3:
      return static_cast<uint64_t>(rng()());
    case 4:
      return PickOne({-0.0, 1.5, 1e308, -2.2250738585072014e-308, 0.1});
    case 5:
    case 6:
      return RandomText();
    case 7: {
      Json array = Json::array();
      for (size_t i = Below(4); i > 0; --i) {
        array.push_back(RandomValue(depth - 1));
      }
      return array;
    }
    default: {
      Json object = Json::object();
      for (size_t i = Below(4); i > 0; --i) {
        object[RandomText()] = RandomValue(depth - 1);
      }
      return object;
    }
  }
}

// A record DecodeServiceRecord accepts, with random optional parts.
std::string RecordFuzzTest::ValidRecord() {
  Json node = Json::object();
  for (const char* field : {"name", "path", "id"}) {
    if (!OneIn(4)) node[field] = RandomText();
  }
  if (OneIn(3)) node[RandomText()] = RandomValue(3);
  node["version"] = PickOne({"v1", "2.3.1", "blue", "2024.01.15", "é"});
  node["address"] = PickOne({"127.0.0.1:8089", "[::1]:8088", "localhost:443",
                             "h:1", "127.12.12.188:65535"});
  Json root = Json::object();
  if (const std::string key = RandomText();
      OneIn(3) && key != "node" && key != "metadata") {
    root[key] = RandomValue(3);
  }
  root["node"] = node;
  if (OneIn(4)) {
    root["metadata"] = nullptr;
  } else if (!OneIn(4)) {
    Json metadata = Json::object();
    for (size_t i = Below(4); i > 0; --i) metadata[RandomText()] = RandomText();
    metadata.erase("weight");  // a random text may have spelt it
    if (OneIn(2)) {
      const size_t weight = Below(kMaxWeight + 1);
      metadata["weight"] =
          OneIn(2) ? Json(std::to_string(weight)) : Json(weight);
    }
    if (OneIn(3)) metadata["drained"] = OneIn(2) ? "true" : "false";
    if (OneIn(3)) metadata["lane"] = PickOne({"a", "feature-x", "0-9"});
    root["metadata"] = metadata;
  }
  return root.dump(OneIn(3) ? 2 : -1, ' ', /*ensure_ascii=*/OneIn(2));
}

// Text spliced into records.
constexpr absl::string_view kSplices[] = {
    // JSON punctuation and literals.
    "{", "}", "[", "]", "\"", ":", ",", "\\", " ", "\t", "\n", "null", "true",
    "false", "{}", "[]", "0", "-", "+", ".", "e", "E",
    // Numbers beyond every integer type and double.
    "-0", "1e999", "-1e999", "1.5", "18446744073709551616",
    "123456789012345678901234567890", "4294967296", "-1", "10001",
    // Escapes of lone surrogates and NUL; an invalid escape.
    "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\\u0000\"", "\"\\uZZZZ\"",
    // Not UTF-8: overlong, surrogate, past U+10FFFF, truncated; a BOM.
    "\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
    "\xef\xbb\xbf",
    // Fragments of the record's own fields.
    "\"weight\":", "\"node\":", "\"metadata\":", "\"version\":\"\"",
    "\"address\":\"h:0\"", "\"address\":\"[fe80::1%eth0]:1\""};

std::string RecordFuzzTest::Mutate(std::string record) {
  const size_t rounds = 1 + Below(4);
  for (size_t r = 0; r < rounds; ++r) {
    const size_t at = Below(record.size() + 1);
    const bool inside = at < record.size();
    switch (Below(7)) {
      case 0:
        if (inside) {
          record[at] = static_cast<char>(record[at] ^ (1 << Below(8)));
        }
        break;
      case 1:
        if (inside) record[at] = static_cast<char>(Below(256));
        break;
      case 2:
        record.resize(at);  // truncation
        break;
      case 3:
        if (inside) record.erase(at, 1 + Below(8));
        break;
      case 4:
        record.insert(at, record.substr(Below(record.size() + 1), Below(16)));
        break;
      default: {
        const absl::string_view splice = PickOne(kSplices);
        record.insert(at, splice.data(), splice.size());
        break;
      }
    }
  }
  return record;
}

// Nesting far deeper than any record needs, in the places a decoder
// recurses: unknown fields (copied and dumped), metadata, node fields.
std::string DeepRecord(size_t depth, bool closed, size_t where) {
  std::string open;
  std::string close;
  for (size_t i = 0; i < depth; ++i) {
    open += i % 2 == 0 ? "[" : "{\"a\":";
    close += i % 2 == 0 ? "]" : "}";
  }
  std::reverse(close.begin(), close.end());
  if (!closed) close.clear();
  std::string deep = absl::StrCat(open, "0", close);
  const std::string node = R"("version":"v1","address":"h:1")";
  switch (where) {
    case 0:
      return absl::StrCat(R"({"x":)", deep, R"(,"node":{)", node, "}}");
    case 1:
      return absl::StrCat(R"({"node":{"x":)", deep, ",", node, "}}");
    case 2:
      return absl::StrCat(R"({"node":{)", node, R"(},"metadata":{"k":)", deep,
                          "}}");
    default:
      return deep;
  }
}

std::string RecordFuzzTest::AnyInput() {
  switch (Below(10)) {
    case 0: {
      std::string bytes(Below(64), '\0');
      for (char& c : bytes) c = static_cast<char>(Below(256));
      return bytes;
    }
    case 1:
      return ValidRecord();
    case 2:
      return DeepRecord(1 + Below(kSafeDepth), !OneIn(4), Below(4));
    default:
      return Mutate(ValidRecord());
  }
}

// Runs `body` and fails if it took too long, re-running a slow input twice
// so that a descheduled process is not mistaken for a slow decoder.
template <typename Body>
void ExpectFast(absl::string_view input, Body body) {
  auto best = std::chrono::steady_clock::duration::max();
  for (int attempt = 0; attempt < 3 && best > kMaxTimePerInput; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::steady_clock::now() - start);
  }
  EXPECT_LE(best, kMaxTimePerInput) << "slow input \"" << Shown(input) << "\"";
}

// What every decoded instance satisfies, and the round trip: encoding it
// and decoding the result gives it back, and encoding is then stable.
void CheckDecoded(absl::string_view record, const ServiceInstance& instance) {
  EXPECT_FALSE(instance.version.empty()) << Shown(record);
  EXPECT_TRUE(ValidateAddress(instance.address).ok()) << Shown(record);
  EXPECT_LE(instance.weight, kMaxWeight) << Shown(record);
  EXPECT_EQ(instance.metadata.count("weight"), 0u) << Shown(record);
  EXPECT_EQ(instance.metadata.count("drained"), 0u) << Shown(record);
  EXPECT_EQ(instance.metadata.count("lane"), 0u) << Shown(record);
  if (!instance.lane.empty()) {
    EXPECT_TRUE(ValidateLane(instance.lane).ok()) << Shown(record);
  }
  if (!instance.unknown_fields_json.empty()) {
    const Json unknown = Json::parse(instance.unknown_fields_json, nullptr,
                                     /*allow_exceptions=*/false);
    EXPECT_TRUE(unknown.is_object()) << Shown(record);
  }
  const std::string encoded = EncodeServiceRecord(instance);
  const absl::StatusOr<ServiceInstance> again = DecodeServiceRecord(encoded);
  ASSERT_TRUE(again.ok()) << again.status() << "\nrecord: " << Shown(record)
                          << "\nencoded: " << Shown(encoded);
  EXPECT_TRUE(*again == instance)
      << "round trip changed the instance\nrecord: " << Shown(record)
      << "\nencoded: " << Shown(encoded);
  EXPECT_EQ(EncodeServiceRecord(*again), encoded) << Shown(record);
}

// Returns whether `record` decoded.
bool CheckRecord(absl::string_view record) {
  const absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(record);
  if (!decoded.ok()) {
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << decoded.status() << "\nrecord: " << Shown(record);
    EXPECT_FALSE(decoded.status().message().empty()) << Shown(record);
    return false;
  }
  CheckDecoded(record, *decoded);
  return true;
}

TEST_F(RecordFuzzTest, AnyInputDecodesOrIsRejected) {
  int decoded = 0;
  for (int i = 0; i < kIterations; ++i) {
    const std::string record = AnyInput();
    ExpectFast(record, [&] { decoded += CheckRecord(record); });
    if (HasFailure()) return;
  }
  // Both outcomes were exercised.
  EXPECT_GT(decoded, kIterations / 10);
  EXPECT_LT(decoded, kIterations * 9 / 10);
}

TEST_F(RecordFuzzTest, ValidRecordsSurviveTheRoundTrip) {
  for (int i = 0; i < kIterations; ++i) {
    const std::string record = ValidRecord();
    ExpectFast(record, [&] {
      EXPECT_TRUE(CheckRecord(record)) << "rejected: " << Shown(record);
    });
    if (HasFailure()) return;
  }
}

// Nesting in each place, closed or not, at the given depths: bounded time
// and no stack overflow.
void ExpectDeepRecordsHandled(std::initializer_list<size_t> depths) {
  for (size_t depth : depths) {
    for (size_t where = 0; where < 4; ++where) {
      for (bool closed : {true, false}) {
        const std::string record = DeepRecord(depth, closed, where);
        ASSERT_LE(record.size(), kMaxRecordBytes);
        ExpectFast(record, [&] {
          // Unknown fields may nest, up to the limit (the record's own
          // levels included); metadata values must be strings.
          const size_t total = depth + (where == 0 ? 1 : 2);
          const bool valid =
              closed && (where == 0 || where == 1) && total <= kMaxNesting;
          EXPECT_EQ(CheckRecord(record), valid) << Shown(record);
        });
      }
    }
  }
}

TEST_F(RecordFuzzTest, DeepNestingIsHandled) {
  ExpectDeepRecordsHandled({1, 2, 62, 63, 64, 100, kSafeDepth});
}

// Every depth that fits in kMaxRecordBytes. The decoder copies and dumps
// nested unknown fields recursively (nlohmann::json), about 2 KiB of stack
// per level under ASan, so without its nesting limit a record of ~10 KiB
// overflowed an 8 MiB stack under ASan, and a 64 KiB one a thread stack
// below 4 MiB in a release build.
TEST_F(RecordFuzzTest, DeepNestingUpToTheRecordLimit) {
  ExpectDeepRecordsHandled({5000, 10000, kMaxRecordBytes / 5});
}

// Records of `size` bytes, filled by an unknown field.
std::string PaddedRecord(size_t size) {
  const std::string head = R"({"node":{"version":"v1","address":"h:1"},"x":")";
  const std::string tail = "\"}";
  std::string record = head;
  record.append(size - head.size() - tail.size(), 'p');
  record += tail;
  return record;
}

TEST_F(RecordFuzzTest, RecordsNearTheSizeLimit) {
  for (int i = 0; i < 24; ++i) {
    const size_t size = kMaxRecordBytes - 40 + Below(80);
    const std::string record = PaddedRecord(size);
    ASSERT_EQ(record.size(), size);
    ExpectFast(record, [&] {
      const absl::StatusOr<ServiceInstance> decoded =
          DecodeServiceRecord(record);
      EXPECT_EQ(decoded.ok(), size <= kMaxRecordBytes) << decoded.status();
      if (!decoded.ok()) {
        EXPECT_EQ(decoded.status().message(),
                  absl::StrCat("record is ", size, " bytes; the limit is ",
                               kMaxRecordBytes));
      }
    });
  }
}

// nlohmann's parse errors quote the whole token read so far ("last read:
// '...'"), and address errors the whole address: one bad record yielded a
// log line of up to 64 KiB.
TEST_F(RecordFuzzTest, ErrorMessagesStayShort) {
  const std::string long_text(60000, 'a');
  for (const std::string& record : {
           absl::StrCat(R"({"node":{"version":")", long_text),
           absl::StrCat(R"({"node":{"version":")", long_text, "\x01\"}}"),
           absl::StrCat(R"({"node":{"version":"v1","address":")", long_text,
                        R"(:1"}})"),
           absl::StrCat(R"({"node":{"version":"v1","address":"h:1","id":)",
                        std::string(60000, '1'), "}}"),
       }) {
    const absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(record);
    ASSERT_FALSE(decoded.ok());
    EXPECT_LE(decoded.status().message().size(), 1024u) << decoded.status();
  }
}

}  // namespace
}  // namespace vlb
