// An endpoint as the pick engine sees it: the versions it is registered
// with, its weight and its connectivity. The gRPC adapter fills one per
// address when it rebuilds the pick table. Plain data.
#ifndef VLB_SRC_BALANCER_ENDPOINT_INFO_H_
#define VLB_SRC_BALANCER_ENDPOINT_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace vlb::internal {

enum class EndpointState { kIdle, kConnecting, kReady, kTransientFailure };

// One address, as the policy sees it.
struct EndpointInfo {
  // Every version the address is registered with (several when more than
  // one live record names it; see README "Shared addresses"). An empty list
  // or an empty string stands for an unversioned instance.
  std::vector<std::string> versions;
  // 0: weighted round robin sends it calls only when no ready candidate
  // has a non-zero weight.
  uint32_t weight = 1;
  // Being drained by its server (ServiceInstance::drained): every child
  // policy sends it calls only when no ready candidate is undrained.
  bool drained = false;
  // Its lane (README "Lanes"), empty for the baseline: it gets calls only
  // from calls asking for that lane.
  std::string lane;
  EndpointState state = EndpointState::kIdle;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_ENDPOINT_INFO_H_
