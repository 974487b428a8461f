#include "discovery/service_watcher.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vlb::internal {

ServiceWatcher::ServiceWatcher(std::shared_ptr<etcd::Client> client,
                               std::string service_name, Callbacks callbacks)
    : client_(std::move(client)),
      service_name_(std::move(service_name)),
      prefix_(ServicePrefix(service_name_)),
      callbacks_(std::move(callbacks)),
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
    if (watch_id_ != 0) client_->CancelWatch(watch_id_);
    watch_id_ = 0;
    client_->CancelTimer(retry_timer_);
    retry_timer_ = 0;
  });
}

void ServiceWatcher::Refresh() {
  client_->RunAfter(absl::ZeroDuration(), [this] {
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
      range, [this](absl::StatusOr<etcdserverpb::RangeResponse> response) {
        OnRead(std::move(response));
      });
}

void ServiceWatcher::OnRead(
    absl::StatusOr<etcdserverpb::RangeResponse> response) {
  reading_ = false;
  if (stopped_) return;
  if (!response.ok()) {
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
  backoff_.Reset();
  instances_.clear();
  for (const mvccpb::KeyValue& kv : response->kvs()) {
    ServiceInstance instance;
    if (Decode(kv.key(), kv.value(), &instance)) {
      instances_[kv.key()] = std::move(instance);
    }
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
  if (stopped_ || update.events.empty()) return;
  for (const mvccpb::Event& event : update.events) {
    const std::string& key = event.kv().key();
    if (event.type() == mvccpb::Event::DELETE) {
      instances_.erase(key);
      continue;
    }
    ServiceInstance instance;
    if (Decode(key, event.kv().value(), &instance)) {
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
  callbacks_.on_notice(
      absl::Status(status.code(),
                   absl::StrCat("watch on ", prefix_,
                                " ended; reading again: ", status.message())));
  Read();
}

bool ServiceWatcher::Decode(const std::string& key, const std::string& value,
                            ServiceInstance* instance) {
  absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(value);
  if (!decoded.ok()) {
    callbacks_.on_notice(absl::InvalidArgumentError(absl::StrCat(
        "skipping malformed record ", key, ": ", decoded.status().message())));
    return false;
  }
  *instance = *std::move(decoded);
  // The key is authoritative for the id: Go writers may omit it.
  if (instance->id.empty() && absl::StartsWith(key, prefix_)) {
    instance->id = key.substr(prefix_.size());
  }
  return true;
}

void ServiceWatcher::Publish(int64_t revision) {
  ServiceSnapshot snapshot;
  snapshot.revision = revision;
  snapshot.instances.reserve(instances_.size());
  for (const auto& [key, instance] : instances_) {
    snapshot.instances.push_back(instance);
  }
  have_snapshot_ = true;
  callbacks_.on_snapshot(snapshot);
}

void ServiceWatcher::RetryLater() {
  retry_timer_ = client_->RunAfter(backoff_.Next(), [this] {
    retry_timer_ = 0;
    Read();
  });
}

}  // namespace vlb::internal
