#include "fake_etcd_client.h"

#include <memory>
#include <utility>

#include "fake_etcd.h"

namespace vlb::testing {
namespace {

absl::Status ClosedError() {
  return absl::CancelledError("etcd client closed");
}

}  // namespace

FakeEtcdClient::FakeEtcdClient(FakeEtcd* etcd, etcd::ClientOptions options)
    : etcd_(etcd), options_(std::move(options)) {}

FakeEtcdClient::~FakeEtcdClient() { Close(); }

void FakeEtcdClient::Close() {
  if (closed_) return;
  closed_ = true;
  etcd_->Forget(this);  // watches and keep-alives end silently
  for (uint64_t timer : timers_) etcd_->clock().Cancel(timer);
  timers_.clear();
  // In-flight requests complete with CANCELLED before Close() returns.
  std::map<uint64_t, std::function<void()>> pending = std::move(pending_);
  pending_.clear();
  for (auto& [timer, cancel] : pending) {
    etcd_->clock().Cancel(timer);
    cancel();
  }
}

absl::Status FakeEtcdClient::AdmitNow(const std::string& method) {
  if (closed_) return ClosedError();
  absl::Duration ignored;  // synchronous calls are not delayed
  return etcd_->Admit(FakeCall{method, false, {}}, &ignored);
}

template <typename T>
void FakeEtcdClient::Answer(const std::string& method, bool serializable,
                            std::function<absl::StatusOr<T>()> execute,
                            etcd::Callback<T> done) {
  if (closed_) {
    done(ClosedError());
    return;
  }
  absl::Duration delay;
  absl::Status admitted =
      etcd_->Admit(FakeCall{method, serializable, {}}, &delay);
  auto shared_done = std::make_shared<etcd::Callback<T>>(std::move(done));
  auto timer = std::make_shared<uint64_t>(0);
  *timer = etcd_->clock().RunAfter(delay, [this, admitted, execute, timer,
                                           shared_done] {
    pending_.erase(*timer);
    // The cluster may have gone away while the answer was on its way.
    if (admitted.ok() && etcd_->unavailable()) {
      (*shared_done)(absl::UnavailableError("fake etcd became unavailable"));
      return;
    }
    (*shared_done)(admitted.ok() ? execute() : absl::StatusOr<T>(admitted));
  });
  pending_[*timer] = [shared_done] { (*shared_done)(ClosedError()); };
}

absl::StatusOr<etcdserverpb::RangeResponse> FakeEtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  if (absl::Status s = AdmitNow("Range"); !s.ok()) return s;
  return etcd_->store().Range(request);
}

absl::StatusOr<etcdserverpb::PutResponse> FakeEtcdClient::Put(
    const etcdserverpb::PutRequest& request) {
  if (absl::Status s = AdmitNow("Put"); !s.ok()) return s;
  absl::StatusOr<etcdserverpb::PutResponse> response =
      etcd_->store().Put(request);
  etcd_->Changed();
  return response;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> FakeEtcdClient::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& request) {
  if (absl::Status s = AdmitNow("DeleteRange"); !s.ok()) return s;
  etcdserverpb::DeleteRangeResponse response =
      etcd_->store().DeleteRange(request);
  etcd_->Changed();
  return response;
}

absl::StatusOr<etcdserverpb::TxnResponse> FakeEtcdClient::Txn(
    const etcdserverpb::TxnRequest& request) {
  if (absl::Status s = AdmitNow("Txn"); !s.ok()) return s;
  absl::StatusOr<etcdserverpb::TxnResponse> response =
      etcd_->store().Txn(request);
  etcd_->Changed();
  return response;
}

absl::StatusOr<etcdserverpb::CompactionResponse> FakeEtcdClient::Compact(
    int64_t revision, bool /*physical*/) {
  if (absl::Status s = AdmitNow("Compact"); !s.ok()) return s;
  if (absl::Status s = etcd_->Compact(revision); !s.ok()) return s;
  etcdserverpb::CompactionResponse response;
  *response.mutable_header() = etcd_->store().Header();
  return response;
}

void FakeEtcdClient::RangeAsync(
    const etcdserverpb::RangeRequest& request,
    etcd::Callback<etcdserverpb::RangeResponse> done) {
  Answer<etcdserverpb::RangeResponse>(
      "Range", request.serializable(),
      [this, request]() -> absl::StatusOr<etcdserverpb::RangeResponse> {
        return etcd_->store().Range(request);
      },
      std::move(done));
}

void FakeEtcdClient::TxnAsync(const etcdserverpb::TxnRequest& request,
                              etcd::Callback<etcdserverpb::TxnResponse> done) {
  Answer<etcdserverpb::TxnResponse>(
      "Txn", false,
      [this, request] {
        absl::StatusOr<etcdserverpb::TxnResponse> response =
            etcd_->store().Txn(request);
        etcd_->Changed();
        return response;
      },
      std::move(done));
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> FakeEtcdClient::LeaseGrant(
    absl::Duration ttl) {
  if (absl::Status s = AdmitNow("LeaseGrant"); !s.ok()) return s;
  etcdserverpb::LeaseGrantResponse response;
  response.set_id(etcd_->GrantLease(ttl));
  response.set_ttl(absl::ToInt64Seconds(ttl));
  *response.mutable_header() = etcd_->store().Header();
  return response;
}

absl::Status FakeEtcdClient::LeaseRevoke(int64_t lease_id) {
  if (absl::Status s = AdmitNow("LeaseRevoke"); !s.ok()) return s;
  if (!etcd_->RevokeLease(lease_id)) {
    return absl::NotFoundError("etcdserver: requested lease not found");
  }
  return absl::OkStatus();
}

absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse>
FakeEtcdClient::LeaseTimeToLive(int64_t lease_id, bool with_keys) {
  if (absl::Status s = AdmitNow("LeaseTimeToLive"); !s.ok()) return s;
  etcdserverpb::LeaseTimeToLiveResponse response;
  *response.mutable_header() = etcd_->store().Header();
  response.set_id(lease_id);
  const FakeEtcdStore::Lease* lease = etcd_->store().FindLease(lease_id);
  if (lease == nullptr) {
    response.set_ttl(-1);  // etcd's answer for a lease it does not know
    return response;
  }
  response.set_grantedttl(absl::ToInt64Seconds(lease->ttl));
  response.set_ttl(absl::ToInt64Seconds(
      absl::Ceil(lease->expires - etcd_->Now(), absl::Seconds(1))));
  if (with_keys) {
    for (const std::string& key : lease->keys) response.add_keys(key);
  }
  return response;
}

void FakeEtcdClient::LeaseGrantAsync(
    absl::Duration ttl, etcd::Callback<etcdserverpb::LeaseGrantResponse> done) {
  Answer<etcdserverpb::LeaseGrantResponse>(
      "LeaseGrant", false,
      [this, ttl]() -> absl::StatusOr<etcdserverpb::LeaseGrantResponse> {
        etcdserverpb::LeaseGrantResponse response;
        response.set_id(etcd_->GrantLease(ttl));
        response.set_ttl(absl::ToInt64Seconds(ttl));
        *response.mutable_header() = etcd_->store().Header();
        return response;
      },
      std::move(done));
}

void FakeEtcdClient::KeepAlive(int64_t lease_id, absl::Duration ttl,
                               etcd::LeaseStateCallback on_state) {
  if (closed_) return;
  absl::Duration ignored;
  (void)etcd_->Admit(FakeCall{"KeepAlive", false, {}}, &ignored);
  etcd_->AddKeepAlive(this, lease_id, ttl, std::move(on_state));
}

void FakeEtcdClient::StopKeepAlive(int64_t lease_id) {
  etcd_->RemoveKeepAlive(this, lease_id);
}

uint64_t FakeEtcdClient::Watch(etcd::WatchOptions options,
                               etcd::WatchEventsCallback on_events,
                               etcd::WatchEndCallback on_end) {
  if (closed_) return 0;
  absl::Duration ignored;  // a refused stream is retried, not reported
  (void)etcd_->Admit(FakeCall{"Watch", false, {}}, &ignored);
  return etcd_->AddWatch(this, std::move(options), std::move(on_events),
                         std::move(on_end));
}

void FakeEtcdClient::CancelWatch(uint64_t watch_id) {
  etcd_->RemoveWatch(this, watch_id);
}

void FakeEtcdClient::RequestWatchProgress() { etcd_->ProgressAll(this); }

uint64_t FakeEtcdClient::RunAfter(absl::Duration delay,
                                  std::function<void()> fn) {
  if (closed_) return 0;
  auto id = std::make_shared<uint64_t>(0);
  *id = etcd_->clock().RunAfter(delay, [this, id, fn = std::move(fn)] {
    timers_.erase(*id);
    fn();
  });
  timers_.insert(*id);
  return *id;
}

bool FakeEtcdClient::CancelTimer(uint64_t timer_id) {
  if (timers_.erase(timer_id) == 0) return false;
  return etcd_->clock().Cancel(timer_id);
}

bool FakeEtcdClient::InDispatcherThread() const {
  return etcd_->clock().in_task() || etcd_->dispatcher_depth > 0;
}

void FakeEtcdClient::RunSync(const std::function<void()>& fn) {
  if (closed_ || InDispatcherThread()) {
    fn();
    return;
  }
  ++etcd_->dispatcher_depth;
  fn();
  --etcd_->dispatcher_depth;
  // What a real dispatcher would have done by the time the caller, woken
  // up, looks at the outcome; later (fake) time stays the test's to give.
  etcd_->RunUntilIdle();
}

}  // namespace vlb::testing
