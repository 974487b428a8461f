#include "balancer/partition.h"

#include <optional>
#include <vector>

namespace vlb::internal {

Partition::Partition(const std::vector<EndpointInfo>& endpoints,
                     const PolicyConfig& config, uint64_t seed,
                     const std::vector<VersionRequest>& routed)
    : index_(endpoints),
      scheduler_(config.child, index_, seed, ResolutionCache::kMaxPrecomputed),
      resolver_(config, index_, scheduler_, seed),
      routed_(routed),
      routed_resolutions_(routed_.size()) {
  resolver_.Precompute();
  for (size_t i = 0; i < routed_.size(); ++i) {
    resolver_.ResolveRequest(&routed_[i], PickResult::Source::kRoute,
                             &routed_resolutions_[i]);
  }
}

// Out of the fast path's frame: the parsed request is about 1.3 KB.
PickResult Partition::PickUncached(
    const std::optional<absl::string_view>& requested) const {
  VersionRequest parsed;
  Resolution resolution;
  return Finish(*resolver_.Resolve(requested, &parsed, &resolution));
}

// A routed request whose candidates overflow the cacheable list is resolved
// again on each pick (still without allocating).
PickResult Partition::PickRoutedUncached(size_t i) const {
  Resolution resolution;
  resolver_.ResolveRequest(&routed_[i], PickResult::Source::kRoute,
                           &resolution);
  return Finish(resolution);
}

void Partition::Members(const Resolution& r, std::vector<uint32_t>* out) const {
  if (r.outcome.kind != PickResult::Kind::kPicked) return;
  if (r.slice.size > 0) {
    out->insert(out->end(), r.slice.endpoints,
                r.slice.endpoints + r.slice.size);
    return;
  }
  for (uint64_t i = 0; i < r.candidates.ready; ++i) {
    out->push_back(index_.Locate(r.candidates, r.matched_by, i));
  }
}

}  // namespace vlb::internal
