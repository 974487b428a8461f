// A client for etcd's v3 gRPC API: KV, Lease (with a shared keep-alive
// stream) and Watch (many watches multiplexed on one stream).
//
// Threads: the client owns one dispatcher thread. Every callback (async
// results, watch updates, keep-alive notices) runs there, one at a time, in
// the order the events happened. Callbacks may call any client method
// except Close() and the blocking (synchronous) calls.
//
// Failover: a request that fails with UNAVAILABLE (which includes etcd's
// "no leader" and "request timed out") or DEADLINE_EXCEEDED is retried on
// the next endpoint (each endpoint once per request, each attempt with a
// full request_timeout, so a request may take endpoints x request_timeout).
// A request that ran into its deadline may still have been applied, so it
// can be applied twice: Put, DeleteRange, the lease calls and Range repeat
// harmlessly (a second Put makes a second event; a second LeaseGrant leaves
// an unused lease that expires; a second LeaseRevoke reports NotFound), and
// a Txn must be safe to repeat, as the registrar's is (it writes only when
// the key is absent or already bound to its lease). Streams (watch,
// keep-alive) carry etcd's require-leader metadata, so a member that lost
// its leader ends them, and reconnect with jittered exponential backoff,
// moving to the next endpoint each time.
//
// Shutdown: Close() (also run by the destructor) cancels everything and
// returns once no callback is running; none runs afterwards. Watches and
// keep-alives end silently (no WatchEndCallback, no LeaseStateCallback);
// async requests still in flight complete with CANCELLED before Close()
// returns. Close() waits for gRPC to complete what it cancelled, so it must
// not run on a gRPC thread either (a gRPC callback, a resolver or LB policy
// method): gRPC may queue those completions on that very thread.
#ifndef VLB_SRC_ETCD_CLIENT_H_
#define VLB_SRC_ETCD_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "etcd/mvccpb/kv.pb.h"

namespace vlb::etcd {

// TLS material as PEM text (callers read files; see etcd/tls.h for checks).
struct TlsOptions {
  bool enabled = false;  // false: plaintext, the rest is ignored
  std::string ca_pem;    // empty: the system's root CAs
  std::string cert_pem;  // client certificate chain, with key_pem, or empty
  std::string key_pem;
  // Where each PEM came from, for error messages, e.g.
  // `etcd.ca_file "/etc/etcd/ca.pem"`. Empty: "tls.ca_pem" and so on.
  std::string ca_origin;
  std::string cert_origin;
  std::string key_origin;
};

struct ClientOptions {
  std::vector<std::string> endpoints;  // "host:port"; at least one
  absl::Duration request_timeout = absl::Seconds(5);
  std::string username;  // empty: no authentication
  std::string password;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  TlsOptions tls;
};

// A key that is equal for two options exactly when clients made from them
// are interchangeable: the endpoints (in any order), timeouts, backoff, the
// user, and SHA-256 digests of the password and the TLS material (the key
// holds no secret in the clear; origins are ignored). Cost: one pass over
// the options. Thread-safe.
std::string ClientOptionsKey(const ClientOptions& options);

// The end of a key range covering every key that starts with `prefix`.
std::string PrefixRangeEnd(const std::string& prefix);

// A watch canceled because its start revision was compacted reports a status
// for which IsCompacted() is true and CompactRevision() is the oldest
// revision still available.
bool IsCompacted(const absl::Status& status);
int64_t CompactRevision(const absl::Status& status);
absl::Status CompactedError(int64_t compact_revision);

struct WatchOptions {
  std::string key;
  std::string range_end;       // empty: `key` alone; see PrefixRangeEnd()
  int64_t start_revision = 0;  // 0: from now
  bool prev_kv = false;
  bool progress_notify = true;  // lets resumption skip quiet periods
};

// One batch of events, all with revisions in increasing order. A batch with
// no events is a progress notice: nothing below `revision` is still to come.
struct WatchUpdate {
  std::vector<mvccpb::Event> events;
  int64_t revision = 0;  // store revision when the batch was sent
};

using WatchEventsCallback = std::function<void(const WatchUpdate&)>;
// Called once when the server ended the watch: its start revision was
// compacted (see IsCompacted), the store lost data (DataLoss: it came back
// behind what was delivered, or as another cluster), or etcd refused it.
// Not called after CancelWatch() nor by Close().
using WatchEndCallback = std::function<void(const absl::Status&)>;

// Called when a kept-alive lease changes state:
//   NotFound     the lease is gone (expired or revoked); it is no longer kept
//                alive;
//   Unavailable  no confirmation for longer than its TTL (etcd unreachable);
//                keep-alive goes on;
//   OK           confirmed again after Unavailable.
using LeaseStateCallback = std::function<void(const absl::Status&)>;

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

class Client {
 public:
  // InvalidArgument when options are unusable. Does not connect yet.
  static absl::StatusOr<std::unique_ptr<Client>> Create(
      const ClientOptions& options);

  virtual ~Client() = default;
  virtual void Close() = 0;
  virtual const ClientOptions& options() const = 0;

  // --- KV, synchronous (must not be called from a client callback) ------
  virtual absl::StatusOr<etcdserverpb::RangeResponse> Range(
      const etcdserverpb::RangeRequest& request) = 0;
  virtual absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& request) = 0;
  virtual absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& request) = 0;
  virtual absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& request) = 0;
  virtual absl::StatusOr<etcdserverpb::CompactionResponse> Compact(
      int64_t revision, bool physical) = 0;

  // --- KV, asynchronous: `done` runs on the dispatcher thread -------------
  virtual void RangeAsync(const etcdserverpb::RangeRequest& request,
                          Callback<etcdserverpb::RangeResponse> done) = 0;
  virtual void TxnAsync(const etcdserverpb::TxnRequest& request,
                        Callback<etcdserverpb::TxnResponse> done) = 0;

  // --- Lease --------------------------------------------------------------
  virtual absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(
      absl::Duration ttl) = 0;
  virtual absl::Status LeaseRevoke(int64_t lease_id) = 0;
  virtual absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> LeaseTimeToLive(
      int64_t lease_id, bool with_keys) = 0;
  virtual void LeaseGrantAsync(
      absl::Duration ttl, Callback<etcdserverpb::LeaseGrantResponse> done) = 0;

  // Keeps `lease_id` alive over the client's single keep-alive stream,
  // sending a request every ttl/3; a request not answered within that
  // moves the stream to the next member (the member hangs or cannot reach
  // the leader), leaving time for two more members before the lease
  // expires. Replaces an earlier registration of the same lease.
  // `on_state` runs on the dispatcher thread.
  virtual void KeepAlive(int64_t lease_id, absl::Duration ttl,
                         LeaseStateCallback on_state) = 0;
  // Stops keeping `lease_id` alive (does not revoke it). No `on_state` call
  // for this lease starts after this returns (when called on the dispatcher
  // thread) or after the dispatcher's current callback ends.
  virtual void StopKeepAlive(int64_t lease_id) = 0;

  // --- Watch ---------------------------------------------------------------
  // Starts a watch; returns its id. Broken streams are resumed from the
  // revision after the last delivered event, so each event is delivered once
  // (also on a member that lags behind: the watch waits for it to catch up,
  // after a linearizable read told it from a store that lost data). A watch
  // that etcd refuses for an expired auth token is created again on a
  // stream reopened with a fresh token.
  virtual uint64_t Watch(WatchOptions options, WatchEventsCallback on_events,
                         WatchEndCallback on_end) = 0;
  // Cancels a watch; no callback of it starts afterwards (same rule as
  // StopKeepAlive). Unknown ids are ignored.
  virtual void CancelWatch(uint64_t watch_id) = 0;
  // Asks the server for a progress notice on every watch.
  virtual void RequestWatchProgress() = 0;

  // --- Dispatcher ----------------------------------------------------------
  // Runs `fn` on the dispatcher thread after `delay`. Returns a timer id.
  virtual uint64_t RunAfter(absl::Duration delay, std::function<void()> fn) = 0;
  // Cancels a timer that has not started yet; returns whether it was.
  virtual bool CancelTimer(uint64_t timer_id) = 0;
  virtual bool InDispatcherThread() const = 0;
  // Runs `fn` on the dispatcher thread and waits for it (inline when already
  // there, or once the client is closed).
  virtual void RunSync(const std::function<void()>& fn) = 0;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_CLIENT_H_
