// What a request resolves to in one pick table (Resolution), and the
// table's lock-free cache of them keyed by the raw header text.
//
// Parsing the header and matching it against the groups cost several times
// a whole round_robin pick, yet within one table the outcome (which groups,
// or queue, or which failure) depends on the header text alone; only the
// final position in the candidate set changes from pick to pick. So a table
// keeps Resolutions keyed by the header text: precomputed at Build() (see
// request_resolver.h for which texts), and, for other texts, stored on first
// use in a few slots preallocated with the table: a slot is claimed with one
// atomic add, published with a release store and never changed afterwards,
// so readers need no lock and a pick never allocates. Texts that find no
// free slot take the full path every time; so do resolutions that cannot
// be cached (Cacheable()).
//
// Thread-safety: AddPrecomputed() only while the table is built; Find() and
// Remember() from any number of threads. Cost: Find() compares the text
// with at most kMaxPrecomputed + kSlots short keys, inline; Remember() is a
// copy of one Resolution (about 250 bytes).
#ifndef VLB_SRC_BALANCER_RESOLUTION_CACHE_H_
#define VLB_SRC_BALANCER_RESOLUTION_CACHE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "balancer/group_index.h"
#include "balancer/pick_result.h"
#include "balancer/pick_scheduler.h"
#include "balancer/version.h"

namespace vlb::internal {

// A pick short of the rotation: the outcome, and for kPicked the candidate
// set and how to rotate over it. Trivially copyable.
struct Resolution {
  // The pick's result but `endpoint`, which the rotation fills in.
  PickResult outcome;
  // kPicked: a plain rotation over this run when non-empty, else
  // PickScheduler::Choose over `candidates`.
  Slice slice;
  RotationCounter* counter = nullptr;  // kPicked
  // The request that collected `candidates`, needed only when they
  // overflowed, which is never cached; null in cached resolutions.
  const VersionRequest* matched_by = nullptr;
  Candidates candidates;  // kPicked

  // An overflowed candidate list needs its request to be walked, and that
  // request may live on the caller's stack.
  bool Cacheable() const {
    return outcome.kind != PickResult::Kind::kPicked || !candidates.overflow;
  }
};

class ResolutionCache {
 public:
  static constexpr size_t kMaxPrecomputed = 8;
  static constexpr size_t kSlots = 8;
  static constexpr size_t kMaxText = 64;  // longer texts are never cached

  // Seeds the slots' own rotation counters from `seed`.
  explicit ResolutionCache(uint64_t seed);
  ResolutionCache(const ResolutionCache&) = delete;
  ResolutionCache& operator=(const ResolutionCache&) = delete;

  // Before any Find(): keeps `r` (Cacheable()) for `text` (at most kMaxText
  // bytes), with `own` as its rotation if it is a union of groups. Returns
  // false, keeping nothing, once kMaxPrecomputed are kept.
  bool AddPrecomputed(absl::string_view text, const Resolution& r,
                      RotationCounter* own);
  size_t num_precomputed() const { return num_precomputed_; }
  bool precomputed_full() const { return num_precomputed_ == kMaxPrecomputed; }

  // The resolution kept for exactly `raw`, or null. Lock-free; inline, as
  // it runs on every pick that carries a header.
  const Resolution* Find(absl::string_view raw) const {
    for (size_t i = 0; i < num_precomputed_; ++i) {
      if (precomputed_[i].text.Equals(raw)) return &precomputed_[i].resolution;
    }
    const size_t used =
        std::min(slots_claimed_.load(std::memory_order_relaxed), kSlots);
    for (size_t i = 0; i < used; ++i) {
      const Slot& slot = slots_[i];
      if (slot.state.load(std::memory_order_acquire) == Slot::kReady &&
          slot.text.Equals(raw)) {
        return &slot.resolution;
      }
    }
    return nullptr;
  }

  // Keeps `r` (Cacheable()) for `raw` in a free slot, if there is one and
  // `raw` fits. Lock-free; a text remembered twice by racing picks takes
  // two slots, which is harmless.
  void Remember(absl::string_view raw, const Resolution& r) const;

 private:
  // Text of at most kMaxText bytes, compared inline: for the few bytes of
  // a version a libc memcmp call costs more than the loop.
  struct ShortText {
    uint8_t size = 0;
    char data[kMaxText];

    void Set(absl::string_view text) {
      std::memcpy(data, text.data(), text.size());
      size = static_cast<uint8_t>(text.size());
    }
    bool Equals(absl::string_view text) const {
      if (text.size() != size) return false;
      for (size_t i = 0; i < text.size(); ++i) {
        if (data[i] != text[i]) return false;
      }
      return true;
    }
  };

  struct Precomputed {
    ShortText text;
    Resolution resolution;
  };

  struct Slot {
    static constexpr int kReady = 1;
    // 0 until `text` and `resolution` are written, then kReady (release).
    std::atomic<int> state{0};
    ShortText text;
    Resolution resolution;
    // The rotation of `resolution` when it is a union of groups.
    RotationCounter own_counter;
  };

  // Gives a union of groups `own` as its rotation, so that two cached
  // unions never share one.
  static void Store(const Resolution& r, RotationCounter* own, Resolution* out);

  size_t num_precomputed_ = 0;
  Precomputed precomputed_[kMaxPrecomputed];
  // Slots handed out so far (may exceed kSlots: then none is left).
  alignas(64) mutable std::atomic<size_t> slots_claimed_{0};
  mutable Slot slots_[kSlots];
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_RESOLUTION_CACHE_H_
