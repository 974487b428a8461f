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
// creating it on first use. Thread-safe; one mutex, O(log clients).
// When the last holder lets go, on any thread, the client is closed on a
// short-lived thread of its own: letting go never waits for the close, which
// waits for gRPC work that may need the releasing thread (see client_pool.cc).
absl::StatusOr<std::shared_ptr<etcd::Client>> AcquireEtcdClient(
    const etcd::ClientOptions& options);

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_CLIENT_POOL_H_
