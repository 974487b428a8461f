// Validation and defaults for RegistrarOptions, kept apart from the
// registrar's state machine so they can be unit-tested without etcd.
#ifndef VLB_SRC_REGISTRY_REGISTRAR_OPTIONS_H_
#define VLB_SRC_REGISTRY_REGISTRAR_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "etcd/client.h"
#include "etcd/public_options.h"  // MakeClientOptions
#include "vlb/registrar.h"
#include "vlb/service_instance.h"

namespace vlb::internal {

// Fills defaults (instance id, endpoints) and checks every field; errors are
// InvalidArgument naming the field.
absl::Status NormalizeRegistrarOptions(RegistrarOptions& options);

// The record a registrar with these (normalized) options writes.
ServiceInstance InstanceFromOptions(const RegistrarOptions& options);

// Checks a version string: non-empty, at most 128 bytes, printable ASCII
// without spaces.
absl::Status ValidateVersion(absl::string_view version);

// Checks user metadata: "weight", "drained" and "lane" are reserved; keys
// non-empty, keys and values UTF-8.
absl::Status ValidateMetadata(
    const std::map<std::string, std::string>& metadata);

}  // namespace vlb::internal

#endif  // VLB_SRC_REGISTRY_REGISTRAR_OPTIONS_H_
