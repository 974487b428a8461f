#include "admin/listing.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "vlb/service_instance.h"

namespace vlb::internal {

std::optional<KeyOwner> OwnerOfKey(absl::string_view key) {
  const size_t slash = key.rfind('/');
  if (slash == absl::string_view::npos || slash == 0 || key[0] != '/') {
    return std::nullopt;
  }
  const absl::string_view path = key.substr(0, slash);
  KeyOwner owner;
  owner.service = absl::StrReplaceAll(path.substr(1), {{"/", "."}});
  // The round trip rejects what ServicePath would not produce ("//a").
  if (!ValidateServiceName(owner.service).ok() ||
      ServicePath(owner.service) != path) {
    return std::nullopt;
  }
  owner.id = std::string(key.substr(slash + 1));
  return owner;
}

void AddKey(const mvccpb::KeyValue& kv,
            std::map<std::string, ServiceListing, std::less<>>& listings) {
  std::optional<KeyOwner> owner = OwnerOfKey(kv.key());
  if (!owner.has_value()) return;
  ServiceListing& listing = listings[owner->service];
  listing.service = owner->service;
  if (owner->id.empty()) {
    // Clients skip it too (README, "Which records are instances").
    listing.skipped.push_back(
        {kv.key(), absl::InvalidArgumentError(
                       "a record at the service's prefix key itself is not "
                       "an instance; instances live at <prefix><id>")});
    return;
  }
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(kv.value());
  if (!decoded.ok()) {
    listing.skipped.push_back({kv.key(), decoded.status()});
    return;
  }
  InstanceListing instance;
  instance.id = std::move(owner->id);
  instance.key = kv.key();
  instance.instance = *std::move(decoded);
  instance.lease_id = kv.lease();
  instance.create_revision = kv.create_revision();
  instance.mod_revision = kv.mod_revision();
  listing.instances.push_back(std::move(instance));
}

void SortListing(ServiceListing& listing) {
  std::sort(listing.instances.begin(), listing.instances.end(),
            [](const InstanceListing& a, const InstanceListing& b) {
              return a.id < b.id;
            });
  std::sort(listing.skipped.begin(), listing.skipped.end(),
            [](const SkippedRecord& a, const SkippedRecord& b) {
              return a.key < b.key;
            });
}

}  // namespace vlb::internal
