// An in-memory etcd for unit tests: one FakeEtcd plays the cluster (store,
// leases, watches, faults) and the dispatcher thread of every client made
// from it (NewClient()). Everything runs on the test thread, on a FakeClock:
// nothing happens until the test advances time or runs what is due, so
// every test is deterministic and takes microseconds of fake seconds.
//
//   FakeEtcd etcd;
//   auto client = etcd.NewClient();           // an etcd::Client
//   ServiceWatcher watcher(client, "a.b", callbacks);
//   watcher.Start();                          // reads, starts the watch
//   etcd.Put("/a/b/x", record);               // as another writer would
//   etcd.RunUntilIdle();                      // the event arrives
//   etcd.SetUnavailable(true); etcd.AdvanceTime(absl::Seconds(3));
//
// What it models, after the real client's contract (src/etcd/client.h):
// - KV with revisions: Range (prefix via range_end; serializable accepted),
//   Put, DeleteRange, Txn (nested, compares on CREATE/MOD/VERSION/VALUE/
//   LEASE), Compact. One write (a Txn included) takes one revision.
// - Leases with TTLs on the fake clock; expiry and revocation delete the
//   attached keys (watchers see DELETE events). KeepAlive renews every
//   TTL/3 and reports NotFound (gone), Unavailable (unconfirmed for longer
//   than the TTL) and OK (confirmed again) like etcd::LeaseKeeper.
// - Watches from a revision, over a prefix, events in order, once each.
//   Starting below the compaction revision ends with etcd::CompactedError.
//   Like the real WatchHub, a watch survives an outage and resumes where it
//   was; a store that came back wiped ends it with DataLoss.
// - Faults: SetUnavailable (every call fails UNAVAILABLE; streams are down,
//   but the cluster behind keeps time: leases still expire, as for a client
//   cut off from a running cluster), SetSlow (answers, events and
//   keep-alive confirmations arrive that much later; synchronous calls are
//   not delayed), Wipe (empty store at revision 1, new cluster id, no
//   leases), SetCallHook (fail or delay chosen calls), EndWatches (etcd
//   cancels every watch).
// - Dispatcher: RunAfter/CancelTimer are FakeClock tasks; InDispatcherThread
//   is true inside a task or RunSync; RunSync from the test thread runs `fn`
//   and then every task already due (as a real dispatcher would have by the
//   time a waiting caller looks again), so blocking APIs such as
//   Registrar::Start() see answers that need no fake time.
//
// Not modelled: prev_kv in watch events, Range at a past revision, auth,
// multiple members.
//
// Thread-safety: none. One test thread; FakeEtcd must outlive its clients.
#ifndef VLB_TESTS_SUPPORT_FAKE_ETCD_H_
#define VLB_TESTS_SUPPORT_FAKE_ETCD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "etcd/client.h"
#include "fake_clock.h"
#include "fake_etcd_store.h"

namespace vlb::testing {

class FakeEtcdClient;

// A call as the fake cluster receives it (for hooks and the call log).
struct FakeCall {
  std::string method;         // "Range", "Txn", "LeaseGrant", "KeepAlive", ...
  bool serializable = false;  // Range only
  absl::Time at;              // fake time the call was made
};

// What a hook decides for one call: a status that is not OK fails it, and
// `delay` adds to the time its answer takes (asynchronous calls).
struct FakeCallOutcome {
  absl::Status status;
  absl::Duration delay;
};
using FakeCallHook = std::function<FakeCallOutcome(const FakeCall&)>;

class FakeEtcd {
 public:
  FakeEtcd();
  ~FakeEtcd();
  FakeEtcd(const FakeEtcd&) = delete;
  FakeEtcd& operator=(const FakeEtcd&) = delete;

  // Backoff as small as the real defaults: tests measure it on the clock.
  static etcd::ClientOptions DefaultClientOptions();
  std::shared_ptr<FakeEtcdClient> NewClient(
      etcd::ClientOptions options = DefaultClientOptions());

  // --- Time ----------------------------------------------------------------
  FakeClock& clock() { return clock_; }
  absl::Time Now() const { return clock_.Now(); }
  void AdvanceTime(absl::Duration d) { clock_.AdvanceTime(d); }
  void RunUntilIdle() { clock_.RunUntilIdle(); }

  // --- The cluster seen from outside (no faults, no hooks) ----------------
  FakeEtcdStore& store() { return store_; }
  int64_t revision() const { return store_.revision(); }
  // Returns the revision of the write. Lease 0: no lease.
  int64_t Put(const std::string& key, const std::string& value,
              int64_t lease = 0);
  void Delete(const std::string& key);
  std::optional<mvccpb::KeyValue> Get(const std::string& key) const;
  absl::Status Compact(int64_t revision);
  int64_t GrantLease(absl::Duration ttl);
  bool RevokeLease(int64_t lease_id);

  // --- Faults --------------------------------------------------------------
  void SetUnavailable(bool unavailable);
  bool unavailable() const { return unavailable_; }
  void SetSlow(absl::Duration delay) { slow_ = delay; }
  void Wipe();
  void SetCallHook(FakeCallHook hook) { hook_ = std::move(hook); }
  // etcd cancels every watch with `status` (e.g. Aborted), as after a
  // member's internal error; the owners' WatchEndCallbacks run.
  void EndWatches(const absl::Status& status);

  // --- Observations -------------------------------------------------------
  const std::vector<FakeCall>& calls() const { return calls_; }
  // Calls of `method` so far, optionally only those at or after `since`.
  std::vector<FakeCall> CallsOf(const std::string& method,
                                absl::Time since = absl::InfinitePast()) const;
  size_t watch_count() const { return watches_.size(); }
  size_t keepalive_count() const { return keepalives_.size(); }

  // --- For FakeEtcdClient --------------------------------------------------
  // Logs the call and decides it: OK (with the extra delay in `*delay`) or
  // the failure to report.
  absl::Status Admit(FakeCall call, absl::Duration* delay);
  absl::Duration slow() const { return slow_; }
  // After every write: wake the watches, arm lease expiry.
  void Changed();
  uint64_t AddWatch(FakeEtcdClient* owner, etcd::WatchOptions options,
                    etcd::WatchEventsCallback on_events,
                    etcd::WatchEndCallback on_end);
  void RemoveWatch(FakeEtcdClient* owner, uint64_t id);
  void AddKeepAlive(FakeEtcdClient* owner, int64_t lease, absl::Duration ttl,
                    etcd::LeaseStateCallback on_state);
  void RemoveKeepAlive(FakeEtcdClient* owner, int64_t lease);
  void Forget(FakeEtcdClient* owner);  // a client closed
  void ProgressAll(FakeEtcdClient* owner);
  int dispatcher_depth = 0;  // RunSync nesting (the "dispatcher thread")

 private:
  struct Watch {
    FakeEtcdClient* owner;
    etcd::WatchOptions options;
    etcd::WatchEventsCallback on_events;
    etcd::WatchEndCallback on_end;
    int64_t next_revision = 0;
    uint64_t cluster_id = 0;  // 0: never created
    bool created = false;     // false: to be (re)created on the stream
    uint64_t delivery = 0;    // pending delivery task, 0: none
  };
  struct KeepAliveEntry {
    absl::Duration ttl;
    etcd::LeaseStateCallback on_state;
    absl::Time confirmed_until;
    bool unconfirmed = false;
    uint64_t timer = 0;
  };
  using KeepAliveKey = std::pair<FakeEtcdClient*, int64_t>;

  void Kick(uint64_t id);
  void Deliver(uint64_t id);
  // Creates or resumes the watch; false when that ended it.
  bool CreateOnStream(uint64_t id, Watch& watch);
  void End(uint64_t id, const absl::Status& status);
  void ScheduleTick(const KeepAliveKey& key);
  void Tick(const KeepAliveKey& key);
  void Confirm(const KeepAliveKey& key, absl::Time sent);
  void ArmExpiry();

  FakeClock clock_;
  FakeEtcdStore store_;
  bool unavailable_ = false;
  absl::Duration slow_;
  FakeCallHook hook_;
  std::vector<FakeCall> calls_;
  uint64_t next_watch_ = 1;
  std::map<uint64_t, Watch> watches_;
  std::map<KeepAliveKey, KeepAliveEntry> keepalives_;
  uint64_t expiry_timer_ = 0;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_FAKE_ETCD_H_
