// The seam between vlb's state machines and time: where "now" comes from
// and how work is run later. The etcd client's dispatcher thread implements
// it with the monotonic clock; tests/support/fake_clock.h implements it with
// a clock that moves only when the test says so.
//
// Time is monotonic: an absl::Time counted from an arbitrary epoch, only
// meaningful as a difference to another Now() of the same scheduler.
#ifndef VLB_SRC_COMMON_SCHEDULER_H_
#define VLB_SRC_COMMON_SCHEDULER_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace vlb::internal {

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  virtual absl::Time Now() const = 0;
  // Runs `fn` after max(delay, 0); tasks due at the same time run in the
  // order they were queued. Returns an id for Cancel(), 0 when the
  // scheduler no longer runs anything (`fn` is dropped).
  virtual uint64_t PostAfter(absl::Duration delay,
                             std::function<void()> fn) = 0;
  // Removes a task that has not started; true if it was queued.
  virtual bool Cancel(uint64_t id) = 0;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_COMMON_SCHEDULER_H_
