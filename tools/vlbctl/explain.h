// `vlbctl explain SERVICE`: which rule decides a call, which request results,
// which instances are eligible and why the others are not, through the
// public API in vlb/explain.h (the picker's own code).
#ifndef VLB_TOOLS_VLBCTL_EXPLAIN_H_
#define VLB_TOOLS_VLBCTL_EXPLAIN_H_

#include "vlbctl/command.h"

namespace vlb::vlbctl {

Command ExplainCommand();

}  // namespace vlb::vlbctl

#endif  // VLB_TOOLS_VLBCTL_EXPLAIN_H_
