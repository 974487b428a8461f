// A fake clock with a task queue: the deterministic stand-in for a
// dispatcher thread plus steady_clock in unit tests. Nothing happens until
// the test says so: AdvanceTime() moves time forward and runs the tasks that
// fall due, in time order (FIFO among tasks due at the same time);
// RunUntilIdle() runs what is due now without moving time.
//
// It implements vlb's time seam (common/scheduler.h), so code that takes a
// Scheduler runs on it unchanged.
//
// Thread-safety: none. One test thread owns it; tasks run on that thread,
// inside AdvanceTime()/RunUntilIdle(), one at a time.
#ifndef VLB_TESTS_SUPPORT_FAKE_CLOCK_H_
#define VLB_TESTS_SUPPORT_FAKE_CLOCK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "absl/time/time.h"
#include "common/scheduler.h"

namespace vlb::testing {

class FakeClock final : public internal::Scheduler {
 public:
  // Starts at a fixed, recognizable time so that logs are reproducible.
  FakeClock() = default;
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time Now() const override { return now_; }
  // Time elapsed since the clock was made (handy in assertions).
  absl::Duration Elapsed() const { return now_ - kEpoch; }

  // Queues `fn` to run at Now() + max(delay, 0); returns a non-zero id.
  uint64_t RunAfter(absl::Duration delay, std::function<void()> fn);
  uint64_t PostAfter(absl::Duration delay, std::function<void()> fn) override {
    return RunAfter(delay, std::move(fn));
  }
  // Removes a task that has not started; returns whether it was queued.
  bool Cancel(uint64_t id) override;

  // Moves time forward by `d`, running each task due on the way at its own
  // time (tasks they queue within the window run too).
  void AdvanceTime(absl::Duration d);
  // Runs every task due at Now(), including the ones they queue for now.
  void RunUntilIdle();

  bool in_task() const { return in_task_; }
  size_t pending() const { return tasks_.size(); }

  static constexpr absl::Time kEpoch = absl::FromUnixSeconds(1'000'000'000);

 private:
  // Runs the earliest task if it is due by `limit`; false when none is.
  bool RunNextDue(absl::Time limit);

  using Slot = std::pair<absl::Time, uint64_t>;  // (due, id): FIFO per time
  absl::Time now_ = kEpoch;
  uint64_t next_id_ = 1;
  bool in_task_ = false;
  std::map<Slot, std::function<void()>> tasks_;
  std::map<uint64_t, absl::Time> due_by_id_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_FAKE_CLOCK_H_
