// The child policies of a pick table: given a candidate set (group_index.h)
// and its rotation counter, which endpoint serves this call. Round robin
// (a rotation over the set's ready endpoints), weighted round robin (a Weyl
// sequence over the set's cumulative weights) and random. A least-request
// scheduler would be one more case of Choose(), with its per-endpoint
// in-flight counts kept beside the rotation counters. (Not to be confused
// with common/scheduler.h, the seam between state machines and time.)
//
// Rotation is per candidate set: the whole table, each version group and
// each cached union of groups has its own counter; unions that cannot be
// cached share a few striped counters chosen by a hash of their groups. One
// counter for every request would lock a periodic mix of requests onto fixed
// instances: with v1 = {a, b}, v2 = {c, d} and alternating v1/v2 calls, v1
// would only ever see even counter values.
//
// Weighted round robin turns the set's counter into a Weyl sequence, point
// k = frac(k / phi), scales it to a position in the set's total weight and
// looks that up in the groups' cumulative weights, where every endpoint owns
// one contiguous run of positions. The Weyl sequence has the lowest
// discrepancy of any (about log(N)/N), so after N picks each endpoint's count
// is within a few picks of N times its share, and as consecutive points are
// 0.618 apart an endpoint with a share below 38% is never picked twice in a
// row. Unlike gRPC's static stride scheduler (a rejection loop) it needs no
// retries, and unlike EDF it has no shared heap, so it stays lock-free with
// one relaxed add. When every candidate has the same weight it uses the
// round-robin rotation instead, the exact answer for equal weights.
//
// Thread-safety and cost: built once per table; const methods are called
// concurrently by every pick, take no lock and allocate nothing. A pick is
// one relaxed fetch_add on the set's counter (kRandom: a thread-local
// generator instead) plus the lookup; counters sit on their own cache lines.
#ifndef VLB_SRC_BALANCER_PICK_SCHEDULER_H_
#define VLB_SRC_BALANCER_PICK_SCHEDULER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/numeric/int128.h"
#include "balancer/group_index.h"
#include "balancer/policy_config.h"
#include "balancer/version.h"

namespace vlb::internal {

// 2^64 / golden ratio, odd, so k * kWeylStep visits every 64-bit value.
inline constexpr uint64_t kWeylStep = 0x9e3779b97f4a7c15;

inline uint64_t MulHigh(uint64_t a, uint64_t b) {
  return absl::Uint128High64(absl::uint128(a) * b);
}

inline uint64_t SplitMix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// One candidate set's rotation, on its own cache line: every pick writes
// one, and neither the read-only table nor the other counters should be
// invalidated in other cores' caches by that.
struct alignas(64) RotationCounter {
  std::atomic<uint64_t> value{0};

  uint64_t Next() { return value.fetch_add(1, std::memory_order_relaxed); }
};

// A run of the index's ready array that a pick rotates over (every
// endpoint, or one group), so that a pick is an add, a modulo and a load.
struct Slice {
  const uint32_t* endpoints = nullptr;  // into the index's ready array
  uint32_t size = 0;  // 0: the pick is not a plain rotation over one run
  // ~0 / size + 1: k % size for 32-bit k is then two multiplications
  // (Lemire's fastmod) instead of a 64-bit division, which alone costs as
  // much as the rest of a pick.
  uint64_t magic = 0;
};

class PickScheduler {
 public:
  // Every counter starts at its own point derived from `seed` (callers
  // pass a random value so that clients started together do not all begin
  // with the same instance). `reserved` counters are set aside for
  // Reserved().
  PickScheduler(ChildPolicy child, const GroupIndex& index, uint64_t seed,
                size_t reserved);
  PickScheduler(const PickScheduler&) = delete;
  PickScheduler& operator=(const PickScheduler&) = delete;

  // The rotation of a candidate set: its own for every endpoint or one
  // group, a striped one (by the groups it lists) for a union.
  RotationCounter* CounterFor(const Candidates& c) const;
  // The i-th reserved counter (i < reserved), for a cached union of groups
  // that should not share a striped one.
  RotationCounter* Reserved(size_t i) const;

  // The run that Choose() would rotate over for `c`, or an empty Slice when
  // it would do something else (weights, randomness, a union of groups).
  Slice SliceFor(const Candidates& c) const;

  // The next endpoint of a plain rotation over `s` (s.size > 0). Inline:
  // this is every cached round-robin pick.
  static uint32_t NextInSlice(const Slice& s, RotationCounter* counter) {
    // Only the low 32 bits of the counter rotate: when they wrap, once in
    // 2^32 picks, the rotation skips ahead once.
    const auto k = static_cast<uint32_t>(counter->Next());
    return s.endpoints[MulHigh(s.magic * k, s.size)];
  }

  // The endpoint for the next pick from `c` (c.ready > 0); `request`
  // collected `c` (needed only when c.overflow).
  uint32_t Choose(const Candidates& c, const VersionRequest* request,
                  RotationCounter* counter) const;

 private:
  uint32_t PickWeighted(const Candidates& c, const VersionRequest* request,
                        RotationCounter* counter) const;

  const ChildPolicy child_;
  const GroupIndex& index_;
  // [0] every endpoint, [1 + g] group g, then kStripedCounters shared ones,
  // then the reserved ones. The only state a pick writes, besides claiming
  // resolution cache slots.
  std::unique_ptr<RotationCounter[]> counters_;
  size_t num_counters_ = 0;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_PICK_SCHEDULER_H_
