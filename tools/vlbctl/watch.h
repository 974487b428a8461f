// `vlbctl watch SERVICE`: one line per change of a service's instances as
// it happens, on the internal etcd client's watch (src/etcd/client.h).
#ifndef VLB_TOOLS_VLBCTL_WATCH_H_
#define VLB_TOOLS_VLBCTL_WATCH_H_

#include "vlbctl/command.h"

namespace vlb::vlbctl {

Command WatchCommand();

}  // namespace vlb::vlbctl

#endif  // VLB_TOOLS_VLBCTL_WATCH_H_
