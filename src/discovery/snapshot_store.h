// The opt-in on-disk copy of a service's last known instances, so that a
// process starting while etcd is unreachable (or has no quorum and no
// member answers) can still route. One file per service,
// <dir>/<dotted service name>.json, replaced atomically (write to a temp
// file, then rename) so a reader never sees half a file.
//
// The copy is only ever a fallback: the watcher reads it only when no etcd
// member answered its first read, and follows etcd as soon as one does.
//
// Thread-safe (no state); each call does file I/O.
#ifndef VLB_SRC_DISCOVERY_SNAPSHOT_STORE_H_
#define VLB_SRC_DISCOVERY_SNAPSHOT_STORE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/service_watcher.h"

namespace vlb::internal {

struct StoredSnapshot {
  ServiceSnapshot snapshot;
  absl::Time saved;
};

// Writes `snapshot` of `service` into `dir` (created if missing).
absl::Status SaveSnapshot(absl::string_view dir, absl::string_view service,
                          const ServiceSnapshot& snapshot);

// Reads what SaveSnapshot wrote. NotFound without a file; InvalidArgument
// naming the file for one that does not parse. Records that no longer
// decode, or whose keys are not instances of `service`, are left out.
absl::StatusOr<StoredSnapshot> LoadSnapshot(absl::string_view dir,
                                            absl::string_view service);

// The file SaveSnapshot writes for `service`.
std::string SnapshotPath(absl::string_view dir, absl::string_view service);

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_SNAPSHOT_STORE_H_
