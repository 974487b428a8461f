// The lane a call asks for, from its lane header's value as gRPC hands it
// to the picker. gRPC joins repeated entries of one name with ',' (a
// handler that calls both PropagateRoutingHeaders and SetLane on one
// context, or a proxy that adds its own), and values may carry spaces:
// without this a strict lane's calls would reach the baseline because
// "feature-x,feature-x" names no lane.
#ifndef VLB_SRC_BALANCER_LANE_VALUE_H_
#define VLB_SRC_BALANCER_LANE_VALUE_H_

#include "absl/strings/string_view.h"

namespace vlb::internal {

// Sets `*lane` to the one lane that every comma-separated part of `value`
// names, trimmed of ASCII whitespace ("a", " a ", "a, a" and "a,,a" are
// all "a"; a blank value is no lane) and returns true. Returns false, and
// leaves `*lane` alone, when the parts name different lanes ("a,b"): such a
// call is refused rather than routed by either. `*lane` points into
// `value`. Thread-safe; one pass, no allocation (it runs on the pick path).
bool ParseLaneValue(absl::string_view value, absl::string_view* lane);

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_LANE_VALUE_H_
