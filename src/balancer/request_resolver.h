// A call's effective request, and what it resolves to in one pick table:
// the header text is trimmed and parsed (invalid: kBadRequest); a call that
// names no version stands for the policy's default version, or for every
// instance; when nothing ready or connecting matches, the policy's
// fallbacks are tried in order. The result is a Resolution
// (resolution_cache.h): everything about the pick but the rotation. The
// resolver keeps the table's resolution cache in front of this work.
//
// Header text is one way to obtain a request. ResolveRequest() takes an
// already-parsed one; issue 10's route rules (a compiled rule set mapping
// requested version, call metadata and caller identity to one of several
// precompiled requests) run before it and call it with the rule's request,
// caching by rule outcome rather than by header text.
//
// Which texts are precomputed: no header, and the version strings of the
// largest groups, which is what clients usually send.
//
// Thread-safety: constructed and Precompute()d while the table is built;
// then const methods from any number of threads, lock-free and
// allocation-free. Cost: Lookup() is a few short compares; Resolve() is a
// parse plus one pass over the groups per request tried.
#ifndef VLB_SRC_BALANCER_REQUEST_RESOLVER_H_
#define VLB_SRC_BALANCER_REQUEST_RESOLVER_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "balancer/group_index.h"
#include "balancer/pick_result.h"
#include "balancer/pick_scheduler.h"
#include "balancer/policy_config.h"
#include "balancer/resolution_cache.h"
#include "balancer/version.h"

namespace vlb::internal {

class RequestResolver {
 public:
  // Keeps references to `config`, `index` and `scheduler`, which must
  // outlive it. `seed` seeds the cache's rotation counters.
  RequestResolver(const PolicyConfig& config, const GroupIndex& index,
                  const PickScheduler& scheduler, uint64_t seed);
  RequestResolver(const RequestResolver&) = delete;
  RequestResolver& operator=(const RequestResolver&) = delete;

  // Fills the cache's precomputed entries. Once, before any other call.
  void Precompute();

  // The cached resolution for a call whose header value is `requested`
  // (nullopt: no header), or null. Inline: the start of every pick.
  const Resolution* Lookup(
      const std::optional<absl::string_view>& requested) const {
    if (!version_aware_ || !requested.has_value()) {
      return has_no_request_ ? &no_request_ : nullptr;
    }
    return cache_.Find(*requested);
  }

  // What Lookup() did not find: resolves `requested` and remembers the
  // outcome when it can. Returns `out` (default-constructed by the caller)
  // or a cached resolution. `*scratch` holds the parsed header, which the
  // result may point to, while the result is in use.
  const Resolution* Resolve(const std::optional<absl::string_view>& requested,
                            VersionRequest* scratch, Resolution* out) const;

  // Resolves an effective request (null: none, every instance) obtained
  // from `source`: the request, then the fallbacks, into `*out`
  // (default-constructed). Not cached; `*request` must outlive the result.
  void ResolveRequest(const VersionRequest* request, PickResult::Source source,
                      Resolution* out) const;

 private:
  // The request a call without a usable header stands for (null: none).
  const VersionRequest* DefaultRequest() const;
  // Collects one request's candidates; true if they decide the pick (some
  // ready: kPicked, else some connecting: kQueue).
  bool Evaluate(const VersionRequest* request, bool* matched,
                Resolution* out) const;
  // Nothing ready or connecting for `request` nor its fallbacks.
  void RecordFailure(const VersionRequest* request, bool matched,
                     PickResult* outcome) const;

  const PolicyConfig& config_;
  const bool version_aware_;
  const GroupIndex& index_;
  const PickScheduler& scheduler_;
  ResolutionCache cache_;
  // For calls without the header (and every call of a policy that is not
  // version-aware), when that resolution is cacheable.
  bool has_no_request_ = false;
  Resolution no_request_;
};

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_REQUEST_RESOLVER_H_
