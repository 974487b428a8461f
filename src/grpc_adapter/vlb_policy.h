// vlb's load-balancing policies inside gRPC: vlb_version,
// vlb_weighted_round_robin and vlb_random. One policy class serves all
// three; what differs is the PolicyConfig their factories parse.
#ifndef VLB_SRC_GRPC_ADAPTER_VLB_POLICY_H_
#define VLB_SRC_GRPC_ADAPTER_VLB_POLICY_H_

#include "grpc_adapter/core.h"

namespace vlb::grpc_adapter {

// Registers the three policies under the names of vlb/policy_names.h.
void RegisterVlbPolicies(grpc_core::CoreConfiguration::Builder* builder);

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_VLB_POLICY_H_
