// Condition waits for tests, instead of fixed sleeps.
#ifndef VLB_TESTS_SUPPORT_WAIT_FOR_H_
#define VLB_TESTS_SUPPORT_WAIT_FOR_H_

#include <algorithm>
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vlb::testing {

// Polls `condition` every `poll` until it returns true (-> true) or
// `deadline` has passed (-> false). The last sleep is cut short so that the
// condition is evaluated once more right at the deadline.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration deadline,
                    absl::Duration poll = absl::Milliseconds(20)) {
  const absl::Time end = absl::Now() + deadline;
  while (true) {
    if (condition()) return true;
    absl::Time now = absl::Now();
    if (now >= end) return false;
    absl::SleepFor(std::min(poll, end - now));
  }
}

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_WAIT_FOR_H_
