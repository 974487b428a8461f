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
// Rotation is per candidate set: every set of instances a request can
// resolve to (all of them, one version group, or a union of groups) has its
// own counter, so a periodic mix of requests (v1, v2, v1, v2...) still
// rotates each version over all of its instances.
#ifndef VLB_SRC_BALANCER_PICK_TABLE_H_
#define VLB_SRC_BALANCER_PICK_TABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "balancer/policy_config.h"
#include "balancer/version.h"

namespace vlb::internal {

enum class EndpointState { kIdle, kConnecting, kReady, kTransientFailure };

// One address, as the policy sees it.
struct EndpointInfo {
  // Every version the address is registered with (several when more than
  // one live record names it; see README "Shared addresses"). An empty list
  // or an empty string stands for an unversioned instance.
  std::vector<std::string> versions;
  uint32_t weight = 1;  // 0 = drained
  EndpointState state = EndpointState::kIdle;
};

struct PickResult {
  enum class Kind {
    kPicked,       // `endpoint` is the index into Build()'s `endpoints`
    kQueue,        // matching instances are still connecting: wait
    kNoMatch,      // no instance matches the request or any fallback
    kUnreachable,  // matching instances exist but all failed to connect
    kBadRequest,   // the requested version is not valid grammar
  };
  Kind kind = Kind::kQueue;
  size_t endpoint = 0;
};

class PickTable {
 public:
  // `service` names the service in failure messages. `seed` picks the
  // starting point of the rotation (callers pass a random value so that
  // clients started together don't all begin with the same instance).
  static std::unique_ptr<PickTable> Build(
      const std::vector<EndpointInfo>& endpoints, const PolicyConfig& config,
      std::string service, uint64_t seed);

  // Out of line, where Impl is complete.
  ~PickTable();

  // `requested` is the call's header value, nullopt when absent. Lock-free
  // and allocation-free.
  PickResult Pick(std::optional<absl::string_view> requested) const;

  // The status to fail a call with, for a non-kPicked, non-kQueue result.
  // Allocates; only used on the failure path. For example:
  //   UNAVAILABLE: no instance of hwholiday.srv.app matches version "v3"
  //   (available: v1, v2)
  absl::Status FailureStatus(const PickResult& result,
                             std::optional<absl::string_view> requested) const;

  // Overall connectivity for the channel: READY if any endpoint is ready,
  // else CONNECTING if any is connecting or idle, else TRANSIENT_FAILURE
  // (also when there are no endpoints).
  EndpointState AggregateState() const;

  size_t ready_count() const;

  // ... private members are up to the implementation.
 private:
  PickTable() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_PICK_TABLE_H_
