// Keeps leases alive over one LeaseKeepAlive stream shared by every lease
// of the client. Lives on the dispatcher thread: all its methods must be
// called there.
//
// A request goes out every TTL/3. When one is not answered by the time the
// next is due, the member is taken as lost (hung, or cut off from the
// leader it must forward renewals to) and the stream moves to the next
// member, so that two more members can be tried before the lease expires.
// The timing is LeaseSchedule's (unit-tested alone); this class does the
// I/O, and reads time only from the dispatcher (the Scheduler seam).
#ifndef VLB_SRC_ETCD_LEASE_KEEPER_H_
#define VLB_SRC_ETCD_LEASE_KEEPER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "common/backoff.h"
#include "etcd/bidi_stream.h"
#include "etcd/client.h"
#include "etcd/connection.h"
#include "etcd/dispatcher.h"
#include "etcd/lease_schedule.h"

namespace vlb::etcd {

class LeaseKeeper {
 public:
  LeaseKeeper(Connection* connection, Dispatcher* dispatcher);

  void Add(int64_t lease_id, absl::Duration ttl, LeaseStateCallback on_state);
  void Remove(int64_t lease_id);
  // Cancels the stream and every timer; no callback runs afterwards.
  void Shutdown();

 private:
  using Stream = BidiStream<etcdserverpb::LeaseKeepAliveRequest,
                            etcdserverpb::LeaseKeepAliveResponse>;

  void EnsureStream();
  void OnResponse(const std::shared_ptr<Stream>& stream,
                  const etcdserverpb::LeaseKeepAliveResponse& response);
  void OnStreamDone(const std::shared_ptr<Stream>& stream,
                    const grpc::Status& status);
  // Drops the current stream and reopens one after a backoff.
  void Reconnect(const std::shared_ptr<Stream>& stream,
                 const grpc::Status& status);
  void Tick();
  void SendDue(absl::Time now);
  std::vector<LeaseStateCallback> TakeExpired(absl::Time now);
  void ScheduleTick();

  Connection* const connection_;
  Dispatcher* const dispatcher_;
  LeaseSchedule schedule_;
  std::map<int64_t, LeaseStateCallback> callbacks_;  // same keys as schedule_
  std::shared_ptr<Stream> stream_;
  uint64_t tick_timer_ = 0;
  absl::Time tick_due_;
  uint64_t reconnect_timer_ = 0;
  internal::Backoff backoff_;
  bool shutdown_ = false;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_LEASE_KEEPER_H_
