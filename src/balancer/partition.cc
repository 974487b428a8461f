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
    std::optional<absl::string_view> requested) const {
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

PickResult Partition::Members(std::optional<absl::string_view> requested,
                              std::optional<size_t> routed,
                              std::vector<uint32_t>* out) const {
  VersionRequest parsed;
  Resolution local;
  const Resolution* r = nullptr;
  if (routed.has_value()) {
    r = &routed_resolutions_[*routed];
    if (!r->Cacheable()) {
      resolver_.ResolveRequest(&routed_[*routed], PickResult::Source::kRoute,
                               &local);
      r = &local;
    }
  } else {
    r = resolver_.Lookup(requested);
    if (r == nullptr) r = resolver_.Resolve(requested, &parsed, &local);
  }
  if (r->outcome.kind != PickResult::Kind::kPicked) return r->outcome;
  if (r->slice.size > 0) {
    out->assign(r->slice.endpoints, r->slice.endpoints + r->slice.size);
  } else {
    for (uint64_t i = 0; i < r->candidates.ready; ++i) {
      out->push_back(index_.Locate(r->candidates, r->matched_by, i));
    }
  }
  return r->outcome;
}

}  // namespace vlb::internal
