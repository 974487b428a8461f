// The data plane of vlb's load-balancing policies, in plain C++ (no gRPC
// types), so it can be unit-tested with fake endpoints and reused when the
// gRPC adapter is ported to another gRPC version.
//
// The adapter rebuilds a PickTable whenever the set of endpoints or their
// connectivity changes, and publishes it in an immutable picker. Pick() is
// then called concurrently by every call of the channel: it takes no lock
// and allocates nothing (one relaxed atomic add per pick; for kRandom a
// thread-local generator).
//
// Lanes (README "Lanes"): the endpoints are split by lane into partitions
// (partition.h), the baseline (no lane) and one per lane, each a complete
// engine of its own:
//   group_index.h       endpoints grouped by registered version, READY
//                       layout, weights; which groups a request matches
//   request_resolver.h  the call's effective request (header, default,
//                       fallbacks) and what it resolves to, behind the
//                       resolution cache (resolution_cache.h)
//   pick_scheduler.h    rotation counters per candidate set; round robin,
//                       weighted round robin, random
// A pick finds the call's lane (a short search among the lanes present) and
// resolves the call there; unless the lane is strict, or its instances
// serve the call's own request, it resolves the call in the baseline too
// and the lane wins when it has ready (or still connecting: the call then
// waits, as for a version) instances for the call at the same step
// (request, then each fallback) as the baseline or an earlier one, except
// that at the same step a lane with only drained instances for the call
// yields to undrained baseline ones. Only the winner rotates. So a lane whose
// matching instances all failed, or that has none, falls back to the baseline.
// A call without a lane picks only in the baseline; a strict lane no instance
// has fails. Inside a partition a pick is: Lookup the resolution cached for the
// header text (or Resolve it), then let the scheduler choose in its candidate
// set. A failed pick's PickResult carries what the pick found, and
// FailureStatus formats it.
#ifndef VLB_SRC_BALANCER_PICK_TABLE_H_
#define VLB_SRC_BALANCER_PICK_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "balancer/endpoint_info.h"
#include "balancer/partition.h"
#include "balancer/pick_result.h"
#include "balancer/policy_config.h"

namespace vlb::internal {

// The lane a call asked for; an empty name is none.
struct LaneRequest {
  absl::string_view name;
  // No baseline fallback even if the lane is not among the config's
  // strict_lanes (a route rule's "strictLane").
  bool strict = false;
};

class PickTable {
 public:
  // `service` names the service in failure messages. `seed` picks the
  // starting point of the rotation (callers pass a random value so that
  // clients started together don't all begin with the same instance).
  //
  // `routed` are the requests route rules may choose instead of a call's
  // own (RouteTable's, in its order); each is resolved here, once, and
  // picked by PickRouted(i).
  static std::unique_ptr<PickTable> Build(
      const std::vector<EndpointInfo>& endpoints, const PolicyConfig& config,
      std::string service, uint64_t seed,
      std::vector<VersionRequest> routed = {});

  // Out of line, where Impl is complete.
  ~PickTable();

  // `requested` is the call's header value, nullopt when absent; `lane`
  // the call's lane. Lock-free and allocation-free.
  //
  // Inline for a call without a lane (nearly every pick), which only the
  // baseline serves: the whole cached pick then compiles into the caller,
  // with the request in registers. Out of line it cost a call, the
  // arguments' copies through the stack and a store-forwarding stall on
  // them, about a third of a round_robin pick.
  PickResult Pick(const std::optional<absl::string_view>& requested,
                  LaneRequest lane = {}) const {
    if (lane.name.empty()) return InBaseline(baseline_->Pick(requested));
    return PickWithLanes(requested, std::nullopt, lane);
  }

  // Picks for Build()'s `routed[i]` in place of the call's own request
  // (source kRoute; FailureStatus then wants routed[i]'s text as
  // `requested`). Lock-free and allocation-free; `i` must be in range.
  // Inline in the same case as Pick().
  PickResult PickRouted(size_t i, LaneRequest lane = {}) const {
    if (lane.name.empty()) return InBaseline(baseline_->PickRouted(i));
    return PickWithLanes(std::nullopt, i, lane);
  }
  absl::string_view routed_text(size_t i) const;

  // The status to fail a call with, for a non-kPicked, non-kQueue result of
  // Pick(requested, lane), from what the result carries: `requested` and
  // `lane` are only quoted. Allocates; only used on the failure path. E.g.
  //   UNAVAILABLE: no instance of hwholiday.srv.app matches version "v3"
  //   (available: v1, v2)
  absl::Status FailureStatus(const PickResult& result,
                             std::optional<absl::string_view> requested,
                             absl::string_view lane = {}) const;

  // The endpoints a pick with these arguments chooses among (indices into
  // Build()'s `endpoints`, each once), empty when it fails or queues; what
  // `vlbctl explain` shows. `routed` is an index into Build()'s `routed`,
  // or nullopt for the call's own request. Allocates; not for the pick
  // path. Like Pick, it uses the resolution cache but advances no counter.
  std::vector<uint32_t> Eligible(std::optional<absl::string_view> requested,
                                 std::optional<size_t> routed, LaneRequest lane,
                                 PickResult* result) const;

  // Whether some endpoint has a lane. Without one, only a strict lane can
  // change a pick (it fails), so pickers may skip looking the lane up.
  bool has_lanes() const;

  // Overall connectivity for the channel: READY if any endpoint is ready,
  // else CONNECTING if any is connecting or idle, else TRANSIENT_FAILURE
  // (also when there are no endpoints).
  EndpointState AggregateState() const;

 private:
  PickTable() = default;
  // A baseline result with Build()'s endpoint index.
  PickResult InBaseline(PickResult r) const {
    if (baseline_to_endpoint_ != nullptr &&
        r.kind == PickResult::Kind::kPicked) {
      r.endpoint = baseline_to_endpoint_[r.endpoint];
    }
    return r;
  }
  PickResult PickWithLanes(const std::optional<absl::string_view>& requested,
                           std::optional<size_t> routed,
                           LaneRequest lane) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  // The baseline partition (owned by impl_), and its local index ->
  // Build()'s index, null when they are the same (no endpoint has a lane).
  const Partition* baseline_ = nullptr;
  const uint32_t* baseline_to_endpoint_ = nullptr;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_PICK_TABLE_H_
