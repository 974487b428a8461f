#include "fake_etcd_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vlb::testing {
namespace {

using etcdserverpb::Compare;

// Cluster ids differ per store incarnation, so a wipe is visible to
// watchers exactly as etcd rebuilt from scratch is.
uint64_t NextClusterId() {
  static uint64_t next = 0xc1a5000000000001;
  return next++;
}

absl::Status LeaseNotFound() {
  return absl::NotFoundError("etcdserver: requested lease not found");
}

template <typename T>
bool CompareValues(Compare::CompareResult result, const T& have,
                   const T& want) {
  switch (result) {
    case Compare::EQUAL:
      return have == want;
    case Compare::NOT_EQUAL:
      return have != want;
    case Compare::GREATER:
      return have > want;
    case Compare::LESS:
      return have < want;
    default:
      return false;
  }
}

}  // namespace

FakeEtcdStore::FakeEtcdStore() : cluster_id_(NextClusterId()) {}

etcdserverpb::ResponseHeader FakeEtcdStore::Header() const {
  etcdserverpb::ResponseHeader header;
  header.set_cluster_id(cluster_id_);
  header.set_member_id(1);
  header.set_revision(revision_);
  header.set_raft_term(1);
  return header;
}

bool FakeEtcdStore::InRange(const std::string& key, const std::string& start,
                            const std::string& end) {
  if (end.empty()) return key == start;
  if (end == std::string(1, '\0')) return key >= start;  // "from key"
  return key >= start && key < end;
}

etcdserverpb::RangeResponse FakeEtcdStore::Range(
    const etcdserverpb::RangeRequest& request) const {
  etcdserverpb::RangeResponse response;
  *response.mutable_header() = Header();
  for (auto it = kvs_.lower_bound(request.key()); it != kvs_.end(); ++it) {
    // Keys are sorted: the first one out of range ends the range.
    if (!InRange(it->first, request.key(), request.range_end())) break;
    response.set_count(response.count() + 1);
    if (request.count_only()) continue;
    if (request.limit() > 0 && response.kvs_size() >= request.limit()) {
      response.set_more(true);
      continue;
    }
    mvccpb::KeyValue* kv = response.add_kvs();
    *kv = it->second;
    if (request.keys_only()) kv->clear_value();
  }
  return response;
}

int64_t FakeEtcdStore::WriteRevision() {
  if (!writing_) {
    writing_ = true;
    ++revision_;
  }
  return revision_;
}

// Not operator[]: a revoked lease detaching its keys must stay gone.
void FakeEtcdStore::DetachKey(int64_t lease, const std::string& key) {
  auto it = leases_.find(lease);
  if (it != leases_.end()) it->second.keys.erase(key);
}

void FakeEtcdStore::PutKey(const std::string& key, const std::string& value,
                           int64_t lease) {
  const int64_t rev = WriteRevision();
  mvccpb::KeyValue& kv = kvs_[key];
  if (kv.create_revision() == 0) kv.set_create_revision(rev);
  if (kv.lease() != lease) DetachKey(kv.lease(), key);
  kv.set_key(key);
  kv.set_value(value);
  kv.set_mod_revision(rev);
  kv.set_version(kv.version() + 1);
  kv.set_lease(lease);
  if (lease != 0) leases_[lease].keys.insert(key);
  mvccpb::Event event;
  event.set_type(mvccpb::Event::PUT);
  *event.mutable_kv() = kv;
  history_.push_back(std::move(event));
}

absl::StatusOr<etcdserverpb::PutResponse> FakeEtcdStore::Put(
    const etcdserverpb::PutRequest& request) {
  if (request.lease() != 0 && leases_.count(request.lease()) == 0) {
    return LeaseNotFound();
  }
  etcdserverpb::PutResponse response;
  auto old = kvs_.find(request.key());
  if (request.prev_kv() && old != kvs_.end()) {
    *response.mutable_prev_kv() = old->second;
  }
  Begin();
  PutKey(request.key(), request.value(), request.lease());
  *response.mutable_header() = Header();
  return response;
}

int64_t FakeEtcdStore::DeleteKeys(const std::string& key,
                                  const std::string& end, bool prev_kv,
                                  etcdserverpb::DeleteRangeResponse* out) {
  std::vector<std::string> doomed;
  for (auto it = kvs_.lower_bound(key); it != kvs_.end(); ++it) {
    if (!InRange(it->first, key, end)) break;
    doomed.push_back(it->first);
  }
  for (const std::string& k : doomed) {
    mvccpb::KeyValue kv = std::move(kvs_[k]);
    kvs_.erase(k);
    DetachKey(kv.lease(), k);
    mvccpb::Event event;
    event.set_type(mvccpb::Event::DELETE);
    event.mutable_kv()->set_key(k);
    event.mutable_kv()->set_mod_revision(WriteRevision());
    history_.push_back(std::move(event));
    if (out != nullptr && prev_kv) *out->add_prev_kvs() = std::move(kv);
  }
  return static_cast<int64_t>(doomed.size());
}

etcdserverpb::DeleteRangeResponse FakeEtcdStore::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& request) {
  etcdserverpb::DeleteRangeResponse response;
  Begin();
  response.set_deleted(DeleteKeys(request.key(), request.range_end(),
                                  request.prev_kv(), &response));
  *response.mutable_header() = Header();
  return response;
}

bool FakeEtcdStore::Compares(const Compare& compare) const {
  auto it = kvs_.find(compare.key());
  // etcd compares a missing key as all zeroes, except by value.
  const mvccpb::KeyValue empty;
  const mvccpb::KeyValue& kv = it == kvs_.end() ? empty : it->second;
  switch (compare.target()) {
    case Compare::CREATE:
      return CompareValues(compare.result(), kv.create_revision(),
                           compare.create_revision());
    case Compare::MOD:
      return CompareValues(compare.result(), kv.mod_revision(),
                           compare.mod_revision());
    case Compare::VERSION:
      return CompareValues(compare.result(), kv.version(), compare.version());
    case Compare::LEASE:
      return CompareValues(compare.result(), kv.lease(), compare.lease());
    case Compare::VALUE:
      return it != kvs_.end() &&
             CompareValues(compare.result(), kv.value(), compare.value());
    default:
      return false;
  }
}

absl::Status FakeEtcdStore::CheckLeases(
    const etcdserverpb::TxnRequest& request) const {
  const bool ok =
      std::all_of(request.compare().begin(), request.compare().end(),
                  [this](const Compare& c) { return Compares(c); });
  for (const etcdserverpb::RequestOp& op :
       ok ? request.success() : request.failure()) {
    if (op.has_request_put() && op.request_put().lease() != 0 &&
        leases_.count(op.request_put().lease()) == 0) {
      return LeaseNotFound();
    }
    if (op.has_request_txn()) {
      if (absl::Status s = CheckLeases(op.request_txn()); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

void FakeEtcdStore::ApplyTxn(const etcdserverpb::TxnRequest& request,
                             etcdserverpb::TxnResponse* out) {
  // etcd evaluates every compare before any op of the branch runs.
  const bool ok =
      std::all_of(request.compare().begin(), request.compare().end(),
                  [this](const Compare& c) { return Compares(c); });
  out->set_succeeded(ok);
  for (const etcdserverpb::RequestOp& op :
       ok ? request.success() : request.failure()) {
    etcdserverpb::ResponseOp* result = out->add_responses();
    if (op.has_request_range()) {
      *result->mutable_response_range() = Range(op.request_range());
    } else if (op.has_request_put()) {
      const etcdserverpb::PutRequest& put = op.request_put();
      PutKey(put.key(), put.value(), put.lease());
      result->mutable_response_put();
    } else if (op.has_request_delete_range()) {
      const etcdserverpb::DeleteRangeRequest& del = op.request_delete_range();
      etcdserverpb::DeleteRangeResponse* response =
          result->mutable_response_delete_range();
      response->set_deleted(
          DeleteKeys(del.key(), del.range_end(), del.prev_kv(), response));
    } else if (op.has_request_txn()) {
      ApplyTxn(op.request_txn(), result->mutable_response_txn());
    }
  }
}

absl::StatusOr<etcdserverpb::TxnResponse> FakeEtcdStore::Txn(
    const etcdserverpb::TxnRequest& request) {
  if (absl::Status s = CheckLeases(request); !s.ok()) return s;
  etcdserverpb::TxnResponse response;
  Begin();
  ApplyTxn(request, &response);
  // Headers last: they carry the revision the whole transaction wrote.
  *response.mutable_header() = Header();
  return response;
}

absl::Status FakeEtcdStore::Compact(int64_t revision) {
  if (revision <= compact_revision_) {
    return absl::OutOfRangeError(
        "etcdserver: mvcc: required revision has been compacted");
  }
  if (revision > revision_) {
    return absl::OutOfRangeError(
        "etcdserver: mvcc: required revision is a future revision");
  }
  // History stays (watches already past it keep streaming); only new
  // watches from below it are refused, as etcd does.
  compact_revision_ = revision;
  return absl::OkStatus();
}

std::vector<mvccpb::Event> FakeEtcdStore::EventsSince(
    const std::string& key, const std::string& range_end, int64_t from) const {
  std::vector<mvccpb::Event> out;
  for (const mvccpb::Event& event : history_) {
    if (event.kv().mod_revision() >= from &&
        InRange(event.kv().key(), key, range_end)) {
      out.push_back(event);
    }
  }
  return out;
}

int64_t FakeEtcdStore::GrantLease(absl::Duration ttl, absl::Time now) {
  const int64_t id = next_lease_++;
  leases_[id] = Lease{ttl, now + ttl, {}};
  return id;
}

bool FakeEtcdStore::RevokeLease(int64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return false;
  const std::set<std::string> keys = std::move(it->second.keys);
  leases_.erase(it);
  Begin();
  for (const std::string& key : keys) DeleteKeys(key, "", false, nullptr);
  return true;
}

bool FakeEtcdStore::RenewLease(int64_t id, absl::Time now) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return false;
  it->second.expires = now + it->second.ttl;
  return true;
}

const FakeEtcdStore::Lease* FakeEtcdStore::FindLease(int64_t id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

absl::Time FakeEtcdStore::EarliestExpiry() const {
  absl::Time earliest = absl::InfiniteFuture();
  for (const auto& [id, lease] : leases_) {
    earliest = std::min(earliest, lease.expires);
  }
  return earliest;
}

void FakeEtcdStore::ExpireLeases(absl::Time now) {
  std::vector<int64_t> expired;
  for (const auto& [id, lease] : leases_) {
    if (lease.expires <= now) expired.push_back(id);
  }
  for (int64_t id : expired) RevokeLease(id);
}

void FakeEtcdStore::Wipe() {
  cluster_id_ = NextClusterId();
  revision_ = 1;
  compact_revision_ = 0;
  kvs_.clear();
  history_.clear();
  leases_.clear();
}

}  // namespace vlb::testing
