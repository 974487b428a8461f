#include "discovery/socket_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "vlb/service_instance.h"

namespace vlb::internal {
namespace {

// Splits "host:port" / "[v6]:port" (already validated).
void SplitHostPort(absl::string_view host_port, std::string* host,
                   std::string* port) {
  const size_t colon = host_port.rfind(':');
  absl::string_view h = host_port.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  *host = std::string(h);
  *port = std::string(host_port.substr(colon + 1));
}

}  // namespace

absl::StatusOr<std::vector<SocketAddress>> ResolveHostPort(
    absl::string_view host_port) {
  if (absl::Status status = ValidateAddress(host_port); !status.ok()) {
    return status;
  }
  std::string host, port;
  SplitHostPort(host_port, &host, &port);
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in \"", host_port, "\""));
  }

  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port_number));
    address.length = sizeof(sockaddr_in);
    return std::vector<SocketAddress>{address};
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  std::string v6_host = host.substr(0, host.find('%'));  // drop a zone
  if (inet_pton(AF_INET6, v6_host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port_number));
    address.length = sizeof(sockaddr_in6);
    return std::vector<SocketAddress>{address};
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
  }
  std::vector<SocketAddress> result;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress resolved;
    std::memcpy(&resolved.storage, ai->ai_addr, ai->ai_addrlen);
    resolved.length = ai->ai_addrlen;
    result.push_back(resolved);
  }
  freeaddrinfo(found);
  if (result.empty()) {
    return absl::NotFoundError(
        absl::StrCat("\"", host, "\" has no usable address"));
  }
  return result;
}

}  // namespace vlb::internal
