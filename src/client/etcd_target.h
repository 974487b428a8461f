// Channel targets of vlb's etcd resolver, parsed without gRPC so that
// vlb::CreateChannel refuses a bad one before gRPC sees it and the resolver
// applies the very same rule:
//   etcd:///<service>                          the cluster of the plugin
//                                              options
//   etcd://<host:port>[,<host:port>...]/<service>   that cluster
// e.g. etcd://10.0.0.1:2379,10.0.0.2:2379/hwholiday.srv.app.
#ifndef VLB_SRC_CLIENT_ETCD_TARGET_H_
#define VLB_SRC_CLIENT_ETCD_TARGET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {

inline constexpr absl::string_view kEtcdTargetScheme = "etcd";

struct EtcdTarget {
  std::vector<std::string> endpoints;  // empty: the plugin options' cluster
  std::string service;                 // a valid dotted service name
};

// Whether gRPC hands `target` to the etcd resolver: it starts with "etcd:"
// (gRPC's scheme lookup is case-sensitive; "ETCD:..." goes to DNS).
bool IsEtcdTarget(absl::string_view target);

// Splits `target` as gRPC's URI parser does (authority between "//" and
// the next '/', '%XX' escapes decoded) and checks the service name
// (ValidateServiceName) and each endpoint (ValidateAddress). A query or
// fragment is refused: the resolver has no use for one. Errors are
// InvalidArgument `etcd target "<target>": <part>: <problem>`.
// Thread-safe; allocates.
absl::StatusOr<EtcdTarget> ParseEtcdTarget(absl::string_view target);

}  // namespace vlb::internal

#endif  // VLB_SRC_CLIENT_ETCD_TARGET_H_
