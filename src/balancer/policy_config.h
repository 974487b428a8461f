// Configuration of vlb's load-balancing policies, parsed from the policy's
// part of a gRPC service config, e.g.
//   {"loadBalancingConfig": [{"vlb_version": {
//       "header": "x-version", "defaultVersion": "v1",
//       "fallback": ["v2", "*"], "childPolicy": "weighted_round_robin",
//       "laneHeader": "x-lane", "strictLanes": ["feature-x"]}}]}
// vlb_weighted_round_robin and vlb_random take only the two lane fields.
// The adapter hands over the inner object as gRPC parsed it, converted to a
// JSON tree (no text in between); this layer never sees gRPC types.
#ifndef VLB_SRC_BALANCER_POLICY_CONFIG_H_
#define VLB_SRC_BALANCER_POLICY_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "balancer/version.h"
#include "nlohmann/json_fwd.hpp"
#include "vlb/policy_names.h"

namespace vlb::internal {

enum class ChildPolicy { kRoundRobin, kWeightedRoundRobin, kRandom };

// The longest fallback list a policy config or route document may give: a
// pick records the step that served it in a byte (PickResult), and a
// longer list is a mistake, not a release plan.
inline constexpr size_t kMaxFallbacks = 64;

struct PolicyConfig {
  // When false (vlb_weighted_round_robin, vlb_random) calls are not routed
  // by version: every instance is eligible and headers are ignored.
  bool version_aware = true;
  std::string header = kDefaultVersionHeader;  // lower-case metadata key
  // Used when a call names no version; without it such calls may use every
  // instance.
  std::optional<VersionRequest> default_version;
  // Tried in order when nothing matches the call's version ("*" = any);
  // at most kMaxFallbacks.
  std::vector<VersionRequest> fallback;
  ChildPolicy child = ChildPolicy::kRoundRobin;
  // Every policy: the metadata key naming a call's lane (lower case), and
  // the lanes whose calls never fall back to the baseline (README "Lanes").
  std::string lane_header = kDefaultLaneHeader;
  std::vector<std::string> strict_lanes;
};

// Reads the JSON value configuring `policy_name` (one of the names in
// vlb/policy_names.h): null (defaults) or an object. Errors are
// InvalidArgument and name the field, e.g. `vlb_version.fallback[1]:
// invalid version request "^": ...`. Unknown fields are errors (typos
// should not pass silently). vlb_version's values are checked by
// MakeVersionPolicyConfig. Thread-safe; O(size of `value`).
absl::StatusOr<PolicyConfig> PolicyConfigFromJson(absl::string_view policy_name,
                                                  const nlohmann::json& value);

// The same from JSON text (tests, tools): empty text means defaults, and
// text that is not JSON is InvalidArgument "<policy>: invalid JSON: <where
// and why>". Thread-safe.
absl::StatusOr<PolicyConfig> ParsePolicyConfig(absl::string_view policy_name,
                                               absl::string_view json);

// vlb_version's settings as plain values, from its JSON object or from
// vlb::VersionPolicyOptions. Defaults are those of an absent JSON field.
struct VersionPolicySettings {
  std::string header = kDefaultVersionHeader;
  std::optional<std::string> default_version;  // nullopt: none
  std::vector<std::string> fallback;
  std::string child_policy = "round_robin";
  std::string lane_header = kDefaultLaneHeader;
  std::vector<std::string> strict_lanes;
};

// What errors call each setting: the service config's names
// (kServiceConfigFieldNames) or the C++ API's. `fallback` gets "[i]"
// appended.
struct VersionPolicyFieldNames {
  absl::string_view header;
  absl::string_view default_version;
  absl::string_view fallback;
  absl::string_view child_policy;
  absl::string_view lane_header;
  absl::string_view strict_lanes;
};
inline constexpr VersionPolicyFieldNames kServiceConfigFieldNames = {
    "vlb_version.header",     "vlb_version.defaultVersion",
    "vlb_version.fallback",   "vlb_version.childPolicy",
    "vlb_version.laneHeader", "vlb_version.strictLanes"};

// Checks `settings` and builds the vlb_version config. This is the only
// place its values are judged (ParsePolicyConfig calls it), so settings
// accepted here are accepted by the policy. Errors are InvalidArgument
// "<name>: <problem>" for the first bad setting, in the order of the
// struct: header (NormalizeVersionHeaderName), default version and
// fallbacks (VersionRequest::Parse; more than kMaxFallbacks is an error),
// child policy, lane header, strict
// lanes (vlb::ValidateLane). Thread-safe.
absl::StatusOr<PolicyConfig> MakeVersionPolicyConfig(
    const VersionPolicySettings& settings,
    const VersionPolicyFieldNames& names);

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_POLICY_CONFIG_H_
