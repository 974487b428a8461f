// vlb::VersionPolicyOptions (the C++ API's vlb_version settings) as the
// policy reads them, for CreateChannel's check and for ExplainCall, so that
// both judge the options exactly as the policy does. Thread-safe; cheap.
#ifndef VLB_SRC_CLIENT_POLICY_OPTIONS_H_
#define VLB_SRC_CLIENT_POLICY_OPTIONS_H_

#include "balancer/policy_config.h"
#include "vlb/grpc.h"

namespace vlb::internal {

// Errors about VersionPolicyOptions name its C++ fields.
inline constexpr VersionPolicyFieldNames kPolicyOptionNames = {
    "VersionPolicyOptions.header",      "VersionPolicyOptions.default_version",
    "VersionPolicyOptions.fallback",    "VersionPolicyOptions.child_policy",
    "VersionPolicyOptions.lane_header", "VersionPolicyOptions.strict_lanes"};

// The options as the policy reads them from VersionServiceConfig(): an
// empty default_version is absent, every other field is written as it is.
VersionPolicySettings SettingsFromOptions(const VersionPolicyOptions& options);

}  // namespace vlb::internal

#endif  // VLB_SRC_CLIENT_POLICY_OPTIONS_H_
