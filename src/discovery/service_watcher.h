// Follows one service in etcd: reads its prefix, then watches it from the
// read's revision + 1, and reports the full set of valid instances after
// every change. Heals by itself: a compacted or lost watch means read again;
// read failures are retried with backoff while the last known set stays in
// force (nothing is reported, so callers keep using it).
//
// Only direct children of the prefix are instances: "<prefix><id>" with a
// non-empty id without '/'. The prefix key itself and nested keys (where
// another service lives: "a.b.admin" is under "/a/b/admin/") are skipped,
// with one notice per key. Malformed records (bad JSON, missing version or
// address, oversized) are skipped with a notice naming the key (once per
// value); the rest are unaffected.
//
// Cold start without quorum: while no snapshot is in force, a serializable
// read (answered by any member, maybe stale) runs beside the linearizable
// one; if that one fails, or has not answered within a second, the stale
// answer is used, with a notice, until a linearizable read succeeds.
// With `snapshot_dir` set, the instances are also saved there after changes
// (at most once a second) and read back at start when no member answers at
// all; etcd's own answer always replaces them.
//
// When etcd comes back with less history than was seen (wiped, or restored
// from an older backup), the instances the new store lacks are kept for
// `data_loss_grace` while their registrars re-register, then dropped. A
// deletion seen by the watch still takes effect at once.
//
// Threading: callbacks run on the etcd client's dispatcher thread.
#ifndef VLB_SRC_DISCOVERY_SERVICE_WATCHER_H_
#define VLB_SRC_DISCOVERY_SERVICE_WATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/backoff.h"
#include "etcd/client.h"
#include "vlb/service_instance.h"

namespace vlb::internal {

struct WatchedInstance {
  std::string key;
  // Its id is filled from the key when the record lacks it.
  ServiceInstance instance;
  int64_t mod_revision = 0;  // of the record's last write
};

struct ServiceSnapshot {
  std::vector<WatchedInstance> instances;  // sorted by key
  int64_t revision = 0;  // etcd revision this snapshot reflects
};

struct ServiceWatcherOptions {
  // How long instances missing after a detected data loss stay in use.
  // About a lease TTL: by then every live registrar has written again.
  absl::Duration data_loss_grace = absl::Seconds(10);
  // Where to keep the on-disk copy of the instances; empty: none.
  std::string snapshot_dir;
};

class ServiceWatcher {
 public:
  struct Callbacks {
    std::function<void(const ServiceSnapshot&)> on_snapshot;
    // A read failed; `have_snapshot` tells whether an earlier snapshot
    // (still in force) was delivered.
    std::function<void(const absl::Status&, bool have_snapshot)> on_read_error;
    // A record was skipped, or the watch ended and is being re-established:
    // worth a log line, nothing to act on.
    std::function<void(const absl::Status&)> on_notice;
  };

  ServiceWatcher(std::shared_ptr<etcd::Client> client, std::string service_name,
                 Callbacks callbacks, ServiceWatcherOptions options = {});
  ~ServiceWatcher();  // Stop()

  void Start();
  // No callback runs after Stop() returns. Idempotent.
  void Stop();
  // Reads the prefix again (e.g. when gRPC asks for re-resolution).
  void Refresh();

 private:
  void Read();
  void OnRead(absl::StatusOr<etcdserverpb::RangeResponse> response);
  void ReadStale();
  void OnStaleRead(absl::StatusOr<etcdserverpb::RangeResponse> response);
  void UseStaleRead();
  void UseStoredSnapshot();
  void ScheduleSave();
  // The instances of `response` (skipping what is not an instance).
  std::map<std::string, WatchedInstance> Decode(
      const etcdserverpb::RangeResponse& response);
  void StartWatch(int64_t from_revision);
  void OnEvents(const etcd::WatchUpdate& update);
  void OnWatchEnd(const absl::Status& status);
  // Whether `kv` is an instance of this service; fills `out` if so.
  bool Decode(const mvccpb::KeyValue& kv, WatchedInstance* out);
  bool IsInstanceKey(const std::string& key);
  void Forget(const std::string& key);
  void HoldMissingAfterDataLoss(
      std::map<std::string, WatchedInstance> previous);
  void EndGrace();
  void Publish(int64_t revision);
  void RetryLater();
  std::shared_ptr<bool> Alive() const { return alive_; }

  const std::shared_ptr<etcd::Client> client_;
  const std::string service_name_;
  const std::string prefix_;
  const Callbacks callbacks_;
  const ServiceWatcherOptions options_;
  // False once stopped; held by every callback that Stop() cannot cancel
  // (async reads, queued tasks), which may run after this object is gone.
  const std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  // Dispatcher-thread state.
  bool stopped_ = false;
  bool reading_ = false;
  bool have_snapshot_ = false;
  // No linearizable read has succeeded yet: what is in force (if anything)
  // came from a serializable read or the disk.
  bool provisional_ = true;
  bool stale_reading_ = false;
  bool stale_failed_ = false;  // the cold-start serializable read failed
  // Its answer, waiting (stale_timer_) for the linearizable one.
  std::optional<etcdserverpb::RangeResponse> stale_response_;
  uint64_t stale_timer_ = 0;
  uint64_t save_timer_ = 0;
  std::map<std::string, WatchedInstance> instances_;  // by key
  // After a data loss: known instances the store lacked, until grace ends.
  std::map<std::string, WatchedInstance> held_;
  bool data_loss_pending_ = false;  // the next read follows a data loss
  bool watch_refused_ = false;      // until the next watch update arrives
  uint64_t grace_timer_ = 0;
  int64_t last_revision_ = 0;  // of the last snapshot
  // Keys already reported as skipped (not instances, or malformed), with
  // the value reported, so each is logged once rather than per update.
  std::map<std::string, std::string> reported_;
  uint64_t watch_id_ = 0;
  uint64_t retry_timer_ = 0;
  Backoff backoff_;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_SERVICE_WATCHER_H_
