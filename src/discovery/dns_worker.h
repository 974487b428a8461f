// Runs blocking host name lookups (getaddrinfo) on one background thread
// shared by the whole process, so that a slow DNS server delays only other
// lookups, never the etcd dispatcher that every channel shares.
//
// The thread starts on the first lookup and ends after a few seconds
// without work. Lookups run one at a time, in submission order.
// Thread-safe.
#ifndef VLB_SRC_DISCOVERY_DNS_WORKER_H_
#define VLB_SRC_DISCOVERY_DNS_WORKER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "discovery/socket_address.h"

namespace vlb::internal {

// Resolves `host_port` with ResolveHostPort and calls `done` with the
// result on the worker thread.
void LookUpInBackground(
    std::string host_port,
    std::function<void(absl::StatusOr<std::vector<SocketAddress>>)> done);

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_DNS_WORKER_H_
