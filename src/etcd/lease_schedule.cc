#include "etcd/lease_schedule.h"

#include <algorithm>

namespace vlb::etcd {

void LeaseSchedule::Add(int64_t id, absl::Duration ttl, absl::Time now) {
  Lease& lease = leases_[id];
  lease = Lease{};
  lease.ttl = ttl;
  lease.next_send = now;
  lease.confirmed_until = now + ttl;
}

void LeaseSchedule::StreamOpened(absl::Time now) {
  for (auto& [id, lease] : leases_) {
    lease.next_send = now;
    lease.unanswered_since = absl::InfiniteFuture();
  }
}

bool LeaseSchedule::Confirmed(int64_t id, absl::Duration ttl, absl::Time now) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return false;
  Lease& lease = it->second;
  lease.unanswered_since = absl::InfiniteFuture();
  lease.confirmed_until = now + ttl;
  const bool recovered = lease.reported_unconfirmed;
  lease.reported_unconfirmed = false;
  return recovered;
}

bool LeaseSchedule::Stalled(absl::Time now) const {
  return std::any_of(leases_.begin(), leases_.end(), [now](const auto& entry) {
    const Lease& lease = entry.second;
    return lease.unanswered_since != absl::InfiniteFuture() &&
           now - lease.unanswered_since >= Interval(lease.ttl);
  });
}

std::vector<int64_t> LeaseSchedule::TakeDue(absl::Time now) {
  std::vector<int64_t> due;
  for (auto& [id, lease] : leases_) {
    if (lease.next_send > now) continue;
    due.push_back(id);
    lease.next_send = now + Interval(lease.ttl);
    lease.unanswered_since = std::min(lease.unanswered_since, now);
  }
  return due;
}

std::vector<int64_t> LeaseSchedule::TakeExpired(absl::Time now) {
  std::vector<int64_t> expired;
  for (auto& [id, lease] : leases_) {
    if (lease.reported_unconfirmed || now <= lease.confirmed_until) continue;
    lease.reported_unconfirmed = true;
    expired.push_back(id);
  }
  return expired;
}

absl::Time LeaseSchedule::NextWake(absl::Time now, bool streaming) const {
  absl::Time due = absl::InfiniteFuture();
  for (const auto& [id, lease] : leases_) {
    // unanswered_since + interval comes no later than next_send, so waking
    // for next_send also catches a stall in time.
    if (streaming) due = std::min(due, lease.next_send);
    if (!lease.reported_unconfirmed) {
      due = std::min(due, lease.confirmed_until);
    }
  }
  if (due == absl::InfiniteFuture()) due = now + absl::Seconds(1);
  return std::max(due, now + absl::Milliseconds(5));
}

}  // namespace vlb::etcd
