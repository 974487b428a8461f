// Configuration of vlb's load-balancing policies, parsed from the policy's
// part of a gRPC service config, e.g.
//   {"loadBalancingConfig": [{"vlb_version": {
//       "header": "x-version", "defaultVersion": "v1",
//       "fallback": ["v2", "*"], "childPolicy": "weighted_round_robin"}}]}
// The adapter hands over the JSON text of the inner object.
#ifndef VLB_SRC_BALANCER_POLICY_CONFIG_H_
#define VLB_SRC_BALANCER_POLICY_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "balancer/version.h"

namespace vlb::internal {

enum class ChildPolicy { kRoundRobin, kWeightedRoundRobin, kRandom };

struct PolicyConfig {
  // When false (vlb_weighted_round_robin, vlb_random) calls are not routed
  // by version: every instance is eligible and headers are ignored.
  bool version_aware = true;
  std::string header = "x-version";  // lower-case metadata key
  // Used when a call names no version; without it such calls may use every
  // instance.
  std::optional<VersionRequest> default_version;
  // Tried in order when nothing matches the call's version ("*" = any).
  std::vector<VersionRequest> fallback;
  ChildPolicy child = ChildPolicy::kRoundRobin;
};

// Parses the JSON object configuring `policy_name` ("vlb_version",
// "vlb_weighted_round_robin" or "vlb_random"). Errors are InvalidArgument
// and name the field, e.g. `vlb_version.fallback[1]: invalid version
// request "^": ...`. Unknown fields are errors (typos should not pass
// silently).
absl::StatusOr<PolicyConfig> ParsePolicyConfig(absl::string_view policy_name,
                                               absl::string_view json);

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_POLICY_CONFIG_H_
