#include "fake_clock.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace vlb::testing {

uint64_t FakeClock::RunAfter(absl::Duration delay, std::function<void()> fn) {
  const uint64_t id = next_id_++;
  const absl::Time due = now_ + std::max(delay, absl::ZeroDuration());
  tasks_.emplace(Slot(due, id), std::move(fn));
  due_by_id_.emplace(id, due);
  return id;
}

bool FakeClock::Cancel(uint64_t id) {
  auto it = due_by_id_.find(id);
  if (it == due_by_id_.end()) return false;
  tasks_.erase(Slot(it->second, id));
  due_by_id_.erase(it);
  return true;
}

void FakeClock::AdvanceTime(absl::Duration d) {
  const absl::Time target = now_ + std::max(d, absl::ZeroDuration());
  while (RunNextDue(target)) {
  }
  now_ = target;
}

void FakeClock::RunUntilIdle() {
  while (RunNextDue(now_)) {
  }
}

bool FakeClock::RunNextDue(absl::Time limit) {
  if (in_task_) {
    // A task that pumps the clock would run others inside itself, which no
    // real dispatcher does: that is a bug in the test or the fake.
    std::fprintf(stderr, "FakeClock pumped from inside a task\n");
    std::abort();
  }
  if (tasks_.empty() || tasks_.begin()->first.first > limit) return false;
  auto it = tasks_.begin();
  const Slot slot = it->first;
  std::function<void()> fn = std::move(it->second);
  tasks_.erase(it);
  due_by_id_.erase(slot.second);
  now_ = std::max(now_, slot.first);
  in_task_ = true;
  fn();
  in_task_ = false;
  return true;
}

}  // namespace vlb::testing
