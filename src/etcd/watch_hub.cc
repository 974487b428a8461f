#include "etcd/watch_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "etcd/stream_plumbing.h"

namespace vlb::etcd {

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
      [this](const std::shared_ptr<Stream>& /*stream*/,
             const etcdserverpb::WatchResponse& response) {
        OnResponse(response);
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

void WatchHub::OnResponse(const etcdserverpb::WatchResponse& response) {
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
    // Stream-wide progress answer (RequestProgress): etcd sends it only
    // when every watch on the stream is synced, so it applies to all.
    std::vector<std::pair<uint64_t, WatchEventsCallback>> targets;
    for (auto& [id, watch] : watches_) {
      if (watch.server_id == kNoServerId) continue;
      watch.next_revision = std::max(watch.next_revision, revision + 1);
      targets.emplace_back(id, watch.on_events);
    }
    WatchUpdate update;
    update.revision = revision;
    for (auto& [id, on_events] : targets) {
      // An earlier callback may have cancelled this watch.
      if (watches_.count(id) != 0 && on_events) on_events(update);
    }
    return;
  }
  auto id_it = by_server_id_.find(response.watch_id());
  if (id_it == by_server_id_.end()) return;  // cancelled by us meanwhile
  Watch& watch = watches_.at(id_it->second);
  WatchUpdate update;
  update.revision = revision;
  if (response.events().empty()) {
    watch.next_revision = std::max(watch.next_revision, revision + 1);
  } else {
    update.events.assign(response.events().begin(), response.events().end());
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
    End(*id, response.compact_revision() > 0
                 ? CompactedError(response.compact_revision())
                 : absl::FailedPreconditionError(absl::StrCat(
                       "etcd refused the watch on \"", it->second.options.key,
                       "\": ", response.cancel_reason())));
    SendNextCreate();
    return;
  }
  Watch& watch = it->second;
  const int64_t revision = response.header().revision();
  backoff_.Reset();
  watch.server_id = response.watch_id();
  by_server_id_[watch.server_id] = *id;
  if (watch.resumed && revision + 1 < watch.next_revision) {
    // We delivered events up to next_revision - 1, yet the store is behind
    // that: it was wiped or restored. Resuming would silently miss events,
    // so end the watch and let the owner read again.
    const absl::Status status = absl::DataLossError(absl::StrCat(
        "etcd's revision went back from ", watch.next_revision - 1, " to ",
        revision, " (store wiped or restored); read again and re-watch"));
    etcdserverpb::WatchRequest request;
    request.mutable_cancel_request()->set_watch_id(watch.server_id);
    if (stream_) stream_->Write(std::move(request));
    by_server_id_.erase(watch.server_id);
    End(*id, status);
    SendNextCreate();
    return;
  }
  if (watch.next_revision == 0) watch.next_revision = revision + 1;
  watch.resumed = true;
  SendNextCreate();
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
  stream_ = nullptr;
  creating_.reset();
  by_server_id_.clear();
  to_create_.clear();
  for (auto& [id, watch] : watches_) {
    watch.server_id = kNoServerId;
    to_create_.push_back(id);
  }
  if (shutdown_) return;
  reconnect_timer_ =
      ScheduleStreamReconnect(connection_, dispatcher_, backoff_,
                              stream->member_index(), status, [this] {
                                reconnect_timer_ = 0;
                                EnsureStream();
                                SendNextCreate();
                              });
}

void WatchHub::End(uint64_t id, const absl::Status& status) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  WatchEndCallback on_end = std::move(it->second.on_end);
  watches_.erase(it);
  if (on_end) on_end(status);
}

}  // namespace vlb::etcd
