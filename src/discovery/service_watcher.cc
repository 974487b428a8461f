#include "discovery/service_watcher.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "discovery/snapshot_store.h"

namespace vlb::internal {
namespace {

// How long a serializable answer waits for the linearizable one at start.
constexpr absl::Duration kStaleReadPatience = absl::Seconds(1);

}  // namespace

ServiceWatcher::ServiceWatcher(std::shared_ptr<etcd::Client> client,
                               std::string service_name, Callbacks callbacks,
                               ServiceWatcherOptions options)
    : client_(std::move(client)),
      service_name_(std::move(service_name)),
      prefix_(ServicePrefix(service_name_)),
      callbacks_(std::move(callbacks)),
      options_(std::move(options)),
      backoff_(client_->options().initial_backoff,
               client_->options().max_backoff) {}

ServiceWatcher::~ServiceWatcher() { Stop(); }

void ServiceWatcher::Start() {
  client_->RunSync([this] { Read(); });
}

void ServiceWatcher::Stop() {
  client_->RunSync([this] {
    if (stopped_) return;
    stopped_ = true;
    // Reads in flight and queued tasks cannot be cancelled: they check it.
    *alive_ = false;
    if (watch_id_ != 0) client_->CancelWatch(watch_id_);
    watch_id_ = 0;
    client_->CancelTimer(retry_timer_);
    retry_timer_ = 0;
    client_->CancelTimer(grace_timer_);
    grace_timer_ = 0;
    client_->CancelTimer(save_timer_);
    save_timer_ = 0;
    client_->CancelTimer(stale_timer_);
    stale_timer_ = 0;
  });
}

void ServiceWatcher::Refresh() {
  client_->RunAfter(absl::ZeroDuration(), [this, alive = Alive()] {
    if (!*alive) return;
    if (retry_timer_ != 0) client_->CancelTimer(retry_timer_);
    retry_timer_ = 0;
    Read();
  });
}

void ServiceWatcher::Read() {
  if (stopped_ || reading_) return;
  reading_ = true;
  etcdserverpb::RangeRequest range;
  range.set_key(prefix_);
  range.set_range_end(etcd::PrefixRangeEnd(prefix_));
  client_->RangeAsync(
      range, [this, alive = Alive()](
                 absl::StatusOr<etcdserverpb::RangeResponse> response) {
        if (*alive) OnRead(std::move(response));
      });
  // Without quorum the read above fails only after its deadline on every
  // member; a process starting then should not wait that long for nothing.
  if (provisional_ && !have_snapshot_) ReadStale();
}

void ServiceWatcher::ReadStale() {
  if (stale_reading_) return;
  stale_reading_ = true;
  etcdserverpb::RangeRequest range;
  range.set_key(prefix_);
  range.set_range_end(etcd::PrefixRangeEnd(prefix_));
  range.set_serializable(true);
  client_->RangeAsync(
      range, [this, alive = Alive()](
                 absl::StatusOr<etcdserverpb::RangeResponse> response) {
        if (*alive) OnStaleRead(std::move(response));
      });
}

void ServiceWatcher::OnStaleRead(
    absl::StatusOr<etcdserverpb::RangeResponse> response) {
  stale_reading_ = false;
  if (stopped_ || !provisional_ || have_snapshot_) return;
  if (!response.ok()) {
    stale_failed_ = true;
    if (!reading_) UseStoredSnapshot();
    return;
  }
  // A healthy cluster answers the linearizable read a moment later: the
  // stale answer is used only if that one fails or is slow.
  stale_response_ = *std::move(response);
  if (!reading_) {
    UseStaleRead();
    return;
  }
  stale_timer_ = client_->RunAfter(kStaleReadPatience, [this] {
    stale_timer_ = 0;
    UseStaleRead();
  });
}

void ServiceWatcher::UseStaleRead() {
  if (stopped_ || !provisional_ || have_snapshot_ ||
      !stale_response_.has_value()) {
    return;
  }
  instances_ = Decode(*stale_response_);
  const int64_t revision = stale_response_->header().revision();
  stale_response_.reset();
  callbacks_.on_notice(absl::UnavailableError(absl::StrCat(
      "using a serializable read of ", prefix_, " (", instances_.size(),
      " instances, may be stale) until etcd answers a linearizable one")));
  Publish(revision);
}

void ServiceWatcher::UseStoredSnapshot() {
  if (options_.snapshot_dir.empty() || have_snapshot_) return;
  absl::StatusOr<StoredSnapshot> stored =
      LoadSnapshot(options_.snapshot_dir, service_name_);
  if (!stored.ok()) {
    if (!absl::IsNotFound(stored.status())) {
      callbacks_.on_notice(stored.status());
    }
    return;
  }
  instances_.clear();
  for (WatchedInstance& w : stored->snapshot.instances) {
    std::string key = w.key;
    instances_.emplace(std::move(key), std::move(w));
  }
  callbacks_.on_notice(absl::UnavailableError(absl::StrCat(
      "etcd unreachable: using the ", instances_.size(), " instances saved in ",
      SnapshotPath(options_.snapshot_dir, service_name_), " at ",
      absl::FormatTime(stored->saved), " until etcd answers")));
  Publish(stored->snapshot.revision);
}

std::map<std::string, WatchedInstance> ServiceWatcher::Decode(
    const etcdserverpb::RangeResponse& response) {
  std::map<std::string, WatchedInstance> out;
  for (const mvccpb::KeyValue& kv : response.kvs()) {
    WatchedInstance instance;
    if (Decode(kv, &instance)) out[kv.key()] = std::move(instance);
  }
  return out;
}

void ServiceWatcher::OnRead(
    absl::StatusOr<etcdserverpb::RangeResponse> response) {
  reading_ = false;
  if (stopped_) return;
  if (!response.ok()) {
    // Before reporting, so that a fallback is what the channel sees.
    UseStaleRead();
    if (stale_failed_) UseStoredSnapshot();
    // Keep serving the last known instances; etcd being down says nothing
    // about them.
    callbacks_.on_read_error(
        absl::Status(
            response.status().code(),
            absl::StrCat(
                "reading ", prefix_, " failed (keeping ", instances_.size(),
                " known instances, retrying): ", response.status().message())),
        have_snapshot_);
    RetryLater();
    return;
  }
  if (!watch_refused_) backoff_.Reset();
  provisional_ = false;
  stale_response_.reset();
  client_->CancelTimer(stale_timer_);
  stale_timer_ = 0;
  std::map<std::string, WatchedInstance> previous = Decode(*response);
  previous.swap(instances_);
  if (data_loss_pending_) {
    data_loss_pending_ = false;
    HoldMissingAfterDataLoss(std::move(previous));
  }
  const int64_t revision = response->header().revision();
  Publish(revision);
  // Re-created after every read: the old watch (if any) may have been at
  // a revision this read superseded.
  if (watch_id_ != 0) client_->CancelWatch(watch_id_);
  StartWatch(revision + 1);
}

void ServiceWatcher::StartWatch(int64_t from_revision) {
  etcd::WatchOptions watch;
  watch.key = prefix_;
  watch.range_end = etcd::PrefixRangeEnd(prefix_);
  watch.start_revision = from_revision;
  watch_id_ = client_->Watch(
      std::move(watch),
      [this](const etcd::WatchUpdate& update) { OnEvents(update); },
      [this](const absl::Status& status) { OnWatchEnd(status); });
}

void ServiceWatcher::OnEvents(const etcd::WatchUpdate& update) {
  if (stopped_) return;
  if (watch_refused_) {  // the watch works again
    watch_refused_ = false;
    backoff_.Reset();
  }
  if (update.events.empty()) return;
  for (const mvccpb::Event& event : update.events) {
    const std::string& key = event.kv().key();
    // Whatever the event, a held instance is now described by the store.
    held_.erase(key);
    if (event.type() == mvccpb::Event::DELETE) {
      Forget(key);
      continue;
    }
    WatchedInstance instance;
    if (Decode(event.kv(), &instance)) {
      instances_[key] = std::move(instance);
    } else {
      // A record that turned invalid no longer describes a usable instance.
      instances_.erase(key);
    }
  }
  Publish(update.revision);
}

void ServiceWatcher::OnWatchEnd(const absl::Status& status) {
  watch_id_ = 0;
  if (stopped_) return;
  if (absl::IsDataLoss(status)) data_loss_pending_ = true;
  callbacks_.on_notice(
      absl::Status(status.code(),
                   absl::StrCat("watch on ", prefix_,
                                " ended; reading again: ", status.message())));
  if (absl::IsDataLoss(status) || etcd::IsCompacted(status)) {
    Read();  // history is gone: the fresh read is the remedy
    return;
  }
  // Refused: read and watch again after a backoff that only a working
  // watch resets, so that a read-then-refused-watch cycle cannot spin.
  watch_refused_ = true;
  RetryLater();
}

bool ServiceWatcher::IsInstanceKey(const std::string& key) {
  absl::string_view id = key;
  if (absl::ConsumePrefix(&id, prefix_) && !id.empty() &&
      !absl::StrContains(id, '/')) {
    return true;
  }
  if (reported_.emplace(key, std::string()).second) {
    callbacks_.on_notice(absl::InvalidArgumentError(
        absl::StrCat("skipping ", key, ": not an instance of ", service_name_,
                     " (instances are direct children ", prefix_, "<id>)")));
  }
  return false;
}

bool ServiceWatcher::Decode(const mvccpb::KeyValue& kv, WatchedInstance* out) {
  if (!IsInstanceKey(kv.key())) return false;
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(kv.value());
  if (!decoded.ok()) {
    auto [it, inserted] = reported_.try_emplace(kv.key(), kv.value());
    if (inserted || it->second != kv.value()) {
      it->second = kv.value();
      callbacks_.on_notice(absl::InvalidArgumentError(
          absl::StrCat("skipping malformed record ", kv.key(), ": ",
                       decoded.status().message())));
    }
    return false;
  }
  reported_.erase(kv.key());
  out->key = kv.key();
  out->mod_revision = kv.mod_revision();
  out->instance = *std::move(decoded);
  // The key is authoritative for the id: Go writers may omit it.
  if (out->instance.id.empty()) {
    out->instance.id = kv.key().substr(prefix_.size());
  }
  return true;
}

void ServiceWatcher::Forget(const std::string& key) {
  instances_.erase(key);
  reported_.erase(key);
}

void ServiceWatcher::HoldMissingAfterDataLoss(
    std::map<std::string, WatchedInstance> previous) {
  // A second loss during the grace period: what was held is still known.
  previous.merge(held_);
  held_.clear();
  for (auto& [key, instance] : previous) {
    if (instances_.count(key) == 0) held_.emplace(key, std::move(instance));
  }
  if (held_.empty()) return;
  callbacks_.on_notice(absl::DataLossError(absl::StrCat(
      "etcd lost ", held_.size(), " instance(s) of ", service_name_,
      " (store wiped or restored); keeping them for ",
      absl::FormatDuration(options_.data_loss_grace),
      " while they register again")));
  client_->CancelTimer(grace_timer_);
  grace_timer_ = client_->RunAfter(options_.data_loss_grace, [this] {
    grace_timer_ = 0;
    EndGrace();
  });
}

void ServiceWatcher::EndGrace() {
  if (stopped_ || held_.empty()) return;
  callbacks_.on_notice(absl::NotFoundError(
      absl::StrCat("dropping ", held_.size(), " instance(s) of ", service_name_,
                   " that did not register again after etcd's data loss")));
  held_.clear();
  Publish(last_revision_);
}

void ServiceWatcher::Publish(int64_t revision) {
  last_revision_ = revision;
  ServiceSnapshot snapshot;
  snapshot.revision = revision;
  snapshot.instances.reserve(instances_.size() + held_.size());
  // Both maps are sorted by key and disjoint: merge them in key order.
  auto held = held_.begin();
  for (const auto& [key, instance] : instances_) {
    for (; held != held_.end() && held->first < key; ++held) {
      snapshot.instances.push_back(held->second);
    }
    snapshot.instances.push_back(instance);
  }
  for (; held != held_.end(); ++held) {
    snapshot.instances.push_back(held->second);
  }
  have_snapshot_ = true;
  if (!provisional_) ScheduleSave();
  callbacks_.on_snapshot(snapshot);
}

// At most one write a second: under churn the file follows, not every event.
void ServiceWatcher::ScheduleSave() {
  if (options_.snapshot_dir.empty() || save_timer_ != 0) return;
  save_timer_ = client_->RunAfter(absl::Seconds(1), [this] {
    save_timer_ = 0;
    ServiceSnapshot snapshot;
    snapshot.revision = last_revision_;
    for (const auto& [key, instance] : instances_) {
      snapshot.instances.push_back(instance);
    }
    absl::Status saved =
        SaveSnapshot(options_.snapshot_dir, service_name_, snapshot);
    if (!saved.ok()) callbacks_.on_notice(saved);
  });
}

void ServiceWatcher::RetryLater() {
  retry_timer_ = client_->RunAfter(backoff_.Next(), [this] {
    retry_timer_ = 0;
    Read();
  });
}

}  // namespace vlb::internal
