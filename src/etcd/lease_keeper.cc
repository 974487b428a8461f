#include "etcd/lease_keeper.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "etcd/stream_plumbing.h"

namespace vlb::etcd {
namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

}  // namespace

LeaseKeeper::LeaseKeeper(Connection* connection, Dispatcher* dispatcher)
    : connection_(connection),
      dispatcher_(dispatcher),
      backoff_(connection->options().initial_backoff,
               connection->options().max_backoff) {}

void LeaseKeeper::Add(int64_t lease_id, absl::Duration ttl,
                      LeaseStateCallback on_state) {
  if (shutdown_) return;
  const auto now = Clock::now();
  leases_[lease_id] =
      Lease{ttl, now, now + ToChrono(ttl), false, std::move(on_state)};
  EnsureStream();
  ScheduleTick();
}

void LeaseKeeper::Remove(int64_t lease_id) { leases_.erase(lease_id); }

void LeaseKeeper::Shutdown() {
  shutdown_ = true;
  leases_.clear();
  dispatcher_->Cancel(tick_timer_);
  dispatcher_->Cancel(reconnect_timer_);
  if (stream_) stream_->Cancel();
  stream_ = nullptr;
}

void LeaseKeeper::EnsureStream() {
  if (stream_ || reconnect_timer_ != 0 || shutdown_ || leases_.empty()) return;
  stream_ = OpenDispatchedStream<etcdserverpb::LeaseKeepAliveRequest,
                                 etcdserverpb::LeaseKeepAliveResponse>(
      connection_, dispatcher_,
      [](Member& m, grpc::ClientContext* c,
         grpc::ClientBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                                 etcdserverpb::LeaseKeepAliveResponse>* r) {
        m.lease->async()->LeaseKeepAlive(c, r);
      },
      [this](const etcdserverpb::LeaseKeepAliveResponse& response) {
        OnResponse(response);
      },
      [this](const std::shared_ptr<Stream>& stream,
             const grpc::Status& status) { OnStreamDone(stream, status); });
  if (!stream_) return;  // closing
  // A fresh stream: everything is due now.
  const auto now = Clock::now();
  for (auto& [id, lease] : leases_) lease.next_send = now;
  ScheduleTick();
}

void LeaseKeeper::OnResponse(
    const etcdserverpb::LeaseKeepAliveResponse& response) {
  backoff_.Reset();
  auto it = leases_.find(response.id());
  if (it == leases_.end()) return;
  if (response.ttl() <= 0) {
    LeaseStateCallback on_state = std::move(it->second.on_state);
    leases_.erase(it);
    on_state(absl::NotFoundError(
        absl::StrCat("etcd lease ", response.id(), " expired or was revoked")));
    return;
  }
  Lease& lease = it->second;
  lease.confirmed_until = Clock::now() + std::chrono::seconds(response.ttl());
  if (lease.unconfirmed) {
    lease.unconfirmed = false;
    lease.on_state(absl::OkStatus());
  }
}

void LeaseKeeper::OnStreamDone(const std::shared_ptr<Stream>& stream,
                               const grpc::Status& status) {
  if (stream_ == nullptr || stream_ != stream) return;  // an older stream
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
  const auto now = Clock::now();
  // Collect callbacks first: a callback may add or remove leases.
  std::vector<LeaseStateCallback> unconfirmed;
  for (auto& [id, lease] : leases_) {
    if (stream_ && lease.next_send <= now) {
      etcdserverpb::LeaseKeepAliveRequest request;
      request.set_id(id);
      stream_->Write(std::move(request));
      lease.next_send = now + ToChrono(lease.ttl / 3);
    }
    if (!lease.unconfirmed && now > lease.confirmed_until) {
      lease.unconfirmed = true;
      unconfirmed.push_back(lease.on_state);
    }
  }
  ScheduleTick();
  for (auto& on_state : unconfirmed) {
    on_state(absl::UnavailableError(
        "etcd lease not confirmed for longer than its TTL (etcd "
        "unreachable?)"));
  }
}

void LeaseKeeper::ScheduleTick() {
  if (shutdown_ || leases_.empty()) return;
  auto due = Clock::time_point::max();
  for (const auto& [id, lease] : leases_) {
    if (stream_) due = std::min(due, lease.next_send);
    if (!lease.unconfirmed) due = std::min(due, lease.confirmed_until);
  }
  // Without a stream nothing is sent; still wake up to notice expiry.
  const auto now = Clock::now();
  if (due == Clock::time_point::max()) due = now + std::chrono::seconds(1);
  due = std::max(due, now + std::chrono::milliseconds(5));
  if (tick_timer_ != 0 && tick_due_ <= due) return;
  if (tick_timer_ != 0) dispatcher_->Cancel(tick_timer_);
  tick_due_ = due;
  tick_timer_ =
      dispatcher_->PostAfter(absl::FromChrono(due - now), [this] { Tick(); });
}

}  // namespace vlb::etcd
