// Drives any load-balancing policy registered with gRPC (vlb's or gRPC's
// own) without a channel or a network: fake subchannels whose connectivity
// the caller sets, and picks through the policy's real SubchannelPicker.
// Used by unit tests and benchmarks.
//
// This header deliberately exposes no gRPC core types (only plain C++ and
// absl), so that code using it does not need the core include path nor the
// -UNDEBUG rule that comes with it (see src/grpc_adapter/core.h).
//
// Threading: the control-plane methods (SetEndpoints, SetState...) must not
// run concurrently with each other or with Pick(). Pick() may be called from
// any number of threads at once, as a channel does; with
// Options::serialize_picks it holds a mutex, as gRPC 1.51's channel does
// around pickers (gRPC's own pickers, e.g. round_robin's, are not thread-safe
// without it).
#ifndef VLB_TESTS_SUPPORT_LB_HARNESS_H_
#define VLB_TESTS_SUPPORT_LB_HARNESS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::testing {

// Mirrors grpc_connectivity_state (without SHUTDOWN, which subchannels never
// report to policies).
enum class Connectivity { kIdle, kConnecting, kReady, kTransientFailure };

absl::string_view ConnectivityName(Connectivity state);

// One resolved instance, as vlb's resolver would deliver it.
struct FakeEndpoint {
  // IPv4 "a.b.c.d:port"; empty means one derived from the endpoint's
  // position. The address is the endpoint's identity across SetEndpoints()
  // calls (its fake subchannel keeps its state).
  std::string address;
  std::string version;
  uint32_t weight = 1;
  bool drained = false;
  std::string lane;  // empty: the baseline
};

struct PickOutcome {
  enum class Kind { kComplete, kQueue, kFail, kDrop };
  Kind kind = Kind::kQueue;
  // kComplete: the index, in the latest SetEndpoints() list, of the picked
  // endpoint; kNoEndpoint if the subchannel's address is no longer listed.
  size_t endpoint = 0;
  absl::Status status;  // kFail and kDrop

  static constexpr size_t kNoEndpoint = static_cast<size_t>(-1);
};

class LbHarness {
 public:
  struct Options {
    // Returned by the helper's GetAuthority(): vlb's policies name the
    // service with it in messages.
    std::string authority = "hwholiday.srv.app";
    // The metadata key Pick() sends the version in.
    std::string version_header = "x-version";
    // The metadata key Pick() sends the lane in.
    std::string lane_header = "x-lane";
    bool serialize_picks = false;
    // A route document (README "Route documents") handed to the policy with
    // every update, as the etcd resolver does; empty: none. Create() fails
    // on an invalid one.
    std::string route_document;
  };

  // `lb_config_json` is a service config's loadBalancingConfig list, e.g.
  // `[{"vlb_version": {"childPolicy": "weighted_round_robin"}}]` or
  // `[{"round_robin": {}}]`; the first policy gRPC knows is created. Calls
  // vlb::RegisterGrpcPlugins() first, so vlb's policies are known (it fails
  // if gRPC's configuration was built before without them).
  static absl::StatusOr<std::unique_ptr<LbHarness>> Create(
      absl::string_view lb_config_json, Options options);
  static absl::StatusOr<std::unique_ptr<LbHarness>> Create(
      absl::string_view lb_config_json) {
    return Create(lb_config_json, Options());
  }

  ~LbHarness();
  LbHarness(const LbHarness&) = delete;
  LbHarness& operator=(const LbHarness&) = delete;

  // Delivers the list through the policy's UpdateLocked() and returns what
  // it returned. New addresses start IDLE.
  absl::Status SetEndpoints(const std::vector<FakeEndpoint>& endpoints);
  // Delivers a resolver error instead of addresses.
  absl::Status SetResolverError(const absl::Status& error);

  // Sets the connectivity of the endpoint at `index` (in the latest list)
  // and notifies every watcher of its subchannels, inside the policy's
  // WorkSerializer, before returning. `status` accompanies
  // kTransientFailure.
  void SetState(size_t index, Connectivity state,
                const absl::Status& status = absl::UnavailableError(
                    "fake subchannel: connection failed"));
  // The same for every listed endpoint, each notification in turn.
  void SetAllStates(Connectivity state);

  // One pick through the latest picker, with `version` (if any) in the
  // version header and `lane` (if any) in the lane header. Before the
  // policy published any picker the outcome is kQueue.
  PickOutcome Pick(std::optional<absl::string_view> version,
                   std::optional<absl::string_view> lane = std::nullopt) const;

  // Changes Options::serialize_picks (not while picks run).
  void SetSerializePicks(bool serialize);

  // What the policy last reported to the channel.
  Connectivity state() const;
  absl::Status status() const;
  // Pickers the policy published so far (each UpdateState call).
  uint64_t PickerRebuildCount() const;

  // Counters of the fake helper and subchannels.
  size_t SubchannelsCreated() const;
  size_t ConnectionRequests(size_t index) const;
  size_t ReresolutionRequests() const;

  size_t num_endpoints() const;
  absl::string_view policy_name() const;

  // While alive, keeps a gRPC ExecCtx on this thread, so that Pick() does
  // not create one per call: a channel picks inside an ExecCtx that spans
  // the whole call, so one per pick would overstate a pick's cost.
  // Benchmarks hold one per thread around their loop. Closures scheduled
  // meanwhile run when it is destroyed, on the same thread.
  class ExecCtxScope {
   public:
    ExecCtxScope();
    ~ExecCtxScope();
    ExecCtxScope(const ExecCtxScope&) = delete;
    ExecCtxScope& operator=(const ExecCtxScope&) = delete;

   private:
    struct Rep;
    std::unique_ptr<Rep> rep_;
  };

  struct Impl;

 private:
  explicit LbHarness(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_LB_HARNESS_H_
