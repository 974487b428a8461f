// One etcd client per cluster per process: every resolver of the process
// that talks to the same endpoints shares its connection and watch stream.
#ifndef VLB_SRC_DISCOVERY_CLIENT_POOL_H_
#define VLB_SRC_DISCOVERY_CLIENT_POOL_H_

#include <memory>

#include "absl/status/statusor.h"
#include "etcd/client.h"

namespace vlb::internal {

// Returns the shared client for `options` (keyed by every option, see
// etcd::ClientOptionsKey: endpoints in any order, credentials, TLS, timeouts),
// creating it on first use. The client closes when the last holder lets go,
// from any thread (on its own dispatcher thread it is closed from a short-lived
// thread instead).
absl::StatusOr<std::shared_ptr<etcd::Client>> AcquireEtcdClient(
    const etcd::ClientOptions& options);

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_CLIENT_POOL_H_
