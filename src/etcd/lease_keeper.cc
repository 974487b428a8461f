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

// How often a lease is kept alive, and how long an answer may take.
std::chrono::steady_clock::duration Interval(absl::Duration ttl) {
  return ToChrono(ttl / 3);
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
  Lease& lease = leases_[lease_id];
  lease = Lease{};
  lease.ttl = ttl;
  lease.next_send = now;
  lease.confirmed_until = now + ToChrono(ttl);
  lease.on_state = std::move(on_state);
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
      [this](const std::shared_ptr<Stream>& stream,
             const etcdserverpb::LeaseKeepAliveResponse& response) {
        OnResponse(stream, response);
      },
      [this](const std::shared_ptr<Stream>& stream,
             const grpc::Status& status) { OnStreamDone(stream, status); });
  if (!stream_) return;  // closing
  // A fresh stream: everything is due now.
  const auto now = Clock::now();
  for (auto& [id, lease] : leases_) {
    lease.next_send = now;
    lease.unanswered_since = Clock::time_point::max();
  }
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
  lease.unanswered_since = Clock::time_point::max();
  lease.confirmed_until = Clock::now() + std::chrono::seconds(response.ttl());
  if (lease.unconfirmed) {
    lease.unconfirmed = false;
    lease.on_state(absl::OkStatus());
  }
}

void LeaseKeeper::OnStreamDone(const std::shared_ptr<Stream>& stream,
                               const grpc::Status& status) {
  if (stream_ == nullptr || stream_ != stream) return;  // an older stream
  Reconnect(stream, status);
}

bool LeaseKeeper::StreamStalled(Clock::time_point now) const {
  for (const auto& [id, lease] : leases_) {
    if (lease.unanswered_since != Clock::time_point::max() &&
        now - lease.unanswered_since >= Interval(lease.ttl)) {
      return true;
    }
  }
  return false;
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
  const auto now = Clock::now();
  if (stream_ && StreamStalled(now)) {
    std::shared_ptr<Stream> stalled = stream_;
    stalled->Cancel();  // its end is ignored: it is no longer stream_
    Reconnect(stalled,
              grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                           "etcd keep-alive not answered within TTL/3"));
  }
  // Collect callbacks first: a callback may add or remove leases.
  std::vector<LeaseStateCallback> unconfirmed;
  for (auto& [id, lease] : leases_) {
    if (stream_ && lease.next_send <= now) {
      etcdserverpb::LeaseKeepAliveRequest request;
      request.set_id(id);
      stream_->Write(std::move(request));
      lease.next_send = now + Interval(lease.ttl);
      lease.unanswered_since = std::min(lease.unanswered_since, now);
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
    // unanswered_since + interval comes no later than next_send, so waking
    // for next_send also catches a stall in time.
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
