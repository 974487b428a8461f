#include "balancer/pick_scheduler.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace vlb::internal {
namespace {

// Counters shared by the unions of groups that have none of their own.
constexpr size_t kStripedCounters = 16;

// Per-thread splitmix64 stream for the random policy. Seeded from the clock,
// the thread and a process-wide counter rather than std::random_device,
// which may open a file or throw: load spreading needs distinct streams, not
// secrets.
uint64_t NextRandom() {
  static std::atomic<uint64_t> streams{0};
  thread_local uint64_t state = 0;
  if (state == 0) {
    uint64_t now = static_cast<uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    state = SplitMix64(now ^ reinterpret_cast<uintptr_t>(&state) ^
                       streams.fetch_add(kWeylStep, std::memory_order_relaxed));
    state |= 1;
  }
  state += kWeylStep;
  return SplitMix64(state);
}

}  // namespace

PickScheduler::PickScheduler(ChildPolicy child, const GroupIndex& index,
                             uint64_t seed, size_t reserved)
    : child_(child), index_(index) {
  num_counters_ = 1 + index.num_groups() + kStripedCounters + reserved;
  counters_ = std::make_unique<RotationCounter[]>(num_counters_);
  for (size_t i = 0; i < num_counters_; ++i) {
    counters_[i].value.store(SplitMix64(seed + i), std::memory_order_relaxed);
  }
}

RotationCounter* PickScheduler::CounterFor(const Candidates& c) const {
  if (c.all) return &counters_[0];
  if (c.num_groups == 1 && !c.overflow) return &counters_[1 + c.groups[0]];
  uint64_t hash = c.ready;
  for (int i = 0; i < c.num_groups; ++i) {
    hash = SplitMix64(hash ^ c.groups[i]);
  }
  return &counters_[1 + index_.num_groups() + hash % kStripedCounters];
}

RotationCounter* PickScheduler::Reserved(size_t i) const {
  return &counters_[1 + index_.num_groups() + kStripedCounters + i];
}

Slice PickScheduler::SliceFor(const Candidates& c) const {
  const bool rotates = child_ == ChildPolicy::kRoundRobin ||
                       (child_ == ChildPolicy::kWeightedRoundRobin &&
                        (c.uniform || c.weight == 0));
  Slice s;
  if (!rotates) return s;
  uint32_t begin = 0;
  if (c.all) {
    begin = index_.all_begin();
    s.size = index_.all_used_size();
  } else if (c.num_groups == 1 && !c.overflow) {
    const Group& g = index_.group(c.groups[0]);
    begin = g.ready_begin;
    s.size = g.part(c.drained).size;
  }
  if (s.size == 0) return s;
  s.endpoints = index_.ready_run(begin);
  s.magic = ~uint64_t{0} / s.size + 1;
  return s;
}

uint32_t PickScheduler::Choose(const Candidates& c,
                               const VersionRequest* request,
                               RotationCounter* counter) const {
  switch (child_) {
    case ChildPolicy::kRandom:
      return index_.Locate(c, request, MulHigh(NextRandom(), c.ready));
    case ChildPolicy::kWeightedRoundRobin:
      // Equal weights, or only drained endpoints left: plain rotation.
      if (!c.uniform && c.weight > 0) {
        return PickWeighted(c, request, counter);
      }
      break;
    case ChildPolicy::kRoundRobin:
      break;
  }
  return index_.Locate(c, request, counter->Next() % c.ready);
}

uint32_t PickScheduler::PickWeighted(const Candidates& c,
                                     const VersionRequest* request,
                                     RotationCounter* counter) const {
  // Scaling the Weyl point (a 64-bit fraction) to the union's weight keeps
  // it equidistributed over the integer positions, within 2^-64.
  const uint64_t position = MulHigh(counter->Next() * kWeylStep, c.weight);
  return index_.LocateWeighted(c, request, position);
}

}  // namespace vlb::internal
