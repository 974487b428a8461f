// The control plane runs on the channel's WorkSerializer (methods named
// ...Locked and the watcher callbacks): it tracks one subchannel per
// address and, whenever an address or its connectivity changes, builds an
// immutable PickTable (balancer/, plain C++) and publishes it in a new
// picker. The data plane is Picker::Pick: a metadata lookup plus
// PickTable::Pick, without locks or allocations.
#include "grpc_adapter/vlb_policy.h"

#include <grpc/support/log.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "balancer/lane_value.h"
#include "balancer/pick_table.h"
#include "balancer/policy_config.h"
#include "grpc_adapter/core_json.h"
#include "grpc_adapter/instance_attribute.h"
#include "grpc_adapter/plugin_state.h"
#include "grpc_adapter/route_document_arg.h"
#include "nlohmann/json.hpp"
#include "routing/route_table.h"
#include "vlb/policy_names.h"

namespace vlb::grpc_adapter {
namespace {

using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;
using grpc_core::ServerAddress;
using grpc_core::SubchannelInterface;

class VlbConfig final : public LoadBalancingPolicy::Config {
 public:
  VlbConfig(absl::string_view name, internal::PolicyConfig config)
      : name_(name), config_(std::move(config)) {}
  absl::string_view name() const override { return name_; }
  const internal::PolicyConfig& config() const { return config_; }

 private:
  const absl::string_view name_;  // one of the static policy names
  const internal::PolicyConfig config_;
};

// A call's metadata value by name, for the version header and route rules.
// `buffer` is only written to when the entry appears more than once; an
// empty std::string does not allocate.
std::optional<absl::string_view> LookUp(
    LoadBalancingPolicy::MetadataInterface* metadata, absl::string_view key,
    std::string* buffer) {
  absl::optional<absl::string_view> value = metadata->Lookup(key, buffer);
  if (!value.has_value()) return std::nullopt;
  return *value;
}

class Picker final : public LoadBalancingPolicy::SubchannelPicker {
 public:
  Picker(std::unique_ptr<internal::PickTable> table,
         std::vector<RefCountedPtr<SubchannelInterface>> subchannels,
         const internal::PolicyConfig& config,
         std::shared_ptr<const internal::RouteTable> routes)
      : table_(std::move(table)),
        subchannels_(std::move(subchannels)),
        header_(config.header),
        lane_header_(config.lane_header),
        version_aware_(config.version_aware),
        routes_(std::move(routes)),
        // Without laned endpoints only a strict lane changes a pick; most
        // channels then skip the lane header's lookup.
        lanes_matter_(
            table_->has_lanes() || !config.strict_lanes.empty() ||
            (routes_ != nullptr && routes_->has_strict_lane_rules())) {}

  using PickArgs = LoadBalancingPolicy::PickArgs;
  using PickResult = LoadBalancingPolicy::PickResult;

  PickResult Pick(PickArgs args) override {
    // Lookup's buffer for a header sent more than once.
    std::string joined;
    std::optional<absl::string_view> requested;
    if (version_aware_) {
      // Emplaced, not assigned from LookUp(): GCC copies a whole optional
      // through an 8-byte load of its 1-byte flag, a store-forwarding
      // stall on every pick.
      if (absl::optional<absl::string_view> value =
              args.initial_metadata->Lookup(header_, &joined)) {
        requested.emplace(*value);
      }
    }
    // Most channels have neither lanes nor a route document: no lane to
    // look up, and the table's pick compiles in here (PickTable::Pick).
    if (!lanes_matter_ && routes_ == nullptr) {
      return Complete(table_->Pick(requested), requested, {}, nullptr, args);
    }
    return PickLanedOrRouted(args, requested);
  }

 private:
  // Out of line: its buffers and lane request would otherwise be set up
  // on every pick.
  ABSL_ATTRIBUTE_NOINLINE PickResult PickLanedOrRouted(
      PickArgs args, const std::optional<absl::string_view>& requested) {
    std::string lane_buffer;
    internal::LaneRequest lane;
    if (lanes_matter_) {
      if (std::optional<absl::string_view> value =
              LookUp(args.initial_metadata, lane_header_, &lane_buffer)) {
        if (!internal::ParseLaneValue(*value, &lane.name)) {
          return SeveralLanes(*value);
        }
      }
    }
    if (routes_ != nullptr) {
      std::string rule_buffer;
      auto lookup = [&](absl::string_view key) {
        return LookUp(args.initial_metadata, key, &rule_buffer);
      };
      const internal::RouteDecision decision =
          routes_->Evaluate(requested, lookup);
      lane.strict = decision.strict_lane;
      if (decision.request != internal::RouteDecision::kNone) {
        return Complete(table_->PickRouted(decision.request, lane),
                        table_->routed_text(decision.request), lane, &decision,
                        args);
      }
      if (decision.rule != internal::RouteDecision::kNone) {
        return Complete(table_->Pick(requested, lane), requested, lane,
                        &decision, args);
      }
    }
    return Complete(table_->Pick(requested, lane), requested, lane, nullptr,
                    args);
  }

  // `requested`: what FailureStatus quotes; `decision`: the route rule
  // that decided the call, if one did. The picked case inline, the rest
  // out of line: most picks pick. (`result` by value costs more: GCC
  // reassembles its two registers byte by byte before the branch.)
  PickResult Complete(const internal::PickResult& result,
                      const std::optional<absl::string_view>& requested,
                      internal::LaneRequest lane,
                      const internal::RouteDecision* decision,
                      const PickArgs& args) {
    if (ABSL_PREDICT_TRUE(result.kind == internal::PickResult::Kind::kPicked)) {
      return PickResult::Complete(subchannels_[result.endpoint]);
    }
    return NotPicked(result, requested, lane, decision, args);
  }

  ABSL_ATTRIBUTE_NOINLINE PickResult
  NotPicked(const internal::PickResult& result,
            const std::optional<absl::string_view>& requested,
            internal::LaneRequest lane, const internal::RouteDecision* decision,
            const PickArgs& args) const {
    switch (result.kind) {
      case internal::PickResult::Kind::kQueue:
        return PickResult::Queue();
      case internal::PickResult::Kind::kBadRequest: {
        // A malformed request never becomes valid, so even wait_for_ready
        // calls must not wait: Drop. gRPC rewrites INVALID_ARGUMENT from a
        // load balancer into an opaque INTERNAL (gRFC A54), so say INTERNAL
        // ourselves and keep the message readable.
        absl::Status status = table_->FailureStatus(result, requested);
        return PickResult::Drop(
            absl::InternalError(std::string(status.message())));
      }
      default:
        // Fail, not Drop: a wait_for_ready call waits for a picker that can
        // serve it (e.g. an instance of its version coming up); others fail
        // at once with this status.
        return PickResult::Fail(
            WithRule(table_->FailureStatus(result, requested,
                                           FailedCallsLane(lane, args)),
                     decision));
    }
  }

  // The lane a failure message names. Where lanes cannot change a pick the
  // picker did not read the header; a failing call may (it allocates
  // anyway), so the message is the same as vlbctl explain's.
  std::string FailedCallsLane(internal::LaneRequest lane,
                              const PickArgs& args) const {
    if (lanes_matter_) return std::string(lane.name);
    std::string buffer;
    absl::string_view name;
    if (std::optional<absl::string_view> value =
            LookUp(args.initial_metadata, lane_header_, &buffer)) {
      if (!internal::ParseLaneValue(*value, &name)) name = {};
    }
    return std::string(name);
  }

  // A call whose lane header names two lanes: refused rather than routed
  // by either (and never by the baseline for a strict one). It stays
  // malformed, so even wait_for_ready calls must not wait: Drop, as INTERNAL
  // for the reason given in NotPicked().
  PickResult SeveralLanes(absl::string_view value) const {
    return PickResult::Drop(absl::InternalError(absl::StrCat(
        "lane header \"", lane_header_, "\" names more than one lane (\"",
        absl::CHexEscape(value.substr(0, 200)),
        "\"): a call can be in one lane only")));
  }

  absl::Status WithRule(absl::Status status,
                        const internal::RouteDecision* decision) const {
    if (decision == nullptr) return status;
    return absl::Status(
        status.code(),
        absl::StrCat(status.message(), " (chosen by route rule \"",
                     routes_->rule_name(decision->rule), "\")"));
  }

  const std::unique_ptr<internal::PickTable> table_;
  const std::vector<RefCountedPtr<SubchannelInterface>> subchannels_;
  const std::string header_;
  const std::string lane_header_;
  const bool version_aware_;
  // Null: no route document in force.
  const std::shared_ptr<const internal::RouteTable> routes_;
  const bool lanes_matter_;
};

class VlbPolicy final : public LoadBalancingPolicy {
 public:
  VlbPolicy(Args args, absl::string_view name)
      : LoadBalancingPolicy(std::move(args)), name_(name) {}

  absl::string_view name() const override { return name_; }

  absl::Status UpdateLocked(UpdateArgs args) override {
    config_ = static_cast<const VlbConfig*>(args.config.get())->config();
    service_ = std::string(channel_control_helper()->GetAuthority());
    UpdateRoutes(args.args);
    if (!args.addresses.ok()) {
      // Keep serving the instances we know; only without any is the
      // resolver's error what calls should see.
      if (endpoints_.empty()) {
        // The resolver's message already names the service and the cause.
        const absl::Status status =
            absl::UnavailableError(args.addresses.status().message());
        channel_control_helper()->UpdateState(
            GRPC_CHANNEL_TRANSIENT_FAILURE, status,
            std::make_unique<TransientFailurePicker>(status));
      }
      return args.addresses.status();
    }
    std::map<std::string, RefCountedPtr<Endpoint>> previous;
    for (auto& endpoint : endpoints_) {
      previous.emplace(endpoint->address_key, std::move(endpoint));
    }
    endpoints_.clear();
    std::map<std::string, bool> taken;
    for (const ServerAddress& address : *args.addresses) {
      std::string key(address.address().addr, address.address().len);
      if (!taken.emplace(key, true).second) continue;  // duplicate address
      RefCountedPtr<Endpoint> endpoint;
      if (auto it = previous.find(key); it != previous.end()) {
        endpoint = std::move(it->second);
        previous.erase(it);
      } else {
        endpoint = StartEndpoint(address, args.args, key);
        if (endpoint == nullptr) continue;
      }
      const InstanceAttribute* attribute = InstanceAttribute::Of(address);
      endpoint->versions.clear();
      endpoint->weight = 1;
      endpoint->drained = false;
      endpoint->lane.clear();
      if (attribute != nullptr) {
        endpoint->versions = attribute->versions();
        endpoint->weight = attribute->instance().weight;
        endpoint->drained = attribute->instance().drained;
        endpoint->lane = attribute->instance().lane;
      }
      endpoints_.push_back(std::move(endpoint));
    }
    for (auto& [key, endpoint] : previous) StopEndpoint(endpoint.get());
    PublishPicker();
    return absl::OkStatus();
  }

  // Compiles the route document the resolver handed over, when it changed.
  // Only vlb_version routes by version; a channel that disabled resolver
  // configuration (GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION) keeps its
  // local config alone.
  void UpdateRoutes(const grpc_core::ChannelArgs& args) {
    const RouteDocumentArg* arg = args.GetObject<RouteDocumentArg>();
    if (!config_.version_aware || arg == nullptr ||
        args.GetBool(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION)
            .value_or(false)) {
      routes_ = nullptr;
      routes_revision_ = 0;
      return;
    }
    if (routes_ != nullptr && arg->mod_revision() == routes_revision_) return;
    routes_ = internal::RouteTable::Compile(arg->document(), service_,
                                            CurrentCaller());
    routes_revision_ = arg->mod_revision();
  }

  void ExitIdleLocked() override {
    for (const auto& endpoint : endpoints_) {
      if (endpoint->state == GRPC_CHANNEL_IDLE) {
        endpoint->subchannel->RequestConnection();
      }
    }
  }

  void ResetBackoffLocked() override {
    for (const auto& endpoint : endpoints_) {
      endpoint->subchannel->ResetBackoff();
    }
  }

 private:
  // Per-address state. Shared with the connectivity watcher, whose
  // callbacks can arrive after the watch was cancelled; `policy` is null
  // from then on.
  struct Endpoint : public grpc_core::RefCounted<Endpoint> {
    VlbPolicy* policy = nullptr;
    std::string address_key;
    RefCountedPtr<SubchannelInterface> subchannel;
    SubchannelInterface::ConnectivityStateWatcherInterface* watcher = nullptr;
    grpc_connectivity_state state = GRPC_CHANNEL_IDLE;
    // Set by TRANSIENT_FAILURE and cleared by READY: while reconnecting
    // after a failure the endpoint still counts as failed, so calls fail
    // fast instead of queueing behind a dead instance.
    bool failing = false;
    absl::Status last_failure;
    std::vector<std::string> versions;  // of every record naming it
    uint32_t weight = 1;
    bool drained = false;  // its record says so; see EndpointInfo::drained
    std::string lane;      // its record's; see EndpointInfo::lane
  };

  class Watcher final
      : public SubchannelInterface::ConnectivityStateWatcherInterface {
   public:
    Watcher(RefCountedPtr<Endpoint> endpoint,
            RefCountedPtr<LoadBalancingPolicy> policy)
        : endpoint_(std::move(endpoint)), policy_(std::move(policy)) {}

    void OnConnectivityStateChange(grpc_connectivity_state state,
                                   absl::Status status) override {
      if (endpoint_->policy != nullptr) {
        endpoint_->policy->OnEndpointState(endpoint_.get(), state, status);
      }
    }
    grpc_pollset_set* interested_parties() override {
      return policy_->interested_parties();
    }

   private:
    RefCountedPtr<Endpoint> endpoint_;
    RefCountedPtr<LoadBalancingPolicy> policy_;  // keeps the pollset alive
  };

  RefCountedPtr<Endpoint> StartEndpoint(const ServerAddress& address,
                                        const grpc_core::ChannelArgs& args,
                                        const std::string& key) {
    RefCountedPtr<SubchannelInterface> subchannel;
    if (auto it = removed_.find(key); it != removed_.end()) {
      subchannel = std::move(it->second.subchannel);
      removed_.erase(it);
      // Registered again: the server is likely up, so its old backoff says
      // nothing; connect now.
      subchannel->ResetBackoff();
    } else {
      subchannel = channel_control_helper()->CreateSubchannel(address, args);
    }
    if (subchannel == nullptr) return nullptr;
    auto endpoint = grpc_core::MakeRefCounted<Endpoint>();
    endpoint->policy = this;
    endpoint->address_key = key;
    endpoint->subchannel = std::move(subchannel);
    auto watcher = std::make_unique<Watcher>(endpoint, Ref());
    endpoint->watcher = watcher.get();
    endpoint->subchannel->WatchConnectivityState(std::move(watcher));
    // Connect eagerly, as round_robin does: the first call should not pay
    // for the handshake, and the picker needs READY subchannels.
    endpoint->subchannel->RequestConnection();
    return endpoint;
  }

  void StopEndpoint(Endpoint* endpoint) {
    endpoint->policy = nullptr;
    endpoint->subchannel->CancelConnectivityStateWatch(endpoint->watcher);
    endpoint->watcher = nullptr;
    if (shutdown_) return;
    // Bounded: with addresses that never come back the cache only costs.
    // (UpdateLocked stops the dropped endpoints after rebuilding
    // endpoints_, so the bound is the new endpoint count.)
    const size_t cap = endpoints_.size() + kExtraKeptRemoved;
    while (removed_.size() >= cap) {
      auto oldest = std::min_element(
          removed_.begin(), removed_.end(), [](const auto& a, const auto& b) {
            return a.second.expires < b.second.expires;
          });
      removed_.erase(oldest);
    }
    Removed& removed = removed_[endpoint->address_key];
    removed.subchannel = endpoint->subchannel;
    removed.expires = absl::Now() + kKeepRemoved;
    if (!sweep_scheduled_) ScheduleSweep();
  }

  void ScheduleSweep() {
    sweep_scheduled_ = true;
    sweep_timer_ = channel_control_helper()->GetEventEngine()->RunAfter(
        std::chrono::seconds(1), [self = Ref()]() mutable {
          grpc_core::ApplicationCallbackExecCtx app_exec_ctx;
          grpc_core::ExecCtx exec_ctx;
          auto* policy = static_cast<VlbPolicy*>(self.get());
          policy->work_serializer()->Run(
              [self = std::move(self)]() mutable {
                static_cast<VlbPolicy*>(self.get())->SweepLocked();
                self.reset();
              },
              DEBUG_LOCATION);
        });
  }

  void SweepLocked() {
    sweep_scheduled_ = false;
    if (shutdown_) return;
    const absl::Time now = absl::Now();
    for (auto it = removed_.begin(); it != removed_.end();) {
      it = it->second.expires <= now ? removed_.erase(it) : std::next(it);
    }
    if (!removed_.empty()) ScheduleSweep();
  }

  void OnEndpointState(Endpoint* endpoint, grpc_connectivity_state state,
                       const absl::Status& status) {
    if (shutdown_) return;
    const internal::EndpointState before = Classify(*endpoint);
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      endpoint->failing = true;
      endpoint->last_failure = status;
    } else if (state == GRPC_CHANNEL_READY) {
      endpoint->failing = false;
    } else if (state == GRPC_CHANNEL_IDLE) {
      // A connection went away (e.g. the server stopped): reconnect; the
      // subchannel applies gRPC's backoff.
      endpoint->subchannel->RequestConnection();
    }
    endpoint->state = state;
    // Pickers only see the class of each endpoint; no change, no rebuild.
    if (Classify(*endpoint) != before) SchedulePublish();
  }

  static internal::EndpointState Classify(grpc_connectivity_state state,
                                          bool failing) {
    if (state == GRPC_CHANNEL_READY) return internal::EndpointState::kReady;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || failing) {
      return internal::EndpointState::kTransientFailure;
    }
    if (state == GRPC_CHANNEL_CONNECTING) {
      return internal::EndpointState::kConnecting;
    }
    return internal::EndpointState::kIdle;
  }
  static internal::EndpointState Classify(const Endpoint& endpoint) {
    return Classify(endpoint.state, endpoint.failing);
  }

  // Connectivity changes come in bursts (all subchannels connecting after
  // an update, a server restart); rebuilding per change would cost
  // O(endpoints) each, O(n^2) per burst. Run() from inside the serializer
  // queues behind the notifications already waiting, so the whole burst
  // yields one picker.
  void SchedulePublish() {
    if (publish_scheduled_) return;
    publish_scheduled_ = true;
    work_serializer()->Run(
        [self = Ref(), this] {
          publish_scheduled_ = false;
          if (!shutdown_) PublishPicker();
        },
        DEBUG_LOCATION);
  }

  void PublishPicker() {
    if (endpoints_.empty()) {
      const absl::Status status = absl::UnavailableError(
          absl::StrCat("no instance of ", service_, " is registered"));
      channel_control_helper()->UpdateState(
          GRPC_CHANNEL_TRANSIENT_FAILURE, status,
          std::make_unique<TransientFailurePicker>(status));
      return;
    }
    std::vector<internal::EndpointInfo> infos;
    std::vector<RefCountedPtr<SubchannelInterface>> subchannels;
    infos.reserve(endpoints_.size());
    subchannels.reserve(endpoints_.size());
    absl::Status last_failure;
    for (const auto& endpoint : endpoints_) {
      internal::EndpointInfo info;
      info.versions = endpoint->versions;
      info.weight = endpoint->weight;
      info.drained = endpoint->drained;
      info.lane = endpoint->lane;
      info.state = Classify(*endpoint);
      if (endpoint->failing) last_failure = endpoint->last_failure;
      infos.push_back(std::move(info));
      subchannels.push_back(endpoint->subchannel);
    }
    std::vector<internal::VersionRequest> routed;
    if (routes_ != nullptr) {
      for (size_t i = 0; i < routes_->num_requests(); ++i) {
        routed.push_back(routes_->request(static_cast<int>(i)));
      }
    }
    std::unique_ptr<internal::PickTable> table = internal::PickTable::Build(
        infos, routes_ != nullptr ? routes_->ApplyDefaults(config_) : config_,
        service_, absl::Uniform<uint64_t>(bit_gen_), std::move(routed));
    grpc_connectivity_state state = GRPC_CHANNEL_READY;
    absl::Status status;
    switch (table->AggregateState()) {
      case internal::EndpointState::kReady:
        break;
      case internal::EndpointState::kIdle:
      case internal::EndpointState::kConnecting:
        state = GRPC_CHANNEL_CONNECTING;
        break;
      case internal::EndpointState::kTransientFailure:
        state = GRPC_CHANNEL_TRANSIENT_FAILURE;
        status = absl::UnavailableError(absl::StrCat(
            "no instance of ", service_,
            " is reachable; last error: ", last_failure.ToString()));
        break;
    }
    channel_control_helper()->UpdateState(
        state, status,
        std::make_unique<Picker>(std::move(table), std::move(subchannels),
                                 config_, routes_));
  }

  void ShutdownLocked() override {
    shutdown_ = true;
    if (sweep_scheduled_) {
      channel_control_helper()->GetEventEngine()->Cancel(sweep_timer_);
    }
    removed_.clear();
    for (auto& endpoint : endpoints_) StopEndpoint(endpoint.get());
    endpoints_.clear();
  }

  const absl::string_view name_;
  internal::PolicyConfig config_;
  std::string service_;
  std::shared_ptr<const internal::RouteTable> routes_;
  int64_t routes_revision_ = 0;
  std::vector<RefCountedPtr<Endpoint>> endpoints_;
  absl::BitGen bit_gen_;
  bool publish_scheduled_ = false;
  bool shutdown_ = false;
  // Subchannels of addresses removed in the last kKeepRemoved, so that an
  // instance that comes back (a flapping registration) gets its subchannel
  // back instead of a new one: each new subchannel costs a connection
  // attempt, a retry timer on gRPC's EventEngine pool and a few KB that
  // glibc keeps after they are freed. At most endpoints_.size() +
  // kExtraKeptRemoved entries.
  struct Removed {
    RefCountedPtr<SubchannelInterface> subchannel;
    absl::Time expires;
  };
  static constexpr absl::Duration kKeepRemoved = absl::Seconds(10);
  static constexpr size_t kExtraKeptRemoved = 256;
  std::map<std::string, Removed> removed_;
  bool sweep_scheduled_ = false;
  grpc_event_engine::experimental::EventEngine::TaskHandle sweep_timer_;
};

class VlbPolicyFactory final : public grpc_core::LoadBalancingPolicyFactory {
 public:
  explicit VlbPolicyFactory(absl::string_view name) : name_(name) {}

  grpc_core::OrphanablePtr<LoadBalancingPolicy> CreateLoadBalancingPolicy(
      LoadBalancingPolicy::Args args) const override {
    return grpc_core::MakeOrphanable<VlbPolicy>(std::move(args), name_);
  }

  absl::string_view name() const override { return name_; }

  absl::StatusOr<RefCountedPtr<LoadBalancingPolicy::Config>>
  ParseLoadBalancingConfig(const grpc_core::Json& json) const override {
    absl::StatusOr<internal::PolicyConfig> config =
        internal::PolicyConfigFromJson(name_, ToNlohmannJson(json));
    if (!config.ok()) return config.status();
    return grpc_core::MakeRefCounted<VlbConfig>(name_, *std::move(config));
  }

 private:
  const absl::string_view name_;
};

}  // namespace

void RegisterVlbPolicies(grpc_core::CoreConfiguration::Builder* builder) {
  for (absl::string_view name :
       {kVersionPolicyName, kWeightedRoundRobinPolicyName, kRandomPolicyName}) {
    builder->lb_policy_registry()->RegisterLoadBalancingPolicyFactory(
        std::make_unique<VlbPolicyFactory>(name));
  }
}

}  // namespace vlb::grpc_adapter
