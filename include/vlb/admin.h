// The operator's view of the registry: list services and instances, drain,
// undrain and re-weight a live registration in place. vlbctl is built on it;
// tests use it too.
//
//   auto admin = vlb::AdminClient::Create(etcd_options);
//   auto listing = (*admin)->ListInstances("hwholiday.srv.app");
//   absl::Status s = (*admin)->SetDrained("hwholiday.srv.app", "app-1", true);
//
// Edits are read-modify-write transactions that compare the key's mod
// revision (retried a few times when someone wrote in between) and keep the
// record's lease, so the instance stays registered and its registrar adopts
// the change (see "Operator edits" in vlb/registrar.h). Fields vlb does not
// know survive the edit.
//
// Thread-safety: every method may be called from any thread, concurrently.
// All calls are synchronous (each etcd request waits at most
// EtcdOptions::request_timeout per member tried).
#ifndef VLB_ADMIN_H_
#define VLB_ADMIN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vlb/etcd_options.h"
#include "vlb/service_instance.h"

namespace vlb {

// One instance record as found in etcd.
struct InstanceListing {
  std::string id;            // from the key (authoritative over node.id)
  std::string key;           // "/hwholiday/srv/app/app-1"
  ServiceInstance instance;  // version, address, weight, drained, lane...
  int64_t lease_id = 0;      // 0: the key has no lease (it never expires)
  // Time left on the lease when it was read, in whole seconds as etcd
  // reports it; nullopt without a lease or when the lease just expired.
  std::optional<absl::Duration> lease_ttl_left;
  // etcd keeps no timestamps, so a record's age is given in revisions: the
  // store revision at which the key was created and last written. Compare
  // them with ServiceListing::revision ("written 12 revisions ago").
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

// A key under the service that is not a usable instance record.
struct SkippedRecord {
  std::string key;
  absl::Status error;  // InvalidArgument naming the field (metadata.lane...)
};

struct ServiceListing {
  std::string service;                     // dotted, "hwholiday.srv.app"
  std::vector<InstanceListing> instances;  // sorted by id
  std::vector<SkippedRecord> skipped;      // sorted by key
  int64_t revision = 0;                    // store revision of the read
};

class AdminClient {
 public:
  // InvalidArgument naming the field when `etcd` is unusable; does not
  // connect yet.
  static absl::StatusOr<std::unique_ptr<AdminClient>> Create(
      const EtcdOptions& etcd);

  virtual ~AdminClient() = default;

  // Every service found: a service is a key prefix /a/b/c/ holding at least
  // one decodable instance record /a/b/c/<id> (README, "Which records are
  // instances"). Sorted by name. Cost: a read of every key under "/", in
  // pages of 1,000 keys at one revision (a consistent snapshot; started over
  // up to twice if etcd compacts it away meanwhile), and one
  // LeaseTimeToLive per distinct lease.
  virtual absl::StatusOr<std::vector<ServiceListing>> ListServices() = 0;

  // The instances of `service` (InvalidArgument for a bad name; an empty
  // listing when it has none). Cost: a prefix read, paged as above, and one
  // LeaseTimeToLive per distinct lease.
  virtual absl::StatusOr<ServiceListing> ListInstances(
      absl::string_view service) = 0;

  // Marks instance `id` of `service` drained or not; its lease is kept.
  // NotFound "no instance <id> of <service>" when there is no such key;
  // FailedPrecondition when its record is malformed (it is left alone);
  // Aborted when the record kept changing under the edit. OK without a
  // write when the record already says so.
  virtual absl::Status SetDrained(absl::string_view service,
                                  absl::string_view id, bool drained) = 0;

  // As SetDrained, for the weight; InvalidArgument when `weight` is above
  // kMaxWeight.
  virtual absl::Status SetWeight(absl::string_view service,
                                 absl::string_view id, uint32_t weight) = 0;
};

}  // namespace vlb

#endif  // VLB_ADMIN_H_
