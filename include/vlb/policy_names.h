// The names vlb's load-balancing policies go by in a gRPC service config
// ("loadBalancingConfig": [{"vlb_version": {...}}]), and the metadata key
// that carry a call's version and lane unless configured otherwise. Defined
// here once; plain constants without dependencies, so every layer can use them.
#ifndef VLB_POLICY_NAMES_H_
#define VLB_POLICY_NAMES_H_

namespace vlb {

// Routes each call by its version header.
inline constexpr char kVersionPolicyName[] = "vlb_version";
// Static weights from the registry, versions ignored.
inline constexpr char kWeightedRoundRobinPolicyName[] =
    "vlb_weighted_round_robin";
// Uniform random, versions ignored.
inline constexpr char kRandomPolicyName[] = "vlb_random";

// vlb_version's default "header" and vlb::SetVersion's default key.
inline constexpr char kDefaultVersionHeader[] = "x-version";

// The metadata key that carries a call's lane (README "Lanes") unless a
// policy's "laneHeader" says otherwise; also what vlb::PropagateRoutingHeaders
// copies by default.
inline constexpr char kDefaultLaneHeader[] = "x-lane";

}  // namespace vlb

#endif  // VLB_POLICY_NAMES_H_
