#include "common/backoff.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace vlb::internal {

Backoff::Backoff(absl::Duration initial, absl::Duration max, double multiplier,
                 double jitter)
    : Backoff(initial, max, multiplier, jitter, nullptr) {}

Backoff::Backoff(absl::Duration initial, absl::Duration max, double multiplier,
                 double jitter, std::function<double()> uniform01)
    : initial_(std::max(initial, absl::ZeroDuration())),
      max_(std::max(max, initial_)),
      // Written so that NaN also falls back to the safe value.
      multiplier_(multiplier >= 1.0 ? multiplier : 1.0),
      jitter_(jitter >= 0.0 ? std::min(jitter, 1.0) : 0.0),
      uniform01_(std::move(uniform01)),
      current_(initial_) {}

double Backoff::Uniform01() {
  if (!uniform01_) return absl::Uniform(absl::IntervalClosed, gen_, 0.0, 1.0);
  double u = uniform01_();
  return u >= 0.0 ? std::min(u, 1.0) : 0.0;
}

absl::Duration Backoff::Next() {
  absl::Duration base = current_;
  // Multiplying a capped value keeps this from overflowing however many
  // times Next() is called.
  current_ = std::min(current_ * multiplier_, max_);
  return base * (1.0 + jitter_ * (2.0 * Uniform01() - 1.0));
}

void Backoff::Reset() { current_ = initial_; }

}  // namespace vlb::internal
