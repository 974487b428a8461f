#include "etcd/client.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "etcd/connection.h"
#include "etcd/dispatcher.h"
#include "etcd/lease_keeper.h"
#include "etcd/tls.h"
#include "etcd/unary_call.h"
#include "etcd/watch_hub.h"
#include "vlb/service_instance.h"

namespace vlb::etcd {
namespace {

using etcdserverpb::CompactionRequest;
using etcdserverpb::CompactionResponse;
using etcdserverpb::DeleteRangeRequest;
using etcdserverpb::DeleteRangeResponse;
using etcdserverpb::LeaseGrantRequest;
using etcdserverpb::LeaseGrantResponse;
using etcdserverpb::LeaseRevokeRequest;
using etcdserverpb::LeaseRevokeResponse;
using etcdserverpb::LeaseTimeToLiveRequest;
using etcdserverpb::LeaseTimeToLiveResponse;
using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

// The RPCs, as plain functions so UnaryCall can retry them on any member.
void RangeRpc(Member& m, grpc::ClientContext* c, const RangeRequest* q,
              RangeResponse* r, std::function<void(grpc::Status)> f) {
  m.kv->async()->Range(c, q, r, std::move(f));
}
void PutRpc(Member& m, grpc::ClientContext* c, const PutRequest* q,
            PutResponse* r, std::function<void(grpc::Status)> f) {
  m.kv->async()->Put(c, q, r, std::move(f));
}
void DeleteRangeRpc(Member& m, grpc::ClientContext* c,
                    const DeleteRangeRequest* q, DeleteRangeResponse* r,
                    std::function<void(grpc::Status)> f) {
  m.kv->async()->DeleteRange(c, q, r, std::move(f));
}
void TxnRpc(Member& m, grpc::ClientContext* c, const TxnRequest* q,
            TxnResponse* r, std::function<void(grpc::Status)> f) {
  m.kv->async()->Txn(c, q, r, std::move(f));
}
void CompactRpc(Member& m, grpc::ClientContext* c, const CompactionRequest* q,
                CompactionResponse* r, std::function<void(grpc::Status)> f) {
  m.kv->async()->Compact(c, q, r, std::move(f));
}
void LeaseGrantRpc(Member& m, grpc::ClientContext* c,
                   const LeaseGrantRequest* q, LeaseGrantResponse* r,
                   std::function<void(grpc::Status)> f) {
  m.lease->async()->LeaseGrant(c, q, r, std::move(f));
}
void LeaseRevokeRpc(Member& m, grpc::ClientContext* c,
                    const LeaseRevokeRequest* q, LeaseRevokeResponse* r,
                    std::function<void(grpc::Status)> f) {
  m.lease->async()->LeaseRevoke(c, q, r, std::move(f));
}
void LeaseTimeToLiveRpc(Member& m, grpc::ClientContext* c,
                        const LeaseTimeToLiveRequest* q,
                        LeaseTimeToLiveResponse* r,
                        std::function<void(grpc::Status)> f) {
  m.lease->async()->LeaseTimeToLive(c, q, r, std::move(f));
}

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(const ClientOptions& options)
      : connection_(options),
        lease_keeper_(&connection_, &dispatcher_),
        watch_hub_(&connection_, &dispatcher_) {}

  ~ClientImpl() override { Close(); }

  void Close() override {
    if (closed_.exchange(true)) return;
    if (dispatcher_.InThread()) {
      std::fprintf(stderr,
                   "vlb: etcd::Client::Close() called from one of its own "
                   "callbacks; that would wait for itself\n");
      std::abort();
    }
    dispatcher_.RunSync([this] {
      lease_keeper_.Shutdown();
      watch_hub_.Shutdown();
    });
    connection_.CloseAndWait();
    dispatcher_.Shutdown();
  }

  const ClientOptions& options() const override {
    return connection_.options();
  }

  absl::StatusOr<RangeResponse> Range(const RangeRequest& request) override {
    return Sync<RangeRequest, RangeResponse>("Range", RangeRpc, request);
  }
  absl::StatusOr<PutResponse> Put(const PutRequest& request) override {
    return Sync<PutRequest, PutResponse>("Put", PutRpc, request);
  }
  absl::StatusOr<DeleteRangeResponse> DeleteRange(
      const DeleteRangeRequest& request) override {
    return Sync<DeleteRangeRequest, DeleteRangeResponse>(
        "DeleteRange", DeleteRangeRpc, request);
  }
  absl::StatusOr<TxnResponse> Txn(const TxnRequest& request) override {
    return Sync<TxnRequest, TxnResponse>("Txn", TxnRpc, request);
  }
  absl::StatusOr<CompactionResponse> Compact(int64_t revision,
                                             bool physical) override {
    CompactionRequest request;
    request.set_revision(revision);
    request.set_physical(physical);
    return Sync<CompactionRequest, CompactionResponse>("Compact", CompactRpc,
                                                       request);
  }

  void RangeAsync(const RangeRequest& request,
                  Callback<RangeResponse> done) override {
    Async<RangeRequest, RangeResponse>("Range", RangeRpc, request,
                                       std::move(done));
  }
  void TxnAsync(const TxnRequest& request,
                Callback<TxnResponse> done) override {
    Async<TxnRequest, TxnResponse>("Txn", TxnRpc, request, std::move(done));
  }

  absl::StatusOr<LeaseGrantResponse> LeaseGrant(absl::Duration ttl) override {
    return Sync<LeaseGrantRequest, LeaseGrantResponse>(
        "LeaseGrant", LeaseGrantRpc, GrantRequest(ttl));
  }
  void LeaseGrantAsync(absl::Duration ttl,
                       Callback<LeaseGrantResponse> done) override {
    Async<LeaseGrantRequest, LeaseGrantResponse>(
        "LeaseGrant", LeaseGrantRpc, GrantRequest(ttl), std::move(done));
  }
  absl::Status LeaseRevoke(int64_t lease_id) override {
    LeaseRevokeRequest request;
    request.set_id(lease_id);
    return Sync<LeaseRevokeRequest, LeaseRevokeResponse>(
               "LeaseRevoke", LeaseRevokeRpc, request)
        .status();
  }
  absl::StatusOr<LeaseTimeToLiveResponse> LeaseTimeToLive(
      int64_t lease_id, bool with_keys) override {
    LeaseTimeToLiveRequest request;
    request.set_id(lease_id);
    request.set_keys(with_keys);
    return Sync<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>(
        "LeaseTimeToLive", LeaseTimeToLiveRpc, request);
  }

  void KeepAlive(int64_t lease_id, absl::Duration ttl,
                 LeaseStateCallback on_state) override {
    dispatcher_.RunSync(
        [&] { lease_keeper_.Add(lease_id, ttl, std::move(on_state)); });
  }
  void StopKeepAlive(int64_t lease_id) override {
    dispatcher_.RunSync([&] { lease_keeper_.Remove(lease_id); });
  }

  uint64_t Watch(WatchOptions options, WatchEventsCallback on_events,
                 WatchEndCallback on_end) override {
    const uint64_t id = next_watch_id_.fetch_add(1);
    dispatcher_.RunSync([&] {
      watch_hub_.Add(id, std::move(options), std::move(on_events),
                     std::move(on_end));
    });
    return id;
  }
  void CancelWatch(uint64_t watch_id) override {
    dispatcher_.RunSync([&] { watch_hub_.Cancel(watch_id); });
  }
  void RequestWatchProgress() override {
    dispatcher_.Post([this] { watch_hub_.RequestProgress(); });
  }

  uint64_t RunAfter(absl::Duration delay, std::function<void()> fn) override {
    return dispatcher_.PostAfter(delay, std::move(fn));
  }
  bool CancelTimer(uint64_t timer_id) override {
    return dispatcher_.Cancel(timer_id);
  }
  bool InDispatcherThread() const override { return dispatcher_.InThread(); }
  void RunSync(const std::function<void()>& fn) override {
    dispatcher_.RunSync(fn);
  }

 private:
  static LeaseGrantRequest GrantRequest(absl::Duration ttl) {
    LeaseGrantRequest request;
    // etcd counts in whole seconds; round up so the lease never lives
    // shorter than asked.
    request.set_ttl(absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1))));
    return request;
  }

  template <typename Request, typename Response>
  absl::StatusOr<Response> Sync(const char* name,
                                typename UnaryCall<Request, Response>::Rpc rpc,
                                const Request& request) {
    // Completion does not go through the dispatcher, so this also works
    // (but blocks other callbacks) when called from a callback.
    std::promise<absl::StatusOr<Response>> promise;
    auto future = promise.get_future();
    UnaryCall<Request, Response>::Start(
        &connection_, name, rpc, request,
        [&promise](absl::StatusOr<Response> result) {
          promise.set_value(std::move(result));
        });
    return future.get();
  }

  template <typename Request, typename Response>
  void Async(const char* name, typename UnaryCall<Request, Response>::Rpc rpc,
             const Request& request, Callback<Response> done) {
    UnaryCall<Request, Response>::Start(
        &connection_, name, rpc, request,
        [this, done = std::move(done)](absl::StatusOr<Response> result) {
          dispatcher_.Post([done, result = std::move(result)]() mutable {
            done(std::move(result));
          });
        });
  }

  // Declaration order is destruction order in reverse: the dispatcher must
  // outlive the connection's in-flight operations that post into it.
  Dispatcher dispatcher_;
  Connection connection_;
  LeaseKeeper lease_keeper_;
  WatchHub watch_hub_;
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> next_watch_id_{1};
};

}  // namespace

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  // Increment the last byte that is not 0xff, dropping the 0xff tail.
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key >= prefix
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(
    const ClientOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd endpoints: none given");
  }
  for (const std::string& endpoint : options.endpoints) {
    if (absl::Status status = ValidateAddress(endpoint); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoints: ", status.message()));
    }
  }
  if (options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd request_timeout must be > 0");
  }
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(
        "etcd backoff: need 0 < initial_backoff <= max_backoff");
  }
  if (options.username.empty() != options.password.empty()) {
    return absl::InvalidArgumentError(
        "etcd auth: username and password go together");
  }
  // Callers that build ClientOptions themselves get the same checks as
  // those going through EtcdOptions.
  if (absl::Status status = CheckTlsOptions(options.tls); !status.ok()) {
    return status;
  }
  return std::unique_ptr<Client>(new ClientImpl(options));
}

}  // namespace vlb::etcd
