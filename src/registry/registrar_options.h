// Validation and defaults for RegistrarOptions, kept apart from the
// registrar's state machine so they can be unit-tested without etcd.
#ifndef VLB_SRC_REGISTRY_REGISTRAR_OPTIONS_H_
#define VLB_SRC_REGISTRY_REGISTRAR_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "etcd/client.h"
#include "vlb/registrar.h"
#include "vlb/service_instance.h"

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

// Fills defaults (instance id, endpoints) and checks every field; errors are
// InvalidArgument naming the field.
absl::Status NormalizeRegistrarOptions(RegistrarOptions& options);

// The record a registrar with these (normalized) options writes.
ServiceInstance InstanceFromOptions(const RegistrarOptions& options);

// Checks a version string: non-empty, at most 128 bytes, printable ASCII
// without spaces.
absl::Status ValidateVersion(absl::string_view version);

// Checks user metadata: "weight" is reserved; keys non-empty.
absl::Status ValidateMetadata(
    const std::map<std::string, std::string>& metadata);

}  // namespace vlb::internal

#endif  // VLB_SRC_REGISTRY_REGISTRAR_OPTIONS_H_
