// FakeEtcd's streams: watches (creation, resumption, delivery, ends) and
// keep-alives, following what etcd::WatchHub and etcd::LeaseKeeper report.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fake_etcd.h"
#include "fake_etcd_client.h"

namespace vlb::testing {

uint64_t FakeEtcd::AddWatch(FakeEtcdClient* owner, etcd::WatchOptions options,
                            etcd::WatchEventsCallback on_events,
                            etcd::WatchEndCallback on_end) {
  const uint64_t id = next_watch_++;
  Watch& watch = watches_[id];
  watch.owner = owner;
  watch.options = std::move(options);
  watch.on_events = std::move(on_events);
  watch.on_end = std::move(on_end);
  Kick(id);
  return id;
}

void FakeEtcd::RemoveWatch(FakeEtcdClient* owner, uint64_t id) {
  auto it = watches_.find(id);
  if (it == watches_.end() || it->second.owner != owner) return;
  clock_.Cancel(it->second.delivery);
  watches_.erase(it);
}

// One delivery task per watch at a time: events written meanwhile are
// picked up by it, in revision order, as one batch.
void FakeEtcd::Kick(uint64_t id) {
  Watch& watch = watches_.at(id);
  if (unavailable_ || watch.delivery != 0) return;
  watch.delivery = clock_.RunAfter(slow_, [this, id] { Deliver(id); });
}

bool FakeEtcd::CreateOnStream(uint64_t id, Watch& watch) {
  const int64_t revision = store_.revision();
  if (watch.cluster_id != 0 && (watch.cluster_id != store_.cluster_id() ||
                                revision + 1 < watch.next_revision)) {
    // Same words as WatchHub::EndWithDataLoss.
    End(id, absl::DataLossError(
                absl::StrCat("etcd's revision went back from ",
                             watch.next_revision - 1, " to ", revision,
                             " (store wiped or restored); read again "
                             "and re-watch")));
    return false;
  }
  int64_t start = watch.next_revision != 0 ? watch.next_revision
                                           : watch.options.start_revision;
  if (start == 0) start = revision + 1;
  if (start < store_.compact_revision()) {
    End(id, etcd::CompactedError(store_.compact_revision()));
    return false;
  }
  watch.next_revision = start;
  watch.cluster_id = store_.cluster_id();
  watch.created = true;
  return true;
}

void FakeEtcd::Deliver(uint64_t id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  Watch& watch = it->second;
  watch.delivery = 0;
  if (unavailable_) return;  // resumed by SetUnavailable(false)
  if (!watch.created && !CreateOnStream(id, watch)) return;
  etcd::WatchUpdate update;
  update.events = store_.EventsSince(watch.options.key, watch.options.range_end,
                                     watch.next_revision);
  if (update.events.empty()) return;
  update.revision = store_.revision();
  watch.next_revision = update.events.back().kv().mod_revision() + 1;
  // A copy: the callback may cancel this very watch.
  etcd::WatchEventsCallback on_events = watch.on_events;
  on_events(update);
}

void FakeEtcd::End(uint64_t id, const absl::Status& status) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  clock_.Cancel(it->second.delivery);
  etcd::WatchEndCallback on_end = std::move(it->second.on_end);
  watches_.erase(it);
  if (on_end) on_end(status);
}

void FakeEtcd::ProgressAll(FakeEtcdClient* owner) {
  for (auto& [id, watch] : watches_) {
    if (watch.owner != owner || !watch.created) continue;
    clock_.RunAfter(slow_, [this, id = id] {
      auto it = watches_.find(id);
      if (it == watches_.end() || unavailable_) return;
      etcd::WatchUpdate progress;
      progress.revision = store_.revision();
      etcd::WatchEventsCallback on_events = it->second.on_events;
      on_events(progress);
    });
  }
}

void FakeEtcd::AddKeepAlive(FakeEtcdClient* owner, int64_t lease,
                            absl::Duration ttl,
                            etcd::LeaseStateCallback on_state) {
  const KeepAliveKey key(owner, lease);
  RemoveKeepAlive(owner, lease);
  KeepAliveEntry& entry = keepalives_[key];
  entry.ttl = ttl;
  entry.on_state = std::move(on_state);
  entry.confirmed_until = Now() + ttl;
  // The first request goes out at once, as LeaseKeeper::Add sends it.
  entry.timer =
      clock_.RunAfter(absl::ZeroDuration(), [this, key] { Tick(key); });
}

void FakeEtcd::RemoveKeepAlive(FakeEtcdClient* owner, int64_t lease) {
  auto it = keepalives_.find(KeepAliveKey(owner, lease));
  if (it == keepalives_.end()) return;
  clock_.Cancel(it->second.timer);
  keepalives_.erase(it);
}

void FakeEtcd::ScheduleTick(const KeepAliveKey& key) {
  KeepAliveEntry& entry = keepalives_.at(key);
  absl::Time due = Now() + entry.ttl / 3;
  // Wake up just past the confirmation horizon to notice it lapsing.
  if (!entry.unconfirmed) {
    due = std::min(due, entry.confirmed_until + absl::Milliseconds(1));
  }
  entry.timer = clock_.RunAfter(due - Now(), [this, key] { Tick(key); });
}

void FakeEtcd::Tick(const KeepAliveKey& key) {
  KeepAliveEntry& entry = keepalives_.at(key);
  entry.timer = 0;
  ScheduleTick(key);
  if (!unavailable_) {
    const absl::Time sent = Now();
    clock_.RunAfter(slow_, [this, key, sent] { Confirm(key, sent); });
    return;
  }
  if (entry.unconfirmed || Now() <= entry.confirmed_until) return;
  entry.unconfirmed = true;
  etcd::LeaseStateCallback on_state = entry.on_state;
  on_state(absl::UnavailableError(
      "etcd lease not confirmed for longer than its TTL (etcd unreachable?)"));
}

void FakeEtcd::Confirm(const KeepAliveKey& key, absl::Time sent) {
  auto it = keepalives_.find(key);
  if (it == keepalives_.end() || unavailable_) return;
  KeepAliveEntry& entry = it->second;
  if (!store_.RenewLease(key.second, Now())) {
    etcd::LeaseStateCallback on_state = std::move(entry.on_state);
    clock_.Cancel(entry.timer);
    keepalives_.erase(it);
    on_state(absl::NotFoundError(
        absl::StrCat("etcd lease ", key.second, " expired or was revoked")));
    return;
  }
  ArmExpiry();
  entry.confirmed_until = sent + entry.ttl;
  if (!entry.unconfirmed) return;
  entry.unconfirmed = false;
  etcd::LeaseStateCallback on_state = entry.on_state;
  on_state(absl::OkStatus());
}

void FakeEtcd::Forget(FakeEtcdClient* owner) {
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->second.owner != owner) {
      ++it;
      continue;
    }
    clock_.Cancel(it->second.delivery);
    it = watches_.erase(it);
  }
  for (auto it = keepalives_.begin(); it != keepalives_.end();) {
    if (it->first.first != owner) {
      ++it;
      continue;
    }
    clock_.Cancel(it->second.timer);
    it = keepalives_.erase(it);
  }
}

}  // namespace vlb::testing
