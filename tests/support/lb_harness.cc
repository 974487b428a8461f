// The fakes stand where the client channel would: the helper plays the
// channel (it keeps the latest picker), FakeSubchannel plays the channel's
// subchannel wrapper, and a Backend plays the shared subchannel of one
// address, which the channel's subchannel pool gives every policy that asks
// for that address (round_robin creates new subchannels on each update;
// they must see the same connectivity).
#include "lb_harness.h"

#include <arpa/inet.h>
#include <grpc/grpc.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <typeinfo>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpc_adapter/core.h"
#include "grpc_adapter/instance_attribute.h"
#include "grpc_adapter/route_document_arg.h"
#include "routing/route_document.h"
#include "vlb/grpc.h"
#include "vlb/service_instance.h"

namespace vlb::testing {
namespace {

using grpc_adapter::InstanceAttribute;
using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;
using grpc_core::SubchannelInterface;
using Watcher = SubchannelInterface::ConnectivityStateWatcherInterface;

class FakeSubchannel;

// The connectivity of one address, shared by every subchannel created for
// it, as in a channel's subchannel pool.
struct Backend {
  std::string key;  // grpc_resolved_address bytes
  size_t index = PickOutcome::kNoEndpoint;
  grpc_connectivity_state state = GRPC_CHANNEL_IDLE;
  absl::Status status;
  size_t connection_requests = 0;
  // Live subchannels of this address; each removes itself when destroyed.
  std::vector<FakeSubchannel*> subchannels;
};

grpc_connectivity_state ToCore(Connectivity state) {
  switch (state) {
    case Connectivity::kIdle:
      return GRPC_CHANNEL_IDLE;
    case Connectivity::kConnecting:
      return GRPC_CHANNEL_CONNECTING;
    case Connectivity::kReady:
      return GRPC_CHANNEL_READY;
    case Connectivity::kTransientFailure:
      return GRPC_CHANNEL_TRANSIENT_FAILURE;
  }
  return GRPC_CHANNEL_IDLE;
}

Connectivity FromCore(grpc_connectivity_state state) {
  switch (state) {
    case GRPC_CHANNEL_IDLE:
      return Connectivity::kIdle;
    case GRPC_CHANNEL_CONNECTING:
      return Connectivity::kConnecting;
    case GRPC_CHANNEL_READY:
      return Connectivity::kReady;
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
    case GRPC_CHANNEL_SHUTDOWN:
      break;
  }
  return Connectivity::kTransientFailure;
}

// Metadata with at most the version header and the lane header: enough for
// pickers, which only look headers up.
class FakeMetadata final : public LoadBalancingPolicy::MetadataInterface {
 public:
  FakeMetadata(absl::string_view header, std::optional<absl::string_view> value,
               absl::string_view lane_header,
               std::optional<absl::string_view> lane)
      : header_(header),
        value_(value),
        lane_header_(lane_header),
        lane_(lane) {}

  void Add(absl::string_view /*key*/, absl::string_view /*value*/) override {}

  std::vector<std::pair<std::string, std::string>> TestOnlyCopyToVector()
      override {
    std::vector<std::pair<std::string, std::string>> out;
    if (value_.has_value()) out.emplace_back(header_, *value_);
    if (lane_.has_value()) out.emplace_back(lane_header_, *lane_);
    return out;
  }

  absl::optional<absl::string_view> Lookup(
      absl::string_view key, std::string* /*buffer*/) const override {
    if (value_.has_value() && key == header_) return *value_;
    if (lane_.has_value() && key == lane_header_) return *lane_;
    return absl::nullopt;
  }

 private:
  absl::string_view header_;
  std::optional<absl::string_view> value_;
  absl::string_view lane_header_;
  std::optional<absl::string_view> lane_;
};

// A call's arena, reduced to a stack buffer so that a pick which asks for a
// little memory does not show up as a heap allocation that a real call
// (arena-backed) would not make.
class FakeCallState final : public LoadBalancingPolicy::CallState {
 public:
  void* Alloc(size_t size) override {
    size = (size + 15) & ~size_t{15};
    if (used_ + size <= sizeof(buffer_)) {
      void* p = buffer_ + used_;
      used_ += size;
      return p;
    }
    overflow_.push_back(std::make_unique<char[]>(size));
    return overflow_.back().get();
  }

 private:
  alignas(16) char buffer_[256];
  size_t used_ = 0;
  std::vector<std::unique_ptr<char[]>> overflow_;
};

}  // namespace

struct LbHarness::Impl {
  Options options;
  std::shared_ptr<grpc_core::WorkSerializer> work_serializer =
      std::make_shared<grpc_core::WorkSerializer>();
  RefCountedPtr<LoadBalancingPolicy::Config> config;
  grpc_core::ChannelArgs update_args;  // with the route document, if any
  grpc_core::OrphanablePtr<LoadBalancingPolicy> policy;
  std::shared_ptr<grpc_event_engine::experimental::EventEngine> event_engine;

  // By address; kept after an address leaves the list, since subchannels of
  // it may live on.
  std::map<std::string, std::shared_ptr<Backend>> backends;
  std::vector<std::shared_ptr<Backend>> endpoints;  // the latest list

  // Written by the helper inside the WorkSerializer.
  std::unique_ptr<LoadBalancingPolicy::SubchannelPicker> picker;
  grpc_connectivity_state state = GRPC_CHANNEL_IDLE;
  absl::Status status;
  uint64_t picker_updates = 0;
  size_t subchannels_created = 0;
  size_t reresolution_requests = 0;

  mutable std::mutex pick_mu;

  // Runs `f` in the WorkSerializer and returns once it ran. With no pick
  // thread inside the serializer (the usual case) it runs on this thread.
  void RunInSerializer(std::function<void()> f) {
    absl::Notification done;
    {
      // Policies schedule closures (e.g. QueuePicker's ExitIdle) that need
      // an ExecCtx; they run when it goes out of scope.
      grpc_core::ExecCtx exec_ctx;
      work_serializer->Run(
          [&f, &done]() {
            f();
            done.Notify();
          },
          DEBUG_LOCATION);
    }
    done.WaitForNotification();
  }

  PickOutcome PickLocked(std::optional<absl::string_view> version,
                         std::optional<absl::string_view> lane) const;
  void Deliver(Backend* backend);
};

namespace {

class FakeSubchannel final : public SubchannelInterface {
 public:
  FakeSubchannel(LbHarness::Impl* harness, std::shared_ptr<Backend> backend)
      : harness_(harness), backend_(std::move(backend)) {
    backend_->subchannels.push_back(this);
  }

  ~FakeSubchannel() override {
    auto& list = backend_->subchannels;
    list.erase(std::find(list.begin(), list.end(), this));
  }

  const Backend& backend() const { return *backend_; }

  void WatchConnectivityState(std::unique_ptr<Watcher> watcher) override {
    Watcher* w = watcher.get();
    watchers_.emplace(w, std::move(watcher));
    // A real subchannel reports its current state asynchronously, never
    // from inside this call; policies rely on that (they are in the middle
    // of an update here).
    RefCountedPtr<SubchannelInterface> self = Ref();
    harness_->work_serializer->Run(
        [self, w]() {
          auto* subchannel = static_cast<FakeSubchannel*>(self.get());
          if (subchannel->watchers_.count(w) == 0) return;  // cancelled
          w->OnConnectivityStateChange(subchannel->backend_->state,
                                       subchannel->ReportedStatus());
        },
        DEBUG_LOCATION);
  }

  void CancelConnectivityStateWatch(Watcher* watcher) override {
    watchers_.erase(watcher);
  }

  void RequestConnection() override { ++backend_->connection_requests; }
  void ResetBackoff() override {}
  void AddDataWatcher(std::unique_ptr<DataWatcherInterface> watcher) override {
    data_watchers_.push_back(std::move(watcher));
  }

  // Notifies the watchers registered now of the backend's state.
  void Notify() {
    std::vector<Watcher*> snapshot;
    snapshot.reserve(watchers_.size());
    for (const auto& entry : watchers_) snapshot.push_back(entry.first);
    for (Watcher* w : snapshot) {
      // An earlier callback may have cancelled this watch.
      if (watchers_.count(w) == 0) continue;
      w->OnConnectivityStateChange(backend_->state, ReportedStatus());
    }
  }

 private:
  absl::Status ReportedStatus() const {
    return backend_->state == GRPC_CHANNEL_TRANSIENT_FAILURE ? backend_->status
                                                             : absl::OkStatus();
  }

  LbHarness::Impl* const harness_;
  const std::shared_ptr<Backend> backend_;
  std::map<Watcher*, std::unique_ptr<Watcher>> watchers_;
  std::vector<std::unique_ptr<DataWatcherInterface>> data_watchers_;
};

class FakeHelper final : public LoadBalancingPolicy::ChannelControlHelper {
 public:
  explicit FakeHelper(LbHarness::Impl* harness) : harness_(harness) {}

  RefCountedPtr<SubchannelInterface> CreateSubchannel(
      grpc_core::ServerAddress address,
      const grpc_core::ChannelArgs& /*args*/) override {
    std::string key(address.address().addr, address.address().len);
    std::shared_ptr<Backend>& backend = harness_->backends[key];
    if (backend == nullptr) {
      backend = std::make_shared<Backend>();
      backend->key = key;
    }
    ++harness_->subchannels_created;
    return grpc_core::MakeRefCounted<FakeSubchannel>(harness_, backend);
  }

  void UpdateState(
      grpc_connectivity_state state, const absl::Status& status,
      std::unique_ptr<LoadBalancingPolicy::SubchannelPicker> picker) override {
    harness_->state = state;
    harness_->status = status;
    // The previous picker is destroyed here, as the channel does: its cost
    // belongs to the rebuild.
    harness_->picker = std::move(picker);
    ++harness_->picker_updates;
  }

  void RequestReresolution() override { ++harness_->reresolution_requests; }

  absl::string_view GetAuthority() override {
    return harness_->options.authority;
  }

  grpc_event_engine::experimental::EventEngine* GetEventEngine() override {
    // Lazily: none of the policies driven here need one so far, and
    // creating it starts threads.
    if (harness_->event_engine == nullptr) {
      harness_->event_engine =
          grpc_event_engine::experimental::GetDefaultEventEngine();
    }
    return harness_->event_engine.get();
  }

  void AddTraceEvent(TraceSeverity /*severity*/,
                     absl::string_view /*message*/) override {}

 private:
  LbHarness::Impl* const harness_;
};

absl::StatusOr<grpc_resolved_address> ParseIpv4(absl::string_view text) {
  size_t colon = text.rfind(':');
  uint32_t port = 0;
  in_addr host{};
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port > 65535 ||
      inet_pton(AF_INET, std::string(text.substr(0, colon)).c_str(), &host) !=
          1) {
    return absl::InvalidArgumentError(
        absl::StrCat("fake endpoint address \"", text,
                     "\" is not an IPv4 \"a.b.c.d:port\""));
  }
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr = host;
  grpc_resolved_address address{};
  std::memcpy(address.addr, &sin, sizeof(sin));
  address.len = sizeof(sin);
  return address;
}

// 127.0.0.0/8 has room for 2^24 endpoints, far beyond what benchmarks use
// (the fake subchannels never dial them).
std::string DerivedAddress(size_t index) {
  return absl::StrCat("127.", (index >> 16) & 255, ".", (index >> 8) & 255, ".",
                      index & 255, ":443");
}

}  // namespace

absl::string_view ConnectivityName(Connectivity state) {
  switch (state) {
    case Connectivity::kIdle:
      return "IDLE";
    case Connectivity::kConnecting:
      return "CONNECTING";
    case Connectivity::kReady:
      return "READY";
    case Connectivity::kTransientFailure:
      return "TRANSIENT_FAILURE";
  }
  return "?";
}

PickOutcome LbHarness::Impl::PickLocked(
    std::optional<absl::string_view> version,
    std::optional<absl::string_view> lane) const {
  PickOutcome outcome;
  if (picker == nullptr) return outcome;  // kQueue, as a channel would
  FakeMetadata metadata(options.version_header, version, options.lane_header,
                        lane);
  FakeCallState call_state;
  LoadBalancingPolicy::PickArgs args;
  args.path = "/vlb.test.Service/Call";
  args.initial_metadata = &metadata;
  args.call_state = &call_state;
  LoadBalancingPolicy::PickResult result = picker->Pick(args);
  using PickResult = LoadBalancingPolicy::PickResult;
  if (auto* complete = absl::get_if<PickResult::Complete>(&result.result)) {
    outcome.kind = PickOutcome::Kind::kComplete;
    // A policy could hand back a wrapper of our subchannel; that must read
    // as "unknown", not as memory of the wrong type. typeid rather than
    // dynamic_cast: an exact-type check costs a few instructions, the cast
    // as much as a round_robin pick.
    const SubchannelInterface* picked = complete->subchannel.get();
    const FakeSubchannel* fake =
        picked != nullptr && typeid(*picked) == typeid(FakeSubchannel)
            ? static_cast<const FakeSubchannel*>(picked)
            : nullptr;
    outcome.endpoint =
        fake != nullptr ? fake->backend().index : PickOutcome::kNoEndpoint;
  } else if (auto* fail = absl::get_if<PickResult::Fail>(&result.result)) {
    outcome.kind = PickOutcome::Kind::kFail;
    outcome.status = fail->status;
  } else if (auto* drop = absl::get_if<PickResult::Drop>(&result.result)) {
    outcome.kind = PickOutcome::Kind::kDrop;
    outcome.status = drop->status;
  }
  return outcome;
}

void LbHarness::Impl::Deliver(Backend* backend) {
  // Hold refs: a callback may drop the policy's last ref to a subchannel
  // we are about to notify.
  std::vector<RefCountedPtr<SubchannelInterface>> subchannels;
  subchannels.reserve(backend->subchannels.size());
  for (FakeSubchannel* s : backend->subchannels)
    subchannels.push_back(s->Ref());
  for (auto& s : subchannels) static_cast<FakeSubchannel*>(s.get())->Notify();
}

struct LbHarness::ExecCtxScope::Rep {
  grpc_core::ExecCtx exec_ctx;
};

LbHarness::ExecCtxScope::ExecCtxScope() : rep_(std::make_unique<Rep>()) {}
LbHarness::ExecCtxScope::~ExecCtxScope() = default;

LbHarness::LbHarness(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LbHarness::~LbHarness() {
  impl_->RunInSerializer([this]() {
    impl_->policy.reset();
    // Pickers may hold refs to the policy (QueuePicker) and to subchannels.
    impl_->picker.reset();
  });
  impl_.reset();
  grpc_shutdown();
}

absl::StatusOr<std::unique_ptr<LbHarness>> LbHarness::Create(
    absl::string_view lb_config_json, Options options) {
  // Must precede the first CoreConfiguration::Get() of the process.
  if (absl::Status s = vlb::RegisterGrpcPlugins(); !s.ok()) return s;
  absl::StatusOr<grpc_core::Json> json = grpc_core::Json::Parse(lb_config_json);
  if (!json.ok()) return json.status();
  const grpc_core::LoadBalancingPolicyRegistry& registry =
      grpc_core::CoreConfiguration::Get().lb_policy_registry();
  absl::StatusOr<RefCountedPtr<LoadBalancingPolicy::Config>> config =
      registry.ParseLoadBalancingConfig(*json);
  if (!config.ok()) return config.status();
  grpc_core::ChannelArgs update_args;
  if (!options.route_document.empty()) {
    absl::StatusOr<internal::RouteDocument> doc =
        internal::ParseRouteDocument(options.route_document);
    if (!doc.ok()) return doc.status();
    update_args = update_args.SetObject(
        grpc_core::MakeRefCounted<grpc_adapter::RouteDocumentArg>(
            std::make_shared<const internal::RouteDocument>(*std::move(doc)),
            1));
  }

  grpc_init();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->config = *std::move(config);
  impl->update_args = std::move(update_args);
  std::unique_ptr<LbHarness> harness(new LbHarness(std::move(impl)));
  Impl* raw = harness->impl_.get();
  absl::Status created;
  raw->RunInSerializer([raw, &registry, &created]() {
    LoadBalancingPolicy::Args args;
    args.work_serializer = raw->work_serializer;
    args.channel_control_helper = std::make_unique<FakeHelper>(raw);
    raw->policy = registry.CreateLoadBalancingPolicy(raw->config->name(),
                                                     std::move(args));
    if (raw->policy == nullptr) {
      created = absl::NotFoundError(
          absl::StrCat("no LB policy named ", raw->config->name()));
    }
  });
  if (!created.ok()) return created;
  return harness;
}

absl::Status LbHarness::SetEndpoints(
    const std::vector<FakeEndpoint>& endpoints) {
  Impl& impl = *impl_;
  grpc_core::ServerAddressList addresses;
  addresses.reserve(endpoints.size());
  std::vector<std::shared_ptr<Backend>> listed;
  listed.reserve(endpoints.size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const FakeEndpoint& e = endpoints[i];
    auto instance = std::make_shared<ServiceInstance>();
    instance->id = absl::StrCat("endpoint-", i);
    instance->address = e.address.empty() ? DerivedAddress(i) : e.address;
    instance->version = e.version;
    instance->weight = e.weight;
    instance->drained = e.drained;
    instance->lane = e.lane;
    absl::StatusOr<grpc_resolved_address> address =
        ParseIpv4(instance->address);
    if (!address.ok()) return address.status();
    std::map<const char*,
             std::unique_ptr<grpc_core::ServerAddress::AttributeInterface>>
        attributes;
    std::vector<std::string> versions = {instance->version};
    attributes.emplace(InstanceAttribute::kKey,
                       std::make_unique<InstanceAttribute>(
                           std::move(instance), std::move(versions)));
    addresses.emplace_back(*address, grpc_core::ChannelArgs(),
                           std::move(attributes));
    std::string key(address->addr, address->len);
    std::shared_ptr<Backend>& backend = impl.backends[key];
    if (backend == nullptr) {
      backend = std::make_shared<Backend>();
      backend->key = std::move(key);
    }
    listed.push_back(backend);
  }
  for (auto& backend : impl.endpoints)
    backend->index = PickOutcome::kNoEndpoint;
  for (size_t i = 0; i < listed.size(); ++i) listed[i]->index = i;
  impl.endpoints = std::move(listed);

  absl::Status status;
  impl.RunInSerializer([&impl, &addresses, &status]() {
    LoadBalancingPolicy::UpdateArgs args;
    args.addresses = std::move(addresses);
    args.config = impl.config;
    args.args = impl.update_args;
    status = impl.policy->UpdateLocked(std::move(args));
  });
  return status;
}

absl::Status LbHarness::SetResolverError(const absl::Status& error) {
  Impl& impl = *impl_;
  absl::Status status;
  impl.RunInSerializer([&impl, &error, &status]() {
    LoadBalancingPolicy::UpdateArgs args;
    args.addresses = error;
    args.config = impl.config;
    args.args = impl.update_args;
    status = impl.policy->UpdateLocked(std::move(args));
  });
  return status;
}

void LbHarness::SetState(size_t index, Connectivity state,
                         const absl::Status& status) {
  Impl& impl = *impl_;
  Backend* backend = impl.endpoints.at(index).get();
  impl.RunInSerializer([&impl, backend, state, &status]() {
    backend->state = ToCore(state);
    backend->status = status;
    impl.Deliver(backend);
  });
}

void LbHarness::SetAllStates(Connectivity state) {
  Impl& impl = *impl_;
  impl.RunInSerializer([&impl, state]() {
    for (const auto& backend : impl.endpoints) {
      backend->state = ToCore(state);
      backend->status =
          absl::UnavailableError("fake subchannel: connection failed");
      impl.Deliver(backend.get());
    }
  });
}

PickOutcome LbHarness::Pick(std::optional<absl::string_view> version,
                            std::optional<absl::string_view> lane) const {
  const Impl& impl = *impl_;
  std::unique_lock<std::mutex> lock(impl.pick_mu, std::defer_lock);
  if (impl.options.serialize_picks) lock.lock();
  // Channels pick inside an ExecCtx; pickers may schedule closures on it.
  if (grpc_core::ExecCtx::Get() != nullptr) {
    return impl.PickLocked(version, lane);
  }
  grpc_core::ExecCtx exec_ctx;
  return impl.PickLocked(version, lane);
}

void LbHarness::SetSerializePicks(bool serialize) {
  impl_->options.serialize_picks = serialize;
}

Connectivity LbHarness::state() const { return FromCore(impl_->state); }
absl::Status LbHarness::status() const { return impl_->status; }
uint64_t LbHarness::PickerRebuildCount() const { return impl_->picker_updates; }
size_t LbHarness::SubchannelsCreated() const {
  return impl_->subchannels_created;
}
size_t LbHarness::ConnectionRequests(size_t index) const {
  return impl_->endpoints.at(index)->connection_requests;
}
size_t LbHarness::ReresolutionRequests() const {
  return impl_->reresolution_requests;
}
size_t LbHarness::num_endpoints() const { return impl_->endpoints.size(); }
absl::string_view LbHarness::policy_name() const {
  return impl_->config->name();
}

}  // namespace vlb::testing
