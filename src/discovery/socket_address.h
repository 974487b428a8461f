// Turns a registry "host:port" into a socket address for gRPC. IP literals
// are parsed; DNS names are resolved with getaddrinfo (blocking, so records
// with IP addresses are preferable for fast updates).
#ifndef VLB_SRC_DISCOVERY_SOCKET_ADDRESS_H_
#define VLB_SRC_DISCOVERY_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// All addresses `host_port` stands for (one for a literal). InvalidArgument
// for malformed input, NotFound when a name does not resolve.
absl::StatusOr<std::vector<SocketAddress>> ResolveHostPort(
    absl::string_view host_port);

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_SOCKET_ADDRESS_H_
