// How vlbctl shows one instance record, shared by `list` and `watch`.
//
// Pure functions; thread-safe.
#ifndef VLB_TOOLS_VLBCTL_INSTANCE_TEXT_H_
#define VLB_TOOLS_VLBCTL_INSTANCE_TEXT_H_

#include <string>

#include "nlohmann/json.hpp"
#include "vlb/service_instance.h"

namespace vlb::vlbctl {

// {"version", "lane", "address", "weight", "drained", "metadata"}; lane is
// "" for the baseline.
nlohmann::json InstanceJson(const ServiceInstance& instance);

// "version=v1 lane=- address=127.0.0.1:8089 weight=1 drained=no".
std::string InstanceText(const ServiceInstance& instance);

// What changed among the fields operators act on, "" when none did:
// "weight=1->5 drained=no->yes" (version, lane, address, weight, drained).
std::string ChangedFields(const ServiceInstance& before,
                          const ServiceInstance& after);

}  // namespace vlb::vlbctl

#endif  // VLB_TOOLS_VLBCTL_INSTANCE_TEXT_H_
