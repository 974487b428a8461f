#include "etcd/lease_keeper.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "etcd/stream_plumbing.h"

namespace vlb::etcd {

LeaseKeeper::LeaseKeeper(Connection* connection, Dispatcher* dispatcher)
    : connection_(connection),
      dispatcher_(dispatcher),
      backoff_(connection->options().initial_backoff,
               connection->options().max_backoff) {}

void LeaseKeeper::Add(int64_t lease_id, absl::Duration ttl,
                      LeaseStateCallback on_state) {
  if (shutdown_) return;
  schedule_.Add(lease_id, ttl, dispatcher_->Now());
  callbacks_[lease_id] = std::move(on_state);
  EnsureStream();
  ScheduleTick();
}

void LeaseKeeper::Remove(int64_t lease_id) {
  schedule_.Remove(lease_id);
  callbacks_.erase(lease_id);
}

void LeaseKeeper::Shutdown() {
  shutdown_ = true;
  schedule_ = LeaseSchedule();
  callbacks_.clear();
  dispatcher_->Cancel(tick_timer_);
  dispatcher_->Cancel(reconnect_timer_);
  if (stream_) stream_->Cancel();
  stream_ = nullptr;
}

void LeaseKeeper::EnsureStream() {
  if (stream_ || reconnect_timer_ != 0 || shutdown_ || schedule_.empty()) {
    return;
  }
  stream_ = OpenDispatchedStream<etcdserverpb::LeaseKeepAliveRequest,
                                 etcdserverpb::LeaseKeepAliveResponse>(
      connection_, dispatcher_,
      [](Member& m, grpc::ClientContext* c,
         grpc::ClientBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                                 etcdserverpb::LeaseKeepAliveResponse>* r) {
        m.lease->async()->LeaseKeepAlive(c, r);
      },
      [this](const std::shared_ptr<Stream>& stream,
             const etcdserverpb::LeaseKeepAliveResponse& response) {
        OnResponse(stream, response);
      },
      [this](const std::shared_ptr<Stream>& stream,
             const grpc::Status& status) { OnStreamDone(stream, status); });
  if (!stream_) return;  // closing
  schedule_.StreamOpened(dispatcher_->Now());
  ScheduleTick();
}

void LeaseKeeper::OnResponse(
    const std::shared_ptr<Stream>& stream,
    const etcdserverpb::LeaseKeepAliveResponse& response) {
  // A stream given up as stalled may still answer; its member was judged
  // lost, so the answer neither clears the new stream's stall clock nor
  // resets the backoff.
  if (stream == nullptr || stream != stream_) return;
  backoff_.Reset();
  auto it = callbacks_.find(response.id());
  if (it == callbacks_.end()) return;
  if (response.ttl() <= 0) {
    LeaseStateCallback on_state = std::move(it->second);
    Remove(response.id());
    on_state(absl::NotFoundError(
        absl::StrCat("etcd lease ", response.id(), " expired or was revoked")));
    return;
  }
  if (schedule_.Confirmed(response.id(), absl::Seconds(response.ttl()),
                          dispatcher_->Now())) {
    it->second(absl::OkStatus());
  }
}

void LeaseKeeper::OnStreamDone(const std::shared_ptr<Stream>& stream,
                               const grpc::Status& status) {
  if (stream_ == nullptr || stream_ != stream) return;  // an older stream
  Reconnect(stream, status);
}

void LeaseKeeper::Reconnect(const std::shared_ptr<Stream>& stream,
                            const grpc::Status& status) {
  stream_ = nullptr;
  if (shutdown_) return;
  reconnect_timer_ =
      ScheduleStreamReconnect(connection_, dispatcher_, backoff_,
                              stream->member_index(), status, [this] {
                                reconnect_timer_ = 0;
                                EnsureStream();
                              });
}

void LeaseKeeper::Tick() {
  tick_timer_ = 0;
  const absl::Time now = dispatcher_->Now();
  if (stream_ && schedule_.Stalled(now)) {
    std::shared_ptr<Stream> stalled = stream_;
    stalled->Cancel();  // its end is ignored: it is no longer stream_
    Reconnect(stalled,
              grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                           "etcd keep-alive not answered within TTL/3"));
  }
  if (stream_) SendDue(now);
  // Collected before the callbacks run: a callback may add or remove leases.
  std::vector<LeaseStateCallback> unconfirmed = TakeExpired(now);
  ScheduleTick();
  for (auto& on_state : unconfirmed) {
    on_state(absl::UnavailableError(
        "etcd lease not confirmed for longer than its TTL (etcd "
        "unreachable?)"));
  }
}

void LeaseKeeper::SendDue(absl::Time now) {
  for (int64_t id : schedule_.TakeDue(now)) {
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(id);
    stream_->Write(std::move(request));
  }
}

std::vector<LeaseStateCallback> LeaseKeeper::TakeExpired(absl::Time now) {
  std::vector<LeaseStateCallback> unconfirmed;
  for (int64_t id : schedule_.TakeExpired(now)) {
    unconfirmed.push_back(callbacks_[id]);
  }
  return unconfirmed;
}

void LeaseKeeper::ScheduleTick() {
  if (shutdown_ || schedule_.empty()) return;
  const absl::Time now = dispatcher_->Now();
  const absl::Time due = schedule_.NextWake(now, stream_ != nullptr);
  if (tick_timer_ != 0 && tick_due_ <= due) return;
  if (tick_timer_ != 0) dispatcher_->Cancel(tick_timer_);
  tick_due_ = due;
  tick_timer_ = dispatcher_->PostAfter(due - now, [this] { Tick(); });
}

}  // namespace vlb::etcd
