#include "etcd/watch_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "etcd/status.h"
#include "etcd/unary_call.h"

namespace vlb::etcd {
namespace {

void RangeRpc(Member& m, grpc::ClientContext* c,
              const etcdserverpb::RangeRequest* q,
              etcdserverpb::RangeResponse* r,
              std::function<void(grpc::Status)> f) {
  m.kv->async()->Range(c, q, r, std::move(f));
}

}  // namespace

WatchHub::WatchHub(Connection* connection, Dispatcher* dispatcher)
    : connection_(connection),
      dispatcher_(dispatcher),
      backoff_(connection->options().initial_backoff,
               connection->options().max_backoff) {}

void WatchHub::Add(uint64_t id, WatchOptions options,
                   WatchEventsCallback on_events, WatchEndCallback on_end) {
  if (shutdown_) return;
  Watch watch;
  watch.next_revision = std::max<int64_t>(options.start_revision, 0);
  watch.options = std::move(options);
  watch.on_events = std::move(on_events);
  watch.on_end = std::move(on_end);
  watches_.emplace(id, std::move(watch));
  to_create_.push_back(id);
  EnsureStream();
  SendNextCreate();
}

void WatchHub::Cancel(uint64_t id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  if (it->second.server_id != kNoServerId) {
    by_server_id_.erase(it->second.server_id);
    if (stream_) {
      etcdserverpb::WatchRequest request;
      request.mutable_cancel_request()->set_watch_id(it->second.server_id);
      stream_->Write(std::move(request));
    }
  }
  // If its create is on the wire, OnCreated() cancels it on the server.
  watches_.erase(it);
}

void WatchHub::RequestProgress() {
  if (!stream_) return;
  etcdserverpb::WatchRequest request;
  request.mutable_progress_request();
  stream_->Write(std::move(request));
}

void WatchHub::Shutdown() {
  shutdown_ = true;
  dispatcher_->Cancel(reconnect_timer_);
  reconnect_timer_ = 0;
  if (stream_) stream_->Cancel();
  stream_ = nullptr;
  watches_.clear();
  by_server_id_.clear();
  to_create_.clear();
}

void WatchHub::EnsureStream() {
  if (stream_ || reconnect_timer_ != 0 || shutdown_ || watches_.empty()) {
    return;
  }
  stream_ = OpenDispatchedStream<etcdserverpb::WatchRequest,
                                 etcdserverpb::WatchResponse>(
      connection_, dispatcher_,
      [](Member& m, grpc::ClientContext* c,
         grpc::ClientBidiReactor<etcdserverpb::WatchRequest,
                                 etcdserverpb::WatchResponse>* r) {
        m.watch->async()->Watch(c, r);
      },
      [this](const std::shared_ptr<Stream>& stream,
             const etcdserverpb::WatchResponse& response) {
        OnResponse(stream, response);
      },
      [this](const std::shared_ptr<Stream>& stream,
             const grpc::Status& status) { OnStreamDone(stream, status); });
  if (!stream_) return;  // closing
  creating_.reset();
}

void WatchHub::SendNextCreate() {
  if (!stream_ || creating_) return;
  while (!to_create_.empty()) {
    const uint64_t id = to_create_.front();
    to_create_.pop_front();
    auto it = watches_.find(id);
    if (it == watches_.end() || it->second.server_id != kNoServerId) continue;
    const Watch& watch = it->second;
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(watch.options.key);
    create->set_range_end(watch.options.range_end);
    create->set_start_revision(watch.next_revision);
    create->set_prev_kv(watch.options.prev_kv);
    create->set_progress_notify(watch.options.progress_notify);
    creating_ = id;
    stream_->Write(std::move(request));
    return;
  }
}

void WatchHub::OnResponse(const std::shared_ptr<Stream>& stream,
                          const etcdserverpb::WatchResponse& response) {
  // A stream given up for a stale token may still deliver; its watch ids
  // mean nothing on the current stream.
  if (stream == nullptr || stream != stream_) return;
  if (response.created()) {
    OnCreated(response);
    return;
  }
  if (response.canceled()) {
    OnServerCancel(response);
    return;
  }
  const int64_t revision = response.header().revision();
  if (response.watch_id() == kNoServerId && response.events().empty()) {
    OnProgress(revision);
    return;
  }
  auto id_it = by_server_id_.find(response.watch_id());
  if (id_it == by_server_id_.end()) return;  // cancelled by us meanwhile
  WatchUpdate update;
  update.revision = revision;
  update.events.assign(response.events().begin(), response.events().end());
  Deliver(id_it->second, std::move(update));
}

void WatchHub::OnProgress(int64_t revision) {
  // Stream-wide progress answer (RequestProgress): etcd sends it only when
  // every watch on the stream is synced, so it applies to all.
  std::vector<uint64_t> targets;
  for (const auto& [id, watch] : watches_) {
    if (watch.server_id != kNoServerId) targets.push_back(id);
  }
  for (uint64_t id : targets) {
    WatchUpdate update;
    update.revision = revision;
    Deliver(id, std::move(update));  // skips watches cancelled meanwhile
  }
}

void WatchHub::Deliver(uint64_t id, WatchUpdate update) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  Watch& watch = it->second;
  if (watch.verifying != 0) {
    watch.held.push_back(std::move(update));
    return;
  }
  if (update.events.empty()) {
    watch.next_revision = std::max(watch.next_revision, update.revision + 1);
  } else {
    watch.next_revision = update.events.back().kv().mod_revision() + 1;
  }
  // Copied: the callback may cancel its own watch, destroying the original.
  WatchEventsCallback on_events = watch.on_events;
  if (on_events) on_events(update);
}

void WatchHub::OnCreated(const etcdserverpb::WatchResponse& response) {
  std::optional<uint64_t> id = creating_;
  creating_.reset();
  auto it = id ? watches_.find(*id) : watches_.end();
  if (it == watches_.end()) {
    // Cancelled while its create was on the wire: cancel it on the server.
    if (!response.canceled() && response.watch_id() != kNoServerId && stream_) {
      etcdserverpb::WatchRequest request;
      request.mutable_cancel_request()->set_watch_id(response.watch_id());
      stream_->Write(std::move(request));
    }
    SendNextCreate();
    return;
  }
  if (response.canceled()) {  // the create itself was refused
    OnCreateRefused(*id, response);
    return;
  }
  Watch& watch = it->second;
  const etcdserverpb::ResponseHeader& header = response.header();
  backoff_.Reset();
  watch.server_id = response.watch_id();
  by_server_id_[watch.server_id] = *id;
  if (watch.resumed && (header.cluster_id() != watch.cluster_id ||
                        header.revision() + 1 < watch.next_revision)) {
    OnResumedBehind(*id, header);
  } else {
    if (watch.next_revision == 0) watch.next_revision = header.revision() + 1;
    watch.cluster_id = header.cluster_id();
    watch.resumed = true;
  }
  SendNextCreate();
}

void WatchHub::OnCreateRefused(uint64_t id,
                               const etcdserverpb::WatchResponse& response) {
  if (connection_->auth_enabled() &&
      IsAuthTokenRefusal(response.cancel_reason())) {
    ReopenWithFreshToken();  // the watch stays, to be created again
    return;
  }
  const Watch& watch = watches_.at(id);
  End(id, response.compact_revision() > 0
              ? CompactedError(response.compact_revision())
              : absl::FailedPreconditionError(absl::StrCat(
                    "etcd refused the watch on \"", watch.options.key,
                    "\": ", response.cancel_reason())));
  SendNextCreate();
}

void WatchHub::OnResumedBehind(uint64_t id,
                               const etcdserverpb::ResponseHeader& header) {
  Watch& watch = watches_.at(id);
  if (header.cluster_id() != watch.cluster_id) {
    // Another cluster (a store rebuilt under a new cluster token, or an
    // endpoint now pointing elsewhere): its history is not the one the
    // owner followed, whatever its revision.
    EndWithDataLoss(id, header.revision());
    return;
  }
  // The same cluster id does not prove the same store: a store wiped or
  // restored with the same flags keeps it. The watch is already created at
  // next_revision, which is right for a lagging member; hold its updates
  // until the cluster itself tells which case this is.
  watch.verifying = next_check_++;
  Verify(id, watch.verifying);
}

void WatchHub::Verify(uint64_t id, uint64_t check) {
  // Linearizable (the default): the answering member first catches up with
  // the leader, so its revision is the cluster's. count_only on the
  // watched key needs no more permission than the watch and moves no data.
  etcdserverpb::RangeRequest range;
  range.set_key(watches_.at(id).options.key);
  range.set_count_only(true);
  UnaryCall<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>::Start(
      connection_, "Range", RangeRpc, std::move(range),
      [this, id, check](absl::StatusOr<etcdserverpb::RangeResponse> result) {
        dispatcher_->Post([this, id, check, result = std::move(result)] {
          OnVerified(id, check, result);
        });
      });
}

void WatchHub::OnVerified(
    uint64_t id, uint64_t check,
    const absl::StatusOr<etcdserverpb::RangeResponse>& result) {
  auto it = watches_.find(id);
  // Shut down, cancelled, or the stream was reset (the check is moot).
  if (shutdown_ || it == watches_.end() || it->second.verifying != check) {
    return;
  }
  Watch& watch = it->second;
  if (!result.ok()) {
    // Cannot tell yet; keep holding and ask again.
    dispatcher_->PostAfter(backoff_.Next(), [this, id, check] {
      auto again = watches_.find(id);
      if (!shutdown_ && again != watches_.end() &&
          again->second.verifying == check) {
        Verify(id, check);
      }
    });
    return;
  }
  const etcdserverpb::ResponseHeader& header = result->header();
  if (header.cluster_id() != watch.cluster_id ||
      header.revision() + 1 < watch.next_revision) {
    EndWithDataLoss(id, header.revision());
    return;
  }
  // A lagging member: release what it sent meanwhile, in order.
  watch.verifying = 0;
  std::vector<WatchUpdate> held = std::move(watch.held);
  watch.held.clear();
  for (WatchUpdate& update : held) Deliver(id, std::move(update));
}

void WatchHub::EndWithDataLoss(uint64_t id, int64_t store_revision) {
  Watch& watch = watches_.at(id);
  // We delivered events up to next_revision - 1, yet the store is behind
  // that or is another one: resuming would silently miss events, so end
  // the watch and let the owner read again.
  const absl::Status status = absl::DataLossError(absl::StrCat(
      "etcd's revision went back from ", watch.next_revision - 1, " to ",
      store_revision, " (store wiped or restored); read again and re-watch"));
  if (watch.server_id != kNoServerId) {
    if (stream_) {
      etcdserverpb::WatchRequest request;
      request.mutable_cancel_request()->set_watch_id(watch.server_id);
      stream_->Write(std::move(request));
    }
    by_server_id_.erase(watch.server_id);
  }
  End(id, status);
}

void WatchHub::OnServerCancel(const etcdserverpb::WatchResponse& response) {
  auto id_it = by_server_id_.find(response.watch_id());
  if (id_it == by_server_id_.end()) return;  // we asked for it
  const uint64_t id = id_it->second;
  by_server_id_.erase(id_it);
  watches_.at(id).server_id = kNoServerId;
  End(id, response.compact_revision() > 0
              ? CompactedError(response.compact_revision())
              : absl::AbortedError(absl::StrCat("etcd cancelled the watch: ",
                                                response.cancel_reason())));
}

void WatchHub::OnStreamDone(const std::shared_ptr<Stream>& stream,
                            const grpc::Status& status) {
  if (stream_ == nullptr || stream_ != stream) return;  // an older stream
  ResetStream();
  if (shutdown_) return;
  ScheduleReconnect(stream->member_index(), status, Reopen::kMemberFailed);
}

void WatchHub::ResetStream() {
  stream_ = nullptr;
  creating_.reset();
  by_server_id_.clear();
  to_create_.clear();
  for (auto& [id, watch] : watches_) {
    watch.server_id = kNoServerId;
    // Held updates were not counted in next_revision: the next stream
    // sends them again, and the check runs again if still needed.
    watch.verifying = 0;
    watch.held.clear();
    to_create_.push_back(id);
  }
}

void WatchHub::ReopenWithFreshToken() {
  std::shared_ptr<Stream> stale = stream_;
  connection_->InvalidateToken(stale->token_used());
  stale->Cancel();  // its end is ignored: it is no longer stream_
  ResetStream();
  // Not UNAUTHENTICATED: that would also drop a newer token that unary
  // calls may have fetched meanwhile.
  ScheduleReconnect(stale->member_index(),
                    grpc::Status(grpc::StatusCode::ABORTED,
                                 "etcd refused a watch for the stream's token"),
                    Reopen::kStaleToken);
}

void WatchHub::ScheduleReconnect(size_t member, const grpc::Status& status,
                                 Reopen why) {
  reconnect_timer_ = ScheduleStreamReconnect(
      connection_, dispatcher_, backoff_, member, status,
      [this] {
        reconnect_timer_ = 0;
        EnsureStream();
        SendNextCreate();
      },
      why);
}

void WatchHub::End(uint64_t id, const absl::Status& status) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  WatchEndCallback on_end = std::move(it->second.on_end);
  watches_.erase(it);
  if (on_end) on_end(status);
}

}  // namespace vlb::etcd
