// The record codec declared in vlb/service_instance.h.
//
// Decoding is strict about the fields we interpret, so that a malformed
// record is reported (and skipped by the resolver) rather than half-used,
// and lenient about everything else, so that records written by newer or
// foreign writers (e.g. the Go implementation in the seed document) still
// work and survive a read-modify-write by us.
#include "vlb/service_instance.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/json_depth.h"
#include "nlohmann/json.hpp"

namespace vlb {
namespace {

using Json = nlohmann::json;
// Encoding keeps insertion order so that records read with etcdctl look like
// the seed document's ("node" first).
using OrderedJson = nlohmann::ordered_json;

constexpr absl::string_view kNodeFields[] = {"name", "path", "id", "version",
                                             "address"};
constexpr absl::string_view kWeightKey = "weight";
constexpr absl::string_view kDrainedKey = "drained";
constexpr absl::string_view kLaneKey = "lane";
constexpr size_t kMaxLaneLength = 63;

bool IsNodeField(absl::string_view key) {
  for (absl::string_view field : kNodeFields) {
    if (key == field) return true;
  }
  return false;
}

// A value as it appears in the record, shortened so that a 60 KiB string
// does not end up in a log line.
std::string Excerpt(const Json& value) {
  constexpr size_t kMaxExcerpt = 64;
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > kMaxExcerpt) {
    text.resize(kMaxExcerpt);
    text += "...";
  }
  return text;
}

absl::Status WrongType(absl::string_view field, absl::string_view expected,
                       const Json& value) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": expected ", expected,
                                                 ", got ", value.type_name(),
                                                 " ", Excerpt(value)));
}

absl::Status BadWeight(const Json& value) {
  return absl::InvalidArgumentError(absl::StrCat(
      "metadata.weight: ", Excerpt(value), " is not an integer in [",
      kMinWeight, ", ", kMaxWeight, "]"));
}

// The format stores the weight as a decimal string (metadata values are
// strings). A JSON number is accepted too, because hand-written records and
// writers in other languages produce {"weight": 5}; only integers count, so
// 1.5 is rejected rather than truncated. Signs, spaces and exponents are
// rejected in strings for the same reason.
absl::StatusOr<uint32_t> ParseWeight(const Json& value) {
  if (value.is_number_unsigned()) {
    uint64_t weight = value.get<uint64_t>();
    if (weight > kMaxWeight) return BadWeight(value);
    return static_cast<uint32_t>(weight);
  }
  if (value.is_number()) {
    // Negative integers and floats.
    return BadWeight(value);
  }
  if (!value.is_string()) {
    return WrongType("metadata.weight", "a string", value);
  }
  const std::string& text = value.get_ref<const std::string&>();
  uint32_t weight = 0;
  // The length check keeps SimpleAtoi away from overflow on long digit runs.
  if (text.empty() || text.size() > 10 ||
      text.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(text, &weight) || weight > kMaxWeight) {
    return BadWeight(value);
  }
  return weight;
}

// Only the two strings: a typo such as "ture" or "yes" must not silently
// leave an instance serving that its operator meant to drain.
absl::StatusOr<bool> ParseDrained(const Json& value) {
  if (!value.is_string()) {
    return WrongType("metadata.drained", "a string", value);
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (text == "true") return true;
  if (text == "false") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("metadata.drained: ", Excerpt(value),
                   " is neither \"true\" nor \"false\""));
}

absl::StatusOr<std::string> ParseLane(const Json& value) {
  if (!value.is_string()) return WrongType("metadata.lane", "a string", value);
  const std::string& text = value.get_ref<const std::string&>();
  if (absl::Status status = ValidateLane(text); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata.lane: ", status.message()));
  }
  return text;
}

// Reads node.<field> into `out`; a missing field leaves `out` empty.
absl::Status ReadNodeString(const Json& node, const char* field,
                            std::string& out) {
  auto it = node.find(field);
  if (it == node.end()) return absl::OkStatus();
  if (!it->is_string()) {
    return WrongType(absl::StrCat("node.", field), "a string", *it);
  }
  out = it->get<std::string>();
  return absl::OkStatus();
}

// Deeper records are rejected before parsing: nlohmann copies and destroys
// values recursively, so a 64 KiB record of nested brackets would need
// megabytes of stack. Real records nest three levels.
constexpr int kMaxNesting = 64;

// Error messages quote parts of the record, which may be 64 KiB: they are
// cut so that a bad record makes a log line, not a log page.
absl::Status Shortened(const absl::Status& status) {
  constexpr size_t kMaxMessage = 300;
  if (status.ok() || status.message().size() <= kMaxMessage) return status;
  return absl::Status(
      status.code(),
      absl::StrCat(status.message().substr(0, kMaxMessage), "... (",
                   status.message().size(), " bytes of error text)"));
}

absl::StatusOr<ServiceInstance> Decode(absl::string_view json);

}  // namespace

bool operator==(const ServiceInstance& a, const ServiceInstance& b) {
  return std::tie(a.name, a.path, a.id, a.version, a.address, a.weight,
                  a.drained, a.lane, a.metadata, a.unknown_fields_json) ==
         std::tie(b.name, b.path, b.id, b.version, b.address, b.weight,
                  b.drained, b.lane, b.metadata, b.unknown_fields_json);
}

absl::Status ValidateLane(absl::string_view lane) {
  if (lane.empty() || lane.size() > kMaxLaneLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("lane ", Excerpt(Json(std::string(lane))),
                     " must be 1 to ", kMaxLaneLength, " characters long"));
  }
  if (lane.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
      absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("lane ", Excerpt(Json(std::string(lane))),
                     " may only hold lower-case letters, digits and '-'"));
  }
  return absl::OkStatus();
}

bool IsReservedMetadataKey(absl::string_view key) {
  return key == kWeightKey || key == kDrainedKey || key == kLaneKey;
}

absl::StatusOr<ServiceInstance> DecodeServiceRecord(absl::string_view json) {
  if (json.empty()) return absl::InvalidArgumentError("record is empty");
  if (json.size() > kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record is ", json.size(), " bytes; the limit is ", kMaxRecordBytes));
  }
  if (internal::JsonNestingDepth(json, kMaxNesting) > kMaxNesting) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record nests arrays or objects deeper than ", kMaxNesting, " levels"));
  }
  absl::StatusOr<ServiceInstance> decoded = Decode(json);
  if (!decoded.ok()) return Shortened(decoded.status());
  return decoded;
}

namespace {

absl::StatusOr<Json> ParseRecordObject(absl::string_view json) {
  Json root;
  try {
    root = Json::parse(json.begin(), json.end());
  } catch (const Json::exception& e) {
    // The exception text carries the position of the error.
    return absl::InvalidArgumentError(
        absl::StrCat("record is not valid JSON: ", e.what()));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("record: expected a JSON object, got ", root.type_name()));
  }
  return root;
}

// Reads `node` into `instance`; fields vlb does not know go to `unknown`.
absl::Status DecodeNode(const Json& node, ServiceInstance* instance,
                        Json* unknown) {
  if (!node.is_object()) return WrongType("node", "an object", node);
  // name, path and id may be missing: the reader knows the key, from which
  // it can derive them. Guessing them here would make Encode(Decode(x))
  // differ from x.
  for (auto [field, out] :
       {std::pair<const char*, std::string*>{"name", &instance->name},
        {"path", &instance->path},
        {"id", &instance->id},
        {"version", &instance->version},
        {"address", &instance->address}}) {
    if (absl::Status status = ReadNodeString(node, field, *out); !status.ok()) {
      return status;
    }
  }
  // Without a version the instance cannot be balanced by version, and
  // without an address it cannot be dialled: such a record is useless.
  if (!node.contains("version")) {
    return absl::InvalidArgumentError("node.version is missing");
  }
  if (instance->version.empty()) {
    return absl::InvalidArgumentError("node.version is empty");
  }
  if (!node.contains("address")) {
    return absl::InvalidArgumentError("node.address is missing");
  }
  if (absl::Status status = ValidateAddress(instance->address); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("node.address: ", status.message()));
  }
  Json unknown_node = Json::object();
  for (const auto& [key, value] : node.items()) {
    if (!IsNodeField(key)) unknown_node[key] = value;
  }
  if (!unknown_node.empty()) (*unknown)["node"] = std::move(unknown_node);
  return absl::OkStatus();
}

absl::Status DecodeMetadata(const Json& metadata, ServiceInstance* instance) {
  if (metadata.is_null()) return absl::OkStatus();  // Go's nil map
  if (!metadata.is_object()) {
    return WrongType("metadata", "an object", metadata);
  }
  for (const auto& [key, value] : metadata.items()) {
    if (key == kWeightKey) {
      absl::StatusOr<uint32_t> weight = ParseWeight(value);
      if (!weight.ok()) return weight.status();
      instance->weight = *weight;
      continue;
    }
    if (key == kDrainedKey) {
      absl::StatusOr<bool> drained = ParseDrained(value);
      if (!drained.ok()) return drained.status();
      instance->drained = *drained;
      continue;
    }
    if (key == kLaneKey) {
      absl::StatusOr<std::string> lane = ParseLane(value);
      if (!lane.ok()) return lane.status();
      instance->lane = *std::move(lane);
      continue;
    }
    if (!value.is_string()) {
      return WrongType(absl::StrCat("metadata.", key), "a string", value);
    }
    instance->metadata.emplace(key, value.get<std::string>());
  }
  return absl::OkStatus();
}

absl::StatusOr<ServiceInstance> Decode(absl::string_view json) {
  absl::StatusOr<Json> root = ParseRecordObject(json);
  if (!root.ok()) return root.status();
  auto node_it = root->find("node");
  if (node_it == root->end()) {
    return absl::InvalidArgumentError("node is missing");
  }
  ServiceInstance instance;
  Json unknown = Json::object();
  if (absl::Status s = DecodeNode(*node_it, &instance, &unknown); !s.ok()) {
    return s;
  }
  if (auto it = root->find("metadata"); it != root->end()) {
    if (absl::Status s = DecodeMetadata(*it, &instance); !s.ok()) return s;
  }
  for (const auto& [key, value] : root->items()) {
    if (key != "node" && key != "metadata") unknown[key] = value;
  }
  if (!unknown.empty()) {
    // Json objects are sorted by key, so equal records decode to equal text.
    instance.unknown_fields_json =
        unknown.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  return instance;
}

}  // namespace

std::string EncodeServiceRecord(const ServiceInstance& instance) {
  OrderedJson node = OrderedJson::object();
  node["name"] = instance.name;
  node["path"] = instance.path;
  node["id"] = instance.id;
  node["version"] = instance.version;
  node["address"] = instance.address;

  OrderedJson metadata = OrderedJson::object();
  // The typed fields win over entries of the same name in the map, which
  // the struct's contract excludes but a caller may still have put there.
  // "drained" and "lane" are written only when set, so that other records
  // stay byte for byte what they were before these fields existed.
  metadata[std::string(kWeightKey)] = std::to_string(instance.weight);
  if (instance.drained) metadata[std::string(kDrainedKey)] = "true";
  if (!instance.lane.empty()) metadata[std::string(kLaneKey)] = instance.lane;
  for (const auto& [key, value] : instance.metadata) {
    if (!IsReservedMetadataKey(key)) metadata[key] = value;
  }

  OrderedJson root = OrderedJson::object();
  OrderedJson extra_top = OrderedJson::object();
  if (!instance.unknown_fields_json.empty()) {
    // Encoding cannot fail, so unknown fields that are not a JSON object
    // (only possible if the caller wrote them by hand) are dropped. Known
    // fields always win over unknown ones of the same name.
    OrderedJson unknown = OrderedJson::parse(instance.unknown_fields_json,
                                             nullptr, /*allow_exceptions=*/
                                             false);
    if (unknown.is_object()) {
      for (auto& [key, value] : unknown.items()) {
        if (key == "node") {
          if (!value.is_object()) continue;
          for (auto& [node_key, node_value] : value.items()) {
            if (!IsNodeField(node_key)) node[node_key] = node_value;
          }
        } else if (key != "metadata") {
          extra_top[key] = value;
        }
      }
    }
  }
  root["node"] = std::move(node);
  root["metadata"] = std::move(metadata);
  for (auto& [key, value] : extra_top.items()) root[key] = value;
  // Strings with invalid UTF-8 are replaced (U+FFFD) rather than thrown
  // about: callers validate their inputs, and this must never throw.
  return root.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace vlb
