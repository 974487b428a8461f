// When each kept-alive lease needs a request, when the keep-alive stream
// counts as stalled and when a lease has gone unconfirmed for longer than
// its TTL: the timing half of LeaseKeeper, with no I/O and no clock of its
// own (callers pass `now`), so every path is unit-tested on made-up times.
//
// A request goes out every TTL/3. A request not answered by the time the
// next one is due marks the stream as stalled (the member hangs or lost its
// leader), which leaves time for two more members before the lease expires.
//
// Thread-safety: none; LeaseKeeper uses it on the dispatcher thread. Every
// method is O(number of leases).
#ifndef VLB_SRC_ETCD_LEASE_SCHEDULE_H_
#define VLB_SRC_ETCD_LEASE_SCHEDULE_H_

#include <cstdint>
#include <map>
#include <vector>

#include "absl/time/time.h"

namespace vlb::etcd {

class LeaseSchedule {
 public:
  // Starts keeping `id` alive (again): due now, confirmed for one TTL.
  void Add(int64_t id, absl::Duration ttl, absl::Time now);
  void Remove(int64_t id) { leases_.erase(id); }
  bool Contains(int64_t id) const { return leases_.count(id) > 0; }
  bool empty() const { return leases_.empty(); }

  // A new stream: every lease is due now and nothing is unanswered on it.
  void StreamOpened(absl::Time now);
  // etcd answered for `id` with a remaining `ttl` (> 0). Returns true when
  // the lease had been reported unconfirmed, i.e. it is healthy again.
  bool Confirmed(int64_t id, absl::Duration ttl, absl::Time now);

  // True when a request on the current stream waited longer than its
  // lease's interval.
  bool Stalled(absl::Time now) const;
  // The leases whose request is due by `now`; they count as sent at `now`.
  std::vector<int64_t> TakeDue(absl::Time now);
  // The leases unconfirmed for longer than their TTL by `now` that were not
  // reported yet; they count as reported.
  std::vector<int64_t> TakeExpired(absl::Time now);

  // When something above may next be due: the earliest request (only
  // `streaming`, as nothing is sent without a stream) or expiry; one second
  // from now when nothing is, and never sooner than 5 ms from now.
  absl::Time NextWake(absl::Time now, bool streaming) const;

  static absl::Duration Interval(absl::Duration ttl) { return ttl / 3; }

 private:
  struct Lease {
    absl::Duration ttl;
    absl::Time next_send;
    absl::Time confirmed_until;  // no news past this: unconfirmed
    // When the oldest request not answered yet was sent on the current
    // stream; InfiniteFuture() when all were answered.
    absl::Time unanswered_since = absl::InfiniteFuture();
    bool reported_unconfirmed = false;
  };

  std::map<int64_t, Lease> leases_;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_LEASE_SCHEDULE_H_
