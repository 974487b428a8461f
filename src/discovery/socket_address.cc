#include "discovery/socket_address.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "vlb/service_instance.h"

namespace vlb::internal {
namespace {

struct HostPort {
  std::string host;  // without brackets
  std::string port;
  uint16_t port_number = 0;
};

absl::StatusOr<HostPort> Split(absl::string_view host_port) {
  if (absl::Status status = ValidateAddress(host_port); !status.ok()) {
    return status;
  }
  const size_t colon = host_port.rfind(':');
  absl::string_view host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  HostPort out;
  out.host = std::string(host);
  out.port = std::string(host_port.substr(colon + 1));
  int port = 0;
  if (!absl::SimpleAtoi(out.port, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in \"", host_port, "\""));
  }
  out.port_number = static_cast<uint16_t>(port);
  return out;
}

// The scope id of an IPv6 zone: an interface name or a number. Kept rather
// than dropped: a link-local address without it cannot be dialled.
absl::StatusOr<uint32_t> ScopeId(const std::string& zone) {
  uint32_t index = 0;
  if (absl::SimpleAtoi(zone, &index)) return index;
  index = if_nametoindex(zone.c_str());
  if (index == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IPv6 zone \"", zone, "\" is not a network interface of this host"));
  }
  return index;
}

absl::StatusOr<std::optional<SocketAddress>> ParseLiteral(const HostPort& hp) {
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  if (inet_pton(AF_INET, hp.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp.port_number);
    address.length = sizeof(sockaddr_in);
    return address;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  const size_t percent = hp.host.find('%');
  const std::string v6_host = hp.host.substr(0, percent);
  if (inet_pton(AF_INET6, v6_host.c_str(), &v6->sin6_addr) != 1) {
    return std::nullopt;
  }
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(hp.port_number);
  if (percent != std::string::npos) {
    absl::StatusOr<uint32_t> scope = ScopeId(hp.host.substr(percent + 1));
    if (!scope.ok()) return scope.status();
    v6->sin6_scope_id = *scope;
  }
  address.length = sizeof(sockaddr_in6);
  return address;
}

absl::StatusOr<std::vector<SocketAddress>> LookUpName(const HostPort& hp) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &found);
      rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve \"", hp.host, "\": ", gai_strerror(rc)));
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
        absl::StrCat("\"", hp.host, "\" has no usable address"));
  }
  return result;
}

}  // namespace

absl::StatusOr<std::optional<SocketAddress>> ParseIpHostPort(
    absl::string_view host_port) {
  absl::StatusOr<HostPort> hp = Split(host_port);
  if (!hp.ok()) return hp.status();
  return ParseLiteral(*hp);
}

absl::StatusOr<std::vector<SocketAddress>> ResolveHostPort(
    absl::string_view host_port) {
  absl::StatusOr<HostPort> hp = Split(host_port);
  if (!hp.ok()) return hp.status();
  absl::StatusOr<std::optional<SocketAddress>> literal = ParseLiteral(*hp);
  if (!literal.ok()) return literal.status();
  if (literal->has_value()) return std::vector<SocketAddress>{**literal};
  return LookUpName(*hp);
}

}  // namespace vlb::internal
