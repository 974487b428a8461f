// Turns the public EtcdOptions (include/vlb/etcd_options.h) into the
// client's own options: endpoints from the options, $VLB_ETCD_ENDPOINTS or
// the default; schemes stripped; TLS files read and checked. Used by the
// registrar and by the client side alike, so neither depends on the other.
//
// Thread-safe; MakeClientOptions reads files.
#ifndef VLB_SRC_ETCD_PUBLIC_OPTIONS_H_
#define VLB_SRC_ETCD_PUBLIC_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/client.h"
#include "vlb/etcd_options.h"

namespace vlb::internal {

// Endpoints from the options, else $VLB_ETCD_ENDPOINTS, else 127.0.0.1:2379.
std::vector<std::string> EffectiveEtcdEndpoints(
    const std::vector<std::string>& configured);

// Whether $VLB_ETCD_ENDPOINTS names an "https://" endpoint (TLS).
bool EnvironmentAsksForTls();

// Checks EtcdOptions and turns them into client options: endpoints without
// their scheme, TLS on when asked for ("https://" endpoints, `tls`) or when
// any TLS item is given, files read and every certificate and key checked.
// InvalidArgument names the field (and the file). Reads the TLS files: call
// it where blocking briefly is fine.
absl::StatusOr<etcd::ClientOptions> MakeClientOptions(
    const EtcdOptions& options, absl::Duration initial_backoff,
    absl::Duration max_backoff);

}  // namespace vlb::internal

#endif  // VLB_SRC_ETCD_PUBLIC_OPTIONS_H_
