// `vlbctl routes get|set|validate|delete`: a service's route document
// (README "Route documents"), through the public API in vlb/route_admin.h.
#ifndef VLB_TOOLS_VLBCTL_ROUTES_H_
#define VLB_TOOLS_VLBCTL_ROUTES_H_

#include <string>

#include "absl/flags/declare.h"
#include "vlbctl/command.h"

namespace vlb::vlbctl {

Command RoutesCommand();

}  // namespace vlb::vlbctl

// --routes_root, which `explain` reads too.
ABSL_DECLARE_FLAG(std::string, routes_root);

#endif  // VLB_TOOLS_VLBCTL_ROUTES_H_
