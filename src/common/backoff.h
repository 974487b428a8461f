// Jittered exponential backoff for retry loops, in the style of gRPC's
// connection backoff: delays grow from `initial` by `multiplier` up to `max`,
// and each is spread by +-`jitter` so that many clients failing together do
// not retry together.
#ifndef VLB_COMMON_BACKOFF_H_
#define VLB_COMMON_BACKOFF_H_

#include <functional>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace vlb::internal {

// Not thread-safe: each retry loop owns one.
class Backoff {
 public:
  // Out-of-range arguments are clamped rather than rejected, since callers
  // pass user options: negative durations become zero, `max` is raised to
  // `initial`, `multiplier` is at least 1 and `jitter` is within [0, 1].
  Backoff(absl::Duration initial, absl::Duration max, double multiplier = 1.6,
          double jitter = 0.2);
  // `uniform01` replaces the random source (for tests); it should return
  // values in [0, 1] (others are clamped).
  Backoff(absl::Duration initial, absl::Duration max, double multiplier,
          double jitter, std::function<double()> uniform01);

  // Returns the delay before the next attempt. The n-th call (from 0) after
  // construction or Reset() returns b * (1 + jitter * (2u - 1)), where
  // b = min(initial * multiplier^n, max) and u is uniform in [0, 1]. The
  // result may exceed `max` by the jitter fraction: clamping it would make
  // every client that reached the cap retry in lockstep.
  absl::Duration Next();

  // Starts again from `initial`; call it after a success.
  void Reset();

 private:
  double Uniform01();

  absl::Duration initial_;
  absl::Duration max_;
  double multiplier_;
  double jitter_;
  std::function<double()> uniform01_;
  absl::BitGen gen_;
  absl::Duration current_;
};

}  // namespace vlb::internal

#endif  // VLB_COMMON_BACKOFF_H_
