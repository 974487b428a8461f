// A service instance as stored in the registry, and its wire format.
//
// Layout in etcd (compatible with the Go design in the seed document
// "go-version-balancer-on-etcd"):
//   service "hwholiday.srv.app"  ->  prefix "/hwholiday/srv/app/"
//   instance id "app-1"           ->  key    "/hwholiday/srv/app/app-1"
//   value: {"node":{"name":"app","path":"/hwholiday/srv/app","id":"app-1",
//                   "version":"v1","address":"10.0.0.1:8089"},
//           "metadata":{"weight":"1", ...}}
// Operator-facing metadata entries with typed fields (written only when set,
// so records without them look exactly like the seed format's):
//   "drained": "true"     the instance takes no new calls while another
//                         matching instance is ready (absent or "false": not)
//   "lane": "feature-x"   the instance's lane (absent: the baseline)
// Fields we do not know are kept (in `unknown_fields_json`) so that a record
// read and written back loses nothing another writer put there.
//
// All functions here are pure and thread-safe.
#ifndef VLB_SERVICE_INSTANCE_H_
#define VLB_SERVICE_INSTANCE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb {

// Weights are integers in [kMinWeight, kMaxWeight]. A weighted balancer
// never picks weight 0 while other instances exist; ServiceInstance::drained
// is the explicit, policy-independent way to say that.
inline constexpr uint32_t kMinWeight = 0;
inline constexpr uint32_t kMaxWeight = 10000;
inline constexpr uint32_t kDefaultWeight = 1;

// Records larger than this are rejected when decoding (and never written).
inline constexpr size_t kMaxRecordBytes = size_t{64} * 1024;

struct ServiceInstance {
  std::string name;  // last part of the dotted service name, e.g. "app"
  std::string path;  // service path without trailing '/': "/hwholiday/srv/app"
  std::string id;    // instance id, unique within the service
  std::string version;               // e.g. "v1", "2.3.1"
  std::string address;               // "host:port"
  uint32_t weight = kDefaultWeight;  // also stored as metadata["weight"]
  bool drained = false;              // metadata["drained"] == "true"
  std::string lane;                  // metadata["lane"]; empty: baseline
  // Everything in "metadata" except the typed entries above ("weight",
  // "drained", "lane"); values are strings.
  std::map<std::string, std::string> metadata;
  // JSON object text holding the fields of the record we do not interpret
  // (at any level), merged back when encoding. Empty when there were none.
  std::string unknown_fields_json;

  friend bool operator==(const ServiceInstance& a, const ServiceInstance& b);
};

// Parses a record value. Errors are InvalidArgument and name the field
// ("node.address is missing", "metadata.weight: \"x\" is not an integer in
// [0, 10000]", "metadata.drained: ..."). Values larger than kMaxRecordBytes
// are rejected.
absl::StatusOr<ServiceInstance> DecodeServiceRecord(absl::string_view json);

// Serializes to the record format above (compact JSON).
std::string EncodeServiceRecord(const ServiceInstance& instance);

// --- Key layout -----------------------------------------------------------

// Checks a dotted service name: non-empty parts of [A-Za-z0-9_-], separated
// by '.', no '/', at most 255 bytes.
absl::Status ValidateServiceName(absl::string_view dotted_name);

// "hwholiday.srv.app" -> "/hwholiday/srv/app" (no trailing slash).
std::string ServicePath(absl::string_view dotted_name);

// "hwholiday.srv.app" -> "/hwholiday/srv/app/": the prefix to read and watch.
// The trailing '/' keeps service "app" from matching "app2".
std::string ServicePrefix(absl::string_view dotted_name);

// "/hwholiday/srv/app/<id>".
std::string InstanceKey(absl::string_view dotted_name,
                        absl::string_view instance_id);

// Last part of a dotted name: "hwholiday.srv.app" -> "app".
std::string ServiceShortName(absl::string_view dotted_name);

// Checks an instance id: non-empty, at most 255 bytes, no '/' and no control
// characters.
absl::Status ValidateInstanceId(absl::string_view id);

// Checks a lane name: 1 to 63 characters of [a-z0-9-]. InvalidArgument
// without a field name (callers prefix theirs).
absl::Status ValidateLane(absl::string_view lane);

// The metadata keys held in typed fields of ServiceInstance; a caller's
// metadata map must not use them.
bool IsReservedMetadataKey(absl::string_view key);

// Checks "host:port": host is an IPv4 literal, a bracketed IPv6 literal or a
// DNS name; port in [1, 65535].
absl::Status ValidateAddress(absl::string_view address);

}  // namespace vlb

#endif  // VLB_SERVICE_INSTANCE_H_
