// Multiplexes every watch of the client over one Watch stream. Lives on the
// dispatcher thread: all its methods must be called there.
//
// Creates are sent one at a time, so each "created" answer belongs to the
// one outstanding create (this also works with etcd 3.4, which may ignore
// client-chosen watch ids). When the stream breaks, every watch is created
// again from the revision after the last one it delivered, on the next
// member, after a jittered backoff.
//
// etcd checks each create against the auth token the stream was opened
// with, which cannot change: when it refuses one for its token (expired,
// or the stream came up without one), the stream is reopened with a fresh
// token and every watch is created again.
//
// A resumption that finds the member's revision behind what was already
// delivered means a lagging member or a store that lost data (wiped,
// restored from a backup). A different cluster id settles it as data loss;
// otherwise a linearizable read asks the cluster, the watch's updates held
// meanwhile: behind there too is data loss (the watch ends with DataLoss),
// else the member is lagging and the watch, created at a future revision,
// simply goes on.
#ifndef VLB_SRC_ETCD_WATCH_HUB_H_
#define VLB_SRC_ETCD_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/backoff.h"
#include "etcd/bidi_stream.h"
#include "etcd/client.h"
#include "etcd/connection.h"
#include "etcd/dispatcher.h"
#include "etcd/stream_plumbing.h"

namespace vlb::etcd {

class WatchHub {
 public:
  WatchHub(Connection* connection, Dispatcher* dispatcher);

  void Add(uint64_t id, WatchOptions options, WatchEventsCallback on_events,
           WatchEndCallback on_end);
  void Cancel(uint64_t id);
  void RequestProgress();
  // Ends the stream and drops every watch without calling back: it runs in
  // Client::Close(), which promises no callback afterwards and is often
  // called while the callbacks' owner is being destroyed.
  void Shutdown();

 private:
  using Stream =
      BidiStream<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;
  static constexpr int64_t kNoServerId = -1;

  struct Watch {
    WatchOptions options;
    WatchEventsCallback on_events;
    WatchEndCallback on_end;
    // Where to (re)start: the revision after the last delivered event or
    // progress notice; 0 until the first creation when starting "now".
    int64_t next_revision = 0;
    // Set once the watch was created on some stream: a later creation is a
    // resumption whose server revision must not be behind next_revision.
    bool resumed = false;
    int64_t server_id = kNoServerId;
    // The cluster whose revisions next_revision counts; 0 until created.
    uint64_t cluster_id = 0;
    // Non-zero while a read checks whether the store went back (see
    // above); identifies that check. Updates wait in `held` meanwhile.
    uint64_t verifying = 0;
    std::vector<WatchUpdate> held;
  };

  void EnsureStream();
  void SendNextCreate();
  void OnResponse(const std::shared_ptr<Stream>& stream,
                  const etcdserverpb::WatchResponse& response);
  void OnProgress(int64_t revision);
  void Deliver(uint64_t id, WatchUpdate update);
  void OnCreated(const etcdserverpb::WatchResponse& response);
  void OnCreateRefused(uint64_t id,
                       const etcdserverpb::WatchResponse& response);
  void OnResumedBehind(uint64_t id, const etcdserverpb::ResponseHeader& header);
  void Verify(uint64_t id, uint64_t check);
  void OnVerified(uint64_t id, uint64_t check,
                  const absl::StatusOr<etcdserverpb::RangeResponse>& result);
  void EndWithDataLoss(uint64_t id, int64_t store_revision);
  void OnServerCancel(const etcdserverpb::WatchResponse& response);
  void OnStreamDone(const std::shared_ptr<Stream>& stream,
                    const grpc::Status& status);
  // Forgets the current stream: every watch is to be created again.
  void ResetStream();
  void ReopenWithFreshToken();
  void ScheduleReconnect(size_t member, const grpc::Status& status, Reopen why);
  void End(uint64_t id, const absl::Status& status);

  Connection* const connection_;
  Dispatcher* const dispatcher_;
  std::map<uint64_t, Watch> watches_;
  std::unordered_map<int64_t, uint64_t> by_server_id_;
  std::deque<uint64_t> to_create_;
  // The watch whose create request is on the wire; nullopt if none. Holds
  // the id even if that watch was cancelled meanwhile.
  std::optional<uint64_t> creating_;
  std::shared_ptr<Stream> stream_;
  uint64_t reconnect_timer_ = 0;
  uint64_t next_check_ = 1;
  internal::Backoff backoff_;
  bool shutdown_ = false;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_WATCH_HUB_H_
