// `vlbctl list`, `drain`, `undrain` and `weight`: the instances registered
// in etcd and in-place edits of a live registration, through the public
// admin API in vlb/admin.h (README "vlbctl").
#ifndef VLB_TOOLS_VLBCTL_INSTANCES_H_
#define VLB_TOOLS_VLBCTL_INSTANCES_H_

#include "vlbctl/command.h"

namespace vlb::vlbctl {

Command ListCommand();
Command DrainCommand();
Command UndrainCommand();
Command WeightCommand();

}  // namespace vlb::vlbctl

#endif  // VLB_TOOLS_VLBCTL_INSTANCES_H_
