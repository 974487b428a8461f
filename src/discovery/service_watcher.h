// Follows one service in etcd: reads its prefix, then watches it from the
// read's revision + 1, and reports the full set of valid instances after
// every change. Heals by itself: a compacted or lost watch means read again;
// read failures are retried with backoff while the last known set stays in
// force (nothing is reported, so callers keep using it).
//
// Malformed records (bad JSON, missing version or address, oversized) are
// skipped with a log line naming the key; the rest are unaffected.
//
// Threading: callbacks run on the etcd client's dispatcher thread.
#ifndef VLB_SRC_DISCOVERY_SERVICE_WATCHER_H_
#define VLB_SRC_DISCOVERY_SERVICE_WATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/backoff.h"
#include "etcd/client.h"
#include "vlb/service_instance.h"

namespace vlb::internal {

struct ServiceSnapshot {
  // Sorted by key; each has its instance id filled from the key when the
  // record lacks it.
  std::vector<ServiceInstance> instances;
  int64_t revision = 0;  // etcd revision this snapshot reflects
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
                 Callbacks callbacks);
  ~ServiceWatcher();  // Stop()

  void Start();
  // No callback runs after Stop() returns. Idempotent.
  void Stop();
  // Reads the prefix again (e.g. when gRPC asks for re-resolution).
  void Refresh();

 private:
  void Read();
  void OnRead(absl::StatusOr<etcdserverpb::RangeResponse> response);
  void StartWatch(int64_t from_revision);
  void OnEvents(const etcd::WatchUpdate& update);
  void OnWatchEnd(const absl::Status& status);
  bool Decode(const std::string& key, const std::string& value,
              ServiceInstance* instance);
  void Publish(int64_t revision);
  void RetryLater();

  const std::shared_ptr<etcd::Client> client_;
  const std::string service_name_;
  const std::string prefix_;
  const Callbacks callbacks_;

  // Dispatcher-thread state.
  bool stopped_ = false;
  bool reading_ = false;
  bool have_snapshot_ = false;
  std::map<std::string, ServiceInstance> instances_;  // by key
  uint64_t watch_id_ = 0;
  uint64_t retry_timer_ = 0;
  Backoff backoff_;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_SERVICE_WATCHER_H_
