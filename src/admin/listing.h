// Turning keys read from etcd into the admin API's listings (vlb/admin.h),
// without I/O: which keys are instances of which service, decoded records
// and skipped ones. Lease TTLs are filled in by the caller.
//
// Pure functions; thread-safe.
#ifndef VLB_SRC_ADMIN_LISTING_H_
#define VLB_SRC_ADMIN_LISTING_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "etcd/mvccpb/kv.pb.h"
#include "vlb/admin.h"

namespace vlb::internal {

// The service and instance id a key belongs to under the key layout
// (vlb/service_instance.h): "/a/b/c/x" -> {"a.b.c", "x"}; the prefix key
// "/a/b/c/" -> {"a.b.c", ""}. nullopt when the part before the last '/' is
// not a service path (root keys, empty or invalid name parts).
struct KeyOwner {
  std::string service;
  std::string id;
};
std::optional<KeyOwner> OwnerOfKey(absl::string_view key);

// Adds one key to `listings` (keyed by dotted service name): an instance
// when its id is non-empty and its record decodes, a skipped record
// otherwise. Keys that belong to no service are ignored.
void AddKey(const mvccpb::KeyValue& kv,
            std::map<std::string, ServiceListing, std::less<>>& listings);

// Sorts instances by id and skipped records by key.
void SortListing(ServiceListing& listing);

}  // namespace vlb::internal

#endif  // VLB_SRC_ADMIN_LISTING_H_
