// The pick engine over one partition of a table's endpoints: the baseline
// (endpoints without a lane) or one lane. PickTable (pick_table.h) keeps
// one per lane and chooses between them; everything about versions,
// fallbacks, drain and rotation happens in here.
//
// A partition composes the parts of the engine:
//   group_index.h       its endpoints grouped by registered version
//   request_resolver.h  a call's effective request and what it resolves
//                       to, behind the resolution cache
//   pick_scheduler.h    rotation counters; round robin, weighted, random
// Endpoint indices in its results are local (positions in the endpoint
// list it was built from); PickTable maps them back.
//
// Built once, then immutable: const methods are safe from any number of
// threads, lock-free and allocation-free.
#ifndef VLB_SRC_BALANCER_PARTITION_H_
#define VLB_SRC_BALANCER_PARTITION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "balancer/endpoint_info.h"
#include "balancer/group_index.h"
#include "balancer/pick_result.h"
#include "balancer/pick_scheduler.h"
#include "balancer/policy_config.h"
#include "balancer/request_resolver.h"
#include "balancer/resolution_cache.h"
#include "balancer/version.h"

namespace vlb::internal {

class Partition {
 public:
  // Keeps a reference to `config`, which must outlive it; `routed` as
  // PickTable::Build's (resolved here, once).
  Partition(const std::vector<EndpointInfo>& endpoints,
            const PolicyConfig& config, uint64_t seed,
            const std::vector<VersionRequest>& routed);
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  PickResult Pick(const std::optional<absl::string_view>& requested) const {
    if (const Resolution* cached = resolver_.Lookup(requested)) {
      return Finish(*cached);
    }
    return PickUncached(requested);
  }

  PickResult PickRouted(size_t i) const {
    const Resolution& r = routed_resolutions_[i];
    if (r.Cacheable()) return Finish(r);
    return PickRoutedUncached(i);
  }

  // Resolutions without the rotation, for choosing between partitions
  // before picking in one (PickTable's lanes). What they return may point
  // into `*scratch`, constructed only when the cache has no entry.
  struct Scratch {
    VersionRequest parsed;
    Resolution resolution;
  };
  const Resolution& Resolve(const std::optional<absl::string_view>& requested,
                            std::optional<Scratch>* scratch) const {
    if (const Resolution* cached = resolver_.Lookup(requested)) return *cached;
    scratch->emplace();
    return *resolver_.Resolve(requested, &(*scratch)->parsed,
                              &(*scratch)->resolution);
  }
  const Resolution& ResolveRouted(size_t i,
                                  std::optional<Scratch>* scratch) const {
    const Resolution& r = routed_resolutions_[i];
    if (r.Cacheable()) return r;
    scratch->emplace();
    resolver_.ResolveRequest(&routed_[i], PickResult::Source::kRoute,
                             &(*scratch)->resolution);
    return (*scratch)->resolution;
  }

  // The rotation, the only part of a pick that changes from call to call.
  // Inline: it is most of a cached pick.
  PickResult Finish(const Resolution& r) const {
    uint32_t endpoint = 0;
    if (r.slice.size > 0) {
      endpoint = PickScheduler::NextInSlice(r.slice, r.counter);
    } else if (r.outcome.kind == PickResult::Kind::kPicked) {
      endpoint = scheduler_.Choose(r.candidates, r.matched_by, r.counter);
    }
    // A plain copy: inlined into the picker (PickTable::Pick), GCC then
    // reads the few fields the picked case needs. (A memcpy of the whole
    // outcome is split into bytes and reassembled, a dozen more
    // instructions a pick.)
    PickResult result = r.outcome;
    result.endpoint = endpoint;
    return result;
  }

  // The endpoints a kPicked `r` chooses among (local indices, an address in
  // several matching groups more than once), appended to `*out`.
  // Advances no counter; allocates.
  void Members(const Resolution& r, std::vector<uint32_t>* out) const;

  const GroupIndex& index() const { return index_; }
  const VersionRequest& routed(size_t i) const { return routed_[i]; }

 private:
  PickResult PickUncached(
      const std::optional<absl::string_view>& requested) const;
  PickResult PickRoutedUncached(size_t i) const;

  const GroupIndex index_;
  const PickScheduler scheduler_;
  RequestResolver resolver_;
  // Never resized after construction: resolutions point into it.
  const std::vector<VersionRequest> routed_;
  std::vector<Resolution> routed_resolutions_;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_PARTITION_H_
