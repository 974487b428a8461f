// Resolver for etcd:// targets. The work (reading, watching, healing) is in
// discovery/ServiceWatcher, outside gRPC; this class only turns snapshots
// into gRPC address lists and hands them over on the channel's
// WorkSerializer.
#include "grpc_adapter/etcd_resolver.h"

#include <grpc/support/log.h>

#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "client/etcd_target.h"
#include "discovery/address_book.h"
#include "discovery/client_pool.h"
#include "discovery/dns_worker.h"
#include "discovery/service_watcher.h"
#include "discovery/socket_address.h"
#include "etcd/public_options.h"
#include "grpc_adapter/etcd_resolver_internal.h"
#include "grpc_adapter/instance_attribute.h"
#include "grpc_adapter/plugin_state.h"
#include "grpc_adapter/route_document_arg.h"

namespace vlb::grpc_adapter {
namespace {

using grpc_core::Resolver;
using grpc_core::ServerAddress;
using grpc_core::ServerAddressList;

// The same parser as vlb::CreateChannel's, on the target as gRPC parsed it
// (ToString() re-escapes what the parser decoded). It also checks that the
// scheme is kEtcdTargetScheme, the scheme this factory registers.
absl::StatusOr<internal::EtcdTarget> ParseTarget(const grpc_core::URI& uri) {
  return internal::ParseEtcdTarget(uri.ToString());
}

class EtcdResolver final : public Resolver {
 public:
  EtcdResolver(grpc_core::ResolverArgs args,
               std::shared_ptr<etcd::Client> client,
               EtcdResolverOptions options)
      : work_serializer_(std::move(args.work_serializer)),
        result_handler_(std::move(args.result_handler)),
        channel_args_(std::move(args.args)),
        client_(std::move(client)),
        service_(std::move(options.service)),
        watcher_options_(std::move(options.watcher)),
        routes_key_(std::move(options.routes_key)),
        hand_off_(std::move(options.hand_off)) {}

  void StartLocked() override {
    book_ = std::make_shared<internal::AddressBook>(
        BookHooks(), client_->options().initial_backoff,
        client_->options().max_backoff);
    // Routes first: a document already in etcd is then usually in force
    // when the first addresses are delivered.
    if (!routes_key_.empty()) {
      routes_ = std::make_unique<internal::RouteWatcher>(client_, routes_key_,
                                                         RouteCallbacks());
      routes_->Start();
    }
    watcher_ = std::make_unique<internal::ServiceWatcher>(
        client_, service_, WatcherCallbacks(), watcher_options_);
    watcher_->Start();
  }

  void RequestReresolutionLocked() override {
    // The watch keeps us current; a re-read only helps after a problem we
    // did not notice, so it is cheap insurance. Names are looked up again.
    if (watcher_) watcher_->Refresh();
    if (book_) {
      client_->RunAfter(absl::ZeroDuration(),
                        [book = book_] { book->Refresh(); });
    }
  }

  void ShutdownLocked() override {
    shutdown_ = true;
    if (watcher_) watcher_->Stop();
    watcher_.reset();
    if (routes_) routes_->Stop();
    routes_.reset();
    if (book_) client_->RunSync([book = book_] { book->Stop(); });
    book_.reset();
  }

 private:
  // The watcher and the address book are stopped in ShutdownLocked()
  // before this object can go away, and neither calls back after its
  // Stop(): `this` is safe in these callbacks (dispatcher thread).
  internal::ServiceWatcher::Callbacks WatcherCallbacks() {
    internal::ServiceWatcher::Callbacks callbacks;
    callbacks.on_snapshot = [this](const internal::ServiceSnapshot& snap) {
      book_->Update(snap);
    };
    callbacks.on_read_error = [this](const absl::Status& status,
                                     bool have_snapshot) {
      Log(status);
      // With a snapshot in force, keep it: etcd being down says nothing
      // about the instances. Without one, fail calls fast instead of
      // letting them hang.
      if (!have_snapshot) {
        Deliver(absl::UnavailableError(absl::StrCat(
            "vlb: cannot resolve ", service_, ": ", status.message())));
      }
    };
    callbacks.on_notice = [this](const absl::Status& status) { Log(status); };
    return callbacks;
  }

  internal::RouteWatcher::Callbacks RouteCallbacks() {
    internal::RouteWatcher::Callbacks callbacks;
    callbacks.on_change = [this](const internal::RouteState& state) {
      route_ = state.document == nullptr
                   ? nullptr
                   : grpc_core::MakeRefCounted<RouteDocumentArg>(
                         state.document, state.mod_revision);
      routes_known_ = true;
      // The policy learns of the change with the addresses it has.
      if (last_addresses_.has_value()) Deliver(*last_addresses_);
    };
    callbacks.on_notice = [this](const absl::Status& status) { Log(status); };
    return callbacks;
  }

  internal::AddressBook::Hooks BookHooks() {
    internal::AddressBook::Hooks hooks;
    std::shared_ptr<etcd::Client> client = client_;
    hooks.run_after = [client](absl::Duration delay, std::function<void()> fn) {
      return client->RunAfter(delay, std::move(fn));
    };
    hooks.cancel_timer = [client](uint64_t id) { client->CancelTimer(id); };
    hooks.lookup =
        [](const std::string& host_port,
           std::function<void(internal::AddressBook::LookupResult)> done) {
          internal::LookUpInBackground(host_port, std::move(done));
        };
    hooks.on_endpoints =
        [this](const std::vector<internal::ResolvedEndpoint>& e) {
          OnEndpoints(e);
        };
    hooks.on_notice = [this](const absl::Status& status) { Log(status); };
    return hooks;
  }

  void Log(const absl::Status& status) {
    gpr_log(GPR_ERROR, "vlb: %s: %s", service_.c_str(),
            std::string(status.message()).c_str());
  }

  // Dispatcher thread.
  void OnEndpoints(const std::vector<internal::ResolvedEndpoint>& endpoints) {
    ServerAddressList addresses;
    addresses.reserve(endpoints.size());
    for (const internal::ResolvedEndpoint& endpoint : endpoints) {
      std::map<const char*, std::unique_ptr<ServerAddress::AttributeInterface>>
          attributes;
      attributes[InstanceAttribute::kKey] = std::make_unique<InstanceAttribute>(
          endpoint.instance, endpoint.versions);
      addresses.emplace_back(&endpoint.address.storage, endpoint.address.length,
                             grpc_core::ChannelArgs(), std::move(attributes));
    }
    Deliver(std::move(addresses));
  }

  // Dispatcher thread: hands a result to the channel. At most one result
  // waits for the WorkSerializer: a newer one replaces it, so a burst of
  // etcd events costs one update (and one address list in memory), however
  // far the channel lags behind.
  void Deliver(absl::StatusOr<ServerAddressList> addresses) {
    last_addresses_ = addresses;
    // Until the route document's first read answered, the rules in force
    // are unknown: the addresses wait (RouteWatcher reports that read
    // whatever its outcome, so they wait one etcd round trip at most).
    if (!routes_known_) return;
    Result result;
    result.addresses = std::move(addresses);
    result.args = channel_args_;
    if (route_ != nullptr) result.args = result.args.SetObject(route_);
    if (!result.addresses.ok()) {
      result.resolution_note = std::string(result.addresses.status().message());
    }
    {
      absl::MutexLock lock(&pending_mu_);
      const bool scheduled = pending_.has_value();
      pending_ = std::move(result);
      if (scheduled) return;
    }
    // Not Run() from here: it may execute inline on this thread (the etcd
    // dispatcher) and drain other queued work with it, such as the
    // channel's shutdown, which would destroy the watcher under its own
    // callback and could drop the last reference to the pooled etcd client
    // on that client's own thread. Another thread hands the result over.
    hand_off_([self = Ref(), this]() mutable {
      grpc_core::ApplicationCallbackExecCtx app_exec_ctx;
      grpc_core::ExecCtx exec_ctx;
      work_serializer_->Run(
          // `self` keeps this resolver alive until the closure ran.
          [self = std::move(self), this]() mutable {
            ReportNewest();
            self.reset();
          },
          DEBUG_LOCATION);
    });
  }

  // WorkSerializer: reports the newest pending result, if any.
  void ReportNewest() {
    std::optional<Result> newest;
    {
      absl::MutexLock lock(&pending_mu_);
      newest.swap(pending_);
    }
    if (shutdown_ || !newest.has_value()) return;
    result_handler_->ReportResult(std::move(*newest));
  }

  const std::shared_ptr<grpc_core::WorkSerializer> work_serializer_;
  const std::unique_ptr<ResultHandler> result_handler_;
  const grpc_core::ChannelArgs channel_args_;
  const std::shared_ptr<etcd::Client> client_;
  const std::string service_;
  const internal::ServiceWatcherOptions watcher_options_;
  const std::string routes_key_;
  const std::function<void(std::function<void()>)> hand_off_;
  std::unique_ptr<internal::ServiceWatcher> watcher_;
  std::unique_ptr<internal::RouteWatcher> routes_;
  // Dispatcher thread: the route document in force (null: none) and the
  // last addresses delivered, re-sent with a new document.
  grpc_core::RefCountedPtr<RouteDocumentArg> route_;
  bool routes_known_ = routes_key_.empty();
  std::optional<absl::StatusOr<ServerAddressList>> last_addresses_;
  // Shared with tasks posted to the dispatcher (Refresh); stopped first.
  std::shared_ptr<internal::AddressBook> book_;
  bool shutdown_ = false;  // WorkSerializer only
  absl::Mutex pending_mu_;
  std::optional<Result> pending_ ABSL_GUARDED_BY(pending_mu_);
};

class EtcdResolverFactory final : public grpc_core::ResolverFactory {
 public:
  absl::string_view scheme() const override {
    return internal::kEtcdTargetScheme;
  }

  bool IsValidUri(const grpc_core::URI& uri) const override {
    absl::StatusOr<internal::EtcdTarget> target = ParseTarget(uri);
    if (!target.ok()) {
      gpr_log(GPR_ERROR, "vlb: %s",
              std::string(target.status().message()).c_str());
    }
    return target.ok();
  }

  grpc_core::OrphanablePtr<Resolver> CreateResolver(
      grpc_core::ResolverArgs args) const override {
    absl::StatusOr<internal::EtcdTarget> target = ParseTarget(args.uri);
    if (!target.ok()) return nullptr;
    const PluginOptions plugin = CurrentPluginOptions();
    EtcdOptions etcd = plugin.etcd;
    if (!target->endpoints.empty()) etcd.endpoints = target->endpoints;
    absl::StatusOr<etcd::ClientOptions> client_options =
        internal::MakeClientOptions(etcd, absl::Milliseconds(100),
                                    absl::Seconds(5));
    if (!client_options.ok()) {
      gpr_log(GPR_ERROR, "vlb: %s",
              std::string(client_options.status().message()).c_str());
      return nullptr;
    }
    absl::StatusOr<std::shared_ptr<etcd::Client>> client =
        internal::AcquireEtcdClient(*client_options);
    if (!client.ok()) {
      gpr_log(GPR_ERROR, "vlb: %s",
              std::string(client.status().message()).c_str());
      return nullptr;
    }
    EtcdResolverOptions options;
    options.service = std::move(target->service);
    options.watcher.data_loss_grace = plugin.data_loss_grace;
    options.watcher.snapshot_dir = plugin.snapshot_dir;
    if (!plugin.routes_root.empty()) {
      options.routes_key =
          internal::RouteDocumentKey(plugin.routes_root, options.service);
    }
    return MakeEtcdResolver(std::move(args), *std::move(client),
                            std::move(options));
  }

  std::string GetDefaultAuthority(const grpc_core::URI& uri) const override {
    return std::string(absl::StripPrefix(uri.path(), "/"));
  }
};

}  // namespace

grpc_core::OrphanablePtr<grpc_core::Resolver> MakeEtcdResolver(
    grpc_core::ResolverArgs args, std::shared_ptr<etcd::Client> client,
    EtcdResolverOptions options) {
  if (!options.hand_off) {
    options.hand_off = [](std::function<void()> fn) {
      grpc_event_engine::experimental::GetDefaultEventEngine()->Run(
          std::move(fn));
    };
  }
  return grpc_core::MakeOrphanable<EtcdResolver>(
      std::move(args), std::move(client), std::move(options));
}

void RegisterEtcdResolver(grpc_core::CoreConfiguration::Builder* builder) {
  builder->resolver_registry()->RegisterResolverFactory(
      std::make_unique<EtcdResolverFactory>());
}

}  // namespace vlb::grpc_adapter
