// How vlb reaches an etcd cluster: endpoints, timeouts, authentication and
// TLS. Used by the registrar (RegistrarOptions::etcd, vlb/registrar.h) and by
// the client side (PluginOptions::etcd, vlb/grpc.h).
//
// Plain data: thread-compatible. Nothing here does I/O; files named by the
// TLS fields are read when a registrar or a channel's etcd client is created.
#ifndef VLB_ETCD_OPTIONS_H_
#define VLB_ETCD_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace vlb {

// Connection settings for an etcd cluster.
struct EtcdOptions {
  // "host:port" of each cluster member; the client fails over between them.
  // Empty means $VLB_ETCD_ENDPOINTS (comma-separated), else 127.0.0.1:2379.
  // An "http://" or "https://" prefix is accepted; "https://" turns TLS on.
  std::vector<std::string> endpoints;
  // Deadline of each request to etcd.
  absl::Duration request_timeout = absl::Seconds(5);
  // Optional etcd authentication; the token is renewed when it expires.
  std::string username;
  std::string password;

  // TLS. vlb talks TLS to every endpoint when any field below is set, when
  // `tls` is true, or when an endpoint (here or in $VLB_ETCD_ENDPOINTS)
  // starts with "https://"; plaintext otherwise. Each item is given either
  // as a file or as PEM text, not both. Files are read once, at creation;
  // an unreadable or malformed one is an InvalidArgument error naming the
  // field and the path. Works together with username/password.
  //
  // CA certificates that etcd's server certificates must chain to (etcdctl
  // --cacert). Neither set: the system's root CAs.
  std::string ca_file;
  std::string ca_pem;
  // Client certificate (chain) and its unencrypted private key, for an etcd
  // started with --client-cert-auth (etcdctl --cert / --key). Give both or
  // neither.
  std::string cert_file;
  std::string cert_pem;
  std::string key_file;
  std::string key_pem;
  // TLS even without any of the above (verifying etcd with the system's
  // root CAs).
  bool tls = false;
};

// Parses VLB_ETCD_ENDPOINTS-style lists: "a:2379, b:2379" -> {"a:2379",
// "b:2379"}. Whitespace is ignored, "http://" / "https://" prefixes and a
// trailing '/' are stripped, empty entries dropped. Cost: linear.
std::vector<std::string> ParseEndpointList(const std::string& list);

// True when an entry of such a list starts with "https://" (any case): etcd
// clients take that as a request for TLS, and so does vlb.
bool EndpointListUsesHttps(const std::string& list);

}  // namespace vlb

#endif  // VLB_ETCD_OPTIONS_H_
