#include "balancer/resolution_cache.h"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace vlb::internal {

ResolutionCache::ResolutionCache(uint64_t seed) {
  for (size_t i = 0; i < kSlots; ++i) {
    slots_[i].own_counter.value.store(SplitMix64(~seed - i),
                                      std::memory_order_relaxed);
  }
}

bool ResolutionCache::AddPrecomputed(absl::string_view text,
                                     const Resolution& r,
                                     RotationCounter* own) {
  if (precomputed_full() || text.size() > kMaxText) return false;
  Precomputed& p = precomputed_[num_precomputed_++];
  p.text.Set(text);
  Store(r, own, &p.resolution);
  return true;
}

void ResolutionCache::Remember(absl::string_view raw,
                               const Resolution& r) const {
  if (raw.size() > kMaxText ||
      slots_claimed_.load(std::memory_order_relaxed) >= kSlots) {
    return;
  }
  const size_t i = slots_claimed_.fetch_add(1, std::memory_order_relaxed);
  if (i >= kSlots) return;
  Slot& slot = slots_[i];
  slot.text.Set(raw);
  Store(r, &slot.own_counter, &slot.resolution);
  slot.state.store(Slot::kReady, std::memory_order_release);
}

void ResolutionCache::Store(const Resolution& r, RotationCounter* own,
                            Resolution* out) {
  *out = r;
  out->matched_by = nullptr;
  const Candidates& c = out->candidates;
  if (r.outcome.kind == PickResult::Kind::kPicked && !c.all &&
      c.num_groups > 1) {
    out->counter = own;
  }
}

}  // namespace vlb::internal
