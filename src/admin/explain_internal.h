// The part of ExplainCall (vlb/explain.h) that needs no etcd: given the
// listing, the client's config, the compiled route table and the rule
// decision, build the pick table a client would build and say what it
// does with each instance. Separate so that unit tests can feed it
// listings. Thread-safe; allocates.
#ifndef VLB_SRC_ADMIN_EXPLAIN_INTERNAL_H_
#define VLB_SRC_ADMIN_EXPLAIN_INTERNAL_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "balancer/policy_config.h"
#include "routing/route_table.h"
#include "vlb/admin.h"
#include "vlb/explain.h"

namespace vlb::internal {

// Fills `out`'s rule, request, lane and outcome fields and its instances.
// `routes`: null without a route document in force; `decision`: what it
// decided for the call (default-constructed without one). `config` has the
// document's defaults applied already.
void ExplainPick(const ServiceListing& listing, const PolicyConfig& config,
                 const RouteTable* routes,
                 std::optional<absl::string_view> requested,
                 const RouteDecision& decision, absl::string_view lane,
                 Explanation* out);

}  // namespace vlb::internal

#endif  // VLB_SRC_ADMIN_EXPLAIN_INTERNAL_H_
