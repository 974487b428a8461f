// Turns a registry "host:port" into socket addresses for gRPC. IP literals
// are parsed (an IPv6 zone, "[fe80::1%eth0]:80", becomes the scope id);
// DNS names are resolved with getaddrinfo, which blocks: call LookUpHostPort
// off latency-sensitive threads (discovery/address_book.h does).
//
// Thread-safe; no state.
#ifndef VLB_SRC_DISCOVERY_SOCKET_ADDRESS_H_
#define VLB_SRC_DISCOVERY_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  // The bytes of the address: equal keys, same endpoint.
  absl::string_view key() const {
    return absl::string_view(reinterpret_cast<const char*>(&storage), length);
  }
};

// The address of an IP literal "host:port", nullopt when the host is a
// name. InvalidArgument for malformed input or an IPv6 zone that names no
// interface of this machine.
absl::StatusOr<std::optional<SocketAddress>> ParseIpHostPort(
    absl::string_view host_port);

// Every address `host_port` stands for: the literal, or what the name
// resolves to (blocking). NotFound when a name does not resolve.
absl::StatusOr<std::vector<SocketAddress>> ResolveHostPort(
    absl::string_view host_port);

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_SOCKET_ADDRESS_H_
