// The data side of the fake etcd: an MVCC key-value store with revisions,
// an event history (for watches from a past revision), compaction, and
// leases that own keys. No time, faults or callbacks here: FakeEtcd wraps it
// with those. Error texts follow etcd's ("etcdserver: requested lease not
// found") because callers match on codes, and people read the messages.
//
// Thread-safety: none; FakeEtcd calls it from the test thread only.
#ifndef VLB_TESTS_SUPPORT_FAKE_ETCD_STORE_H_
#define VLB_TESTS_SUPPORT_FAKE_ETCD_STORE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "etcd/mvccpb/kv.pb.h"

namespace vlb::testing {

class FakeEtcdStore {
 public:
  struct Lease {
    absl::Duration ttl;
    absl::Time expires;
    std::set<std::string> keys;
  };

  FakeEtcdStore();

  int64_t revision() const { return revision_; }
  int64_t compact_revision() const { return compact_revision_; }
  uint64_t cluster_id() const { return cluster_id_; }
  etcdserverpb::ResponseHeader Header() const;

  // --- KV (each write bumps the revision once, a Txn included) ------------
  etcdserverpb::RangeResponse Range(
      const etcdserverpb::RangeRequest& request) const;
  absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& request);
  etcdserverpb::DeleteRangeResponse DeleteRange(
      const etcdserverpb::DeleteRangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& request);
  // OutOfRange for a revision already compacted or not yet written.
  absl::Status Compact(int64_t revision);

  // Events at revision >= `from` on [key, range_end), in order.
  std::vector<mvccpb::Event> EventsSince(const std::string& key,
                                         const std::string& range_end,
                                         int64_t from) const;

  // --- Leases --------------------------------------------------------------
  int64_t GrantLease(absl::Duration ttl, absl::Time now);
  // Deletes the lease and its keys (one revision); false when unknown.
  bool RevokeLease(int64_t id);
  // Renews to now + TTL; false when unknown.
  bool RenewLease(int64_t id, absl::Time now);
  const Lease* FindLease(int64_t id) const;
  // InfiniteFuture() without leases.
  absl::Time EarliestExpiry() const;
  // Revokes every lease whose TTL ran out by `now`.
  void ExpireLeases(absl::Time now);

  // Back to an empty store at revision 1 under a new cluster id, as an etcd
  // restarted on an empty data dir: keys, history and leases gone.
  void Wipe();

 private:
  static bool InRange(const std::string& key, const std::string& start,
                      const std::string& end);
  // Writes within one revision: Begin, any number of ops, Commit.
  void Begin() { writing_ = false; }
  int64_t WriteRevision();
  void DetachKey(int64_t lease, const std::string& key);
  void PutKey(const std::string& key, const std::string& value, int64_t lease);
  int64_t DeleteKeys(const std::string& key, const std::string& end,
                     bool prev_kv, etcdserverpb::DeleteRangeResponse* out);
  absl::Status CheckLeases(const etcdserverpb::TxnRequest& request) const;
  bool Compares(const etcdserverpb::Compare& compare) const;
  void ApplyTxn(const etcdserverpb::TxnRequest& request,
                etcdserverpb::TxnResponse* out);

  uint64_t cluster_id_;
  int64_t revision_ = 1;  // etcd's first revision of an empty store
  int64_t compact_revision_ = 0;
  bool writing_ = false;  // the current write already took a revision
  std::map<std::string, mvccpb::KeyValue> kvs_;
  std::vector<mvccpb::Event> history_;
  std::map<int64_t, Lease> leases_;
  int64_t next_lease_ = 0x7e57000000000001;  // distinctive in logs
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_FAKE_ETCD_STORE_H_
