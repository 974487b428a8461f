// FakeEtcd: the cluster seen from outside, faults, and call admission.
// Watches and keep-alives are in fake_etcd_streams.cc.
#include "fake_etcd.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fake_etcd_client.h"

namespace vlb::testing {

FakeEtcd::FakeEtcd() = default;
FakeEtcd::~FakeEtcd() = default;

etcd::ClientOptions FakeEtcd::DefaultClientOptions() {
  etcd::ClientOptions options;
  options.endpoints = {"fake-etcd:2379"};
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Seconds(5);
  return options;
}

std::shared_ptr<FakeEtcdClient> FakeEtcd::NewClient(
    etcd::ClientOptions options) {
  return std::make_shared<FakeEtcdClient>(this, std::move(options));
}

int64_t FakeEtcd::Put(const std::string& key, const std::string& value,
                      int64_t lease) {
  etcdserverpb::PutRequest put;
  put.set_key(key);
  put.set_value(value);
  put.set_lease(lease);
  absl::StatusOr<etcdserverpb::PutResponse> response = store_.Put(put);
  Changed();
  return response.ok() ? response->header().revision() : 0;
}

void FakeEtcd::Delete(const std::string& key) {
  etcdserverpb::DeleteRangeRequest del;
  del.set_key(key);
  store_.DeleteRange(del);
  Changed();
}

std::optional<mvccpb::KeyValue> FakeEtcd::Get(const std::string& key) const {
  etcdserverpb::RangeRequest range;
  range.set_key(key);
  etcdserverpb::RangeResponse response = store_.Range(range);
  if (response.kvs_size() == 0) return std::nullopt;
  return response.kvs(0);
}

absl::Status FakeEtcd::Compact(int64_t revision) {
  return store_.Compact(revision);
}

int64_t FakeEtcd::GrantLease(absl::Duration ttl) {
  const int64_t id = store_.GrantLease(ttl, Now());
  ArmExpiry();
  return id;
}

bool FakeEtcd::RevokeLease(int64_t lease_id) {
  const bool revoked = store_.RevokeLease(lease_id);
  Changed();
  return revoked;
}

void FakeEtcd::SetUnavailable(bool unavailable) {
  const bool recovered = unavailable_ && !unavailable;
  unavailable_ = unavailable;
  if (!recovered) return;
  // The streams reconnect: each watch is created again from where it was.
  for (auto& [id, watch] : watches_) watch.created = false;
  for (auto& [id, watch] : watches_) Kick(id);
}

void FakeEtcd::Wipe() {
  store_.Wipe();
  // A restarted member breaks every stream; the watches resume against a
  // store that has lost their history.
  for (auto& [id, watch] : watches_) watch.created = false;
  Changed();
}

void FakeEtcd::EndWatches(const absl::Status& status) {
  std::vector<uint64_t> ids;
  for (const auto& [id, watch] : watches_) ids.push_back(id);
  for (uint64_t id : ids) {
    clock_.RunAfter(slow_, [this, id, status] { End(id, status); });
  }
}

std::vector<FakeCall> FakeEtcd::CallsOf(const std::string& method,
                                        absl::Time since) const {
  std::vector<FakeCall> out;
  for (const FakeCall& call : calls_) {
    if (call.method == method && call.at >= since) out.push_back(call);
  }
  return out;
}

absl::Status FakeEtcd::Admit(FakeCall call, absl::Duration* delay) {
  call.at = Now();
  calls_.push_back(call);
  *delay = slow_;
  if (unavailable_) {
    return absl::UnavailableError(
        absl::StrCat(call.method, " on fake-etcd:2379: connection refused"));
  }
  if (!hook_) return absl::OkStatus();
  FakeCallOutcome outcome = hook_(call);
  *delay += outcome.delay;
  return outcome.status;
}

void FakeEtcd::Changed() {
  ArmExpiry();
  for (auto& [id, watch] : watches_) Kick(id);
}

void FakeEtcd::ArmExpiry() {
  // One timer, at the earliest deadline: simpler than one per lease and
  // correct as every renewal and grant re-arms it.
  clock_.Cancel(expiry_timer_);
  expiry_timer_ = 0;
  const absl::Time earliest = store_.EarliestExpiry();
  if (earliest == absl::InfiniteFuture()) return;
  expiry_timer_ = clock_.RunAfter(earliest - Now(), [this] {
    expiry_timer_ = 0;
    store_.ExpireLeases(Now());
    Changed();
  });
}

}  // namespace vlb::testing
