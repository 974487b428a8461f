// Follows one service's route document in etcd (one key, e.g.
// /vlb/routes/hwholiday.srv.app): reads it, watches it from the read's
// revision + 1, and reports every change of the document in force.
//
// The document in force is the last valid one: a value that does not parse
// (routing/route_document.h) is reported as a notice naming the key, the
// revision and the field, once per revision, and changes nothing. Deleting
// the key reports "no document" (clients go back to their local config).
// Compaction or a lost watch means read again; failed reads are retried
// with backoff while the document in force stays in force.
//
// The first read's outcome is always reported, document or not, failed or
// not (on_change with an empty state when there is none), so that a
// resolver can hold its first addresses until it knows which rules apply:
// a starting client must not send its first calls by its local config when
// etcd holds rules that say otherwise.
//
// Threading: callbacks run on the etcd client's dispatcher thread.
// Start/Stop/Refresh may be called from any thread; no callback runs after
// Stop() returns.
#ifndef VLB_SRC_DISCOVERY_ROUTE_WATCHER_H_
#define VLB_SRC_DISCOVERY_ROUTE_WATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/backoff.h"
#include "etcd/client.h"
#include "routing/route_document.h"

namespace vlb::internal {

inline constexpr char kDefaultRoutesRoot[] = "/vlb/routes/";

// Where `service`'s document lives under `root` (which ends with '/').
std::string RouteDocumentKey(const std::string& root,
                             const std::string& service);

struct RouteState {
  // Null: no document (none in etcd, or none valid seen yet).
  std::shared_ptr<const RouteDocument> document;
  int64_t mod_revision = 0;  // of the document in force; 0 without one
};

class RouteWatcher {
 public:
  struct Callbacks {
    std::function<void(const RouteState&)> on_change;
    std::function<void(const absl::Status&)> on_notice;
  };

  RouteWatcher(std::shared_ptr<etcd::Client> client, std::string key,
               Callbacks callbacks);
  ~RouteWatcher();  // Stop()

  void Start();
  void Stop();

 private:
  void Halt();  // Stop() on the dispatcher thread
  void Read();
  void OnRead(absl::StatusOr<etcdserverpb::RangeResponse> response);
  void StartWatch(int64_t from_revision);
  void OnEvents(const etcd::WatchUpdate& update);
  void OnWatchEnd(const absl::Status& status);
  void Apply(const mvccpb::KeyValue& kv);
  void ApplyDeleted();
  void ReportFirst();
  void RetryLater();

  const std::shared_ptr<etcd::Client> client_;
  const std::string key_;
  const Callbacks callbacks_;
  // False once stopped; held by the callbacks Stop() cannot cancel.
  const std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Dispatcher-thread state.
  RouteState state_;
  int64_t last_invalid_revision_ = 0;
  bool reported_ = false;  // on_change ran at least once
  bool stopped_ = false;
  bool reading_ = false;
  uint64_t watch_id_ = 0;
  uint64_t retry_timer_ = 0;
  internal::Backoff backoff_;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_ROUTE_WATCHER_H_
