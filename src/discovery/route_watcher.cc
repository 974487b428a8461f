#include "discovery/route_watcher.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace vlb::internal {

std::string RouteDocumentKey(const std::string& root,
                             const std::string& service) {
  return absl::StrCat(root, service);
}

RouteWatcher::RouteWatcher(std::shared_ptr<etcd::Client> client,
                           std::string key, Callbacks callbacks)
    : client_(std::move(client)),
      key_(std::move(key)),
      callbacks_(std::move(callbacks)),
      backoff_(client_->options().initial_backoff,
               client_->options().max_backoff) {}

RouteWatcher::~RouteWatcher() { Stop(); }

void RouteWatcher::Start() {
  client_->RunSync([this] { Read(); });
}

void RouteWatcher::Stop() {
  client_->RunSync([this] { Halt(); });
}

void RouteWatcher::Halt() {
  if (std::exchange(stopped_, true)) return;
  *alive_ = false;  // the read in flight cannot be cancelled: it checks
  if (watch_id_ != 0) client_->CancelWatch(std::exchange(watch_id_, 0));
  client_->CancelTimer(std::exchange(retry_timer_, 0));
}

void RouteWatcher::Read() {
  if (stopped_ || reading_) return;
  reading_ = true;
  etcdserverpb::RangeRequest range;
  range.set_key(key_);
  client_->RangeAsync(
      range, [this, alive = alive_](
                 absl::StatusOr<etcdserverpb::RangeResponse> response) {
        if (*alive) OnRead(std::move(response));
      });
}

void RouteWatcher::OnRead(
    absl::StatusOr<etcdserverpb::RangeResponse> response) {
  reading_ = false;
  if (stopped_) return;
  if (!response.ok()) {
    callbacks_.on_notice(absl::Status(
        response.status().code(),
        absl::StrCat("reading route document ", key_,
                     " failed (keeping the one in force, retrying): ",
                     response.status().message())));
    ReportFirst();
    RetryLater();
    return;
  }
  if (response->kvs_size() == 0) {
    ApplyDeleted();
  } else {
    Apply(response->kvs(0));
  }
  ReportFirst();
  StartWatch(response->header().revision() + 1);
}

void RouteWatcher::StartWatch(int64_t from_revision) {
  if (watch_id_ != 0) client_->CancelWatch(watch_id_);
  etcd::WatchOptions options;
  options.key = key_;
  options.start_revision = from_revision;
  watch_id_ = client_->Watch(
      options, [this](const etcd::WatchUpdate& u) { OnEvents(u); },
      [this](const absl::Status& status) { OnWatchEnd(status); });
}

void RouteWatcher::OnEvents(const etcd::WatchUpdate& update) {
  if (stopped_) return;
  backoff_.Reset();
  for (const mvccpb::Event& event : update.events) {
    if (event.type() == mvccpb::Event::DELETE) {
      ApplyDeleted();
    } else {
      Apply(event.kv());
    }
  }
}

void RouteWatcher::OnWatchEnd(const absl::Status& status) {
  watch_id_ = 0;
  if (stopped_) return;
  callbacks_.on_notice(
      absl::Status(status.code(),
                   absl::StrCat("watch on route document ", key_,
                                " ended; reading again: ", status.message())));
  if (etcd::IsCompacted(status) || absl::IsDataLoss(status)) {
    Read();
    return;
  }
  RetryLater();
}

void RouteWatcher::Apply(const mvccpb::KeyValue& kv) {
  if (kv.mod_revision() == state_.mod_revision) return;
  absl::StatusOr<RouteDocument> parsed = ParseRouteDocument(kv.value());
  if (!parsed.ok()) {
    if (kv.mod_revision() == last_invalid_revision_) return;
    last_invalid_revision_ = kv.mod_revision();
    callbacks_.on_notice(absl::InvalidArgumentError(absl::StrCat(
        "route document ", key_, " at revision ", kv.mod_revision(),
        " is invalid; keeping ",
        state_.document ? "the last valid one" : "the local config", ": ",
        parsed.status().message())));
    return;
  }
  state_.document = std::make_shared<const RouteDocument>(*std::move(parsed));
  state_.mod_revision = kv.mod_revision();
  reported_ = true;
  callbacks_.on_change(state_);
}

void RouteWatcher::ReportFirst() {
  if (reported_) return;
  reported_ = true;
  callbacks_.on_change(state_);
}

void RouteWatcher::ApplyDeleted() {
  last_invalid_revision_ = 0;
  if (state_.document == nullptr) return;
  state_ = RouteState{};
  reported_ = true;
  callbacks_.on_change(state_);
}

void RouteWatcher::RetryLater() {
  if (retry_timer_ != 0) return;
  retry_timer_ = client_->RunAfter(backoff_.Next(), [this] {
    retry_timer_ = 0;
    Read();
  });
}

}  // namespace vlb::internal
