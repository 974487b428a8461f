// Keeps leases alive over one LeaseKeepAlive stream shared by every lease
// of the client. Lives on the dispatcher thread: all its methods must be
// called there.
//
// A request goes out every TTL/3. When one is not answered by the time the
// next is due, the member is taken as lost (hung, or cut off from the
// leader it must forward renewals to) and the stream moves to the next
// member, so that two more members can be tried before the lease expires.
#ifndef VLB_SRC_ETCD_LEASE_KEEPER_H_
#define VLB_SRC_ETCD_LEASE_KEEPER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>

#include "common/backoff.h"
#include "etcd/bidi_stream.h"
#include "etcd/client.h"
#include "etcd/connection.h"
#include "etcd/dispatcher.h"

namespace vlb::etcd {

class LeaseKeeper {
 public:
  LeaseKeeper(Connection* connection, Dispatcher* dispatcher);

  void Add(int64_t lease_id, absl::Duration ttl, LeaseStateCallback on_state);
  void Remove(int64_t lease_id);
  // Cancels the stream and every timer; no callback runs afterwards.
  void Shutdown();

 private:
  using Clock = std::chrono::steady_clock;
  using Stream = BidiStream<etcdserverpb::LeaseKeepAliveRequest,
                            etcdserverpb::LeaseKeepAliveResponse>;
  struct Lease {
    absl::Duration ttl;
    Clock::time_point next_send;
    Clock::time_point confirmed_until;  // no news past this: "Unavailable"
    // When the oldest request not answered yet was sent on the current
    // stream; max() when all were answered.
    Clock::time_point unanswered_since = Clock::time_point::max();
    bool unconfirmed = false;  // "Unavailable" was reported
    LeaseStateCallback on_state;
  };

  void EnsureStream();
  void OnResponse(const std::shared_ptr<Stream>& stream,
                  const etcdserverpb::LeaseKeepAliveResponse& response);
  void OnStreamDone(const std::shared_ptr<Stream>& stream,
                    const grpc::Status& status);
  // True when some request on the stream waited longer than its interval.
  bool StreamStalled(Clock::time_point now) const;
  // Drops the current stream and reopens one after a backoff.
  void Reconnect(const std::shared_ptr<Stream>& stream,
                 const grpc::Status& status);
  void Tick();
  void ScheduleTick();

  Connection* const connection_;
  Dispatcher* const dispatcher_;
  std::map<int64_t, Lease> leases_;
  std::shared_ptr<Stream> stream_;
  uint64_t tick_timer_ = 0;
  Clock::time_point tick_due_;
  uint64_t reconnect_timer_ = 0;
  internal::Backoff backoff_;
  bool shutdown_ = false;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_LEASE_KEEPER_H_
