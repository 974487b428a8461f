// The endpoints of one pick table grouped by registered version: which
// groups a request matches (Collect), and which endpoint sits at a position
// in the union of those groups (Locate, LocateWeighted).
//
// Built once per table from the endpoint list, then read-only: const
// methods are safe from any number of threads, take no lock and allocate
// nothing, except Available() and GroupsByEndpointCount() (failure path and
// Build() only). Building costs O(endpoints) plus a hash per distinct
// version string.
//
// Layout: few distinct version strings, many endpoints. Each string is one
// Group, parsed once; the READY endpoints of each group are stored
// contiguously in one array, so the union of the groups a request matches
// is a sequence of slices. An address registered under several versions
// belongs to each of their groups; the array then ends with a separate run
// listing every ready address once, for requests that match everything.
// Each group also has a cumulative-weight table (weighted_sampler.h) over
// its ready endpoints of non-zero weight.
//
// Drain: each group's slice lists its undrained ready endpoints first, so
// the undrained ones are a prefix (Group::live) of the whole (Group::any),
// each with its own weights. A candidate set uses the live prefixes of its
// groups, or their whole slices (Candidates::drained) when those are all
// empty: a drained endpoint gets calls only when nothing else can take them.
//
// Collect() is the one place a request is matched against groups. Lanes
// (issue 10) plug in there: a lane filter next to the request, and groups
// keyed by (version, lane) instead of version.
#ifndef VLB_SRC_BALANCER_GROUP_INDEX_H_
#define VLB_SRC_BALANCER_GROUP_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "balancer/endpoint_info.h"
#include "balancer/version.h"
#include "balancer/weighted_sampler.h"

namespace vlb::internal {

// Bounds the list of matching groups a candidate set keeps; with more, the
// set is marked `overflow` and walking it evaluates the request again.
inline constexpr int kMaxListedGroups = 32;

// A prefix of a group's ready slice and its weights.
struct ReadyPart {
  uint32_t size = 0;
  uint64_t weight = 0;  // total
  // Whether every endpoint of the part has weight `common_weight`.
  bool uniform = true;
  uint32_t common_weight = 0;
  // Over the part's endpoints with a non-zero weight.
  WeightedSampler::Table weighted;
};

struct Group {
  std::string version;
  std::optional<SemVer> parsed;  // points into `version`
  uint32_t ready_begin = 0;      // slice of the ready array
  ReadyPart live;                // the undrained ready endpoints, first
  ReadyPart any;                 // every ready endpoint
  uint32_t connecting = 0;       // IDLE or CONNECTING
  uint32_t failed = 0;           // TRANSIENT_FAILURE

  // The part a candidate set with this `drained` flag uses.
  const ReadyPart& part(bool drained) const { return drained ? any : live; }
};

// What a request matches: the candidate set a scheduler picks from.
// Trivially copyable, about 170 bytes; lives on the stack or in a cached
// resolution.
// Its counts are of the parts it uses (Group::part(drained)).
struct Candidates {
  bool all = false;  // every endpoint; `groups` unused
  bool matched = false;
  bool connecting = false;
  // Every ready candidate is drained, so the drained ones are used.
  bool drained = false;
  bool uniform = true;
  bool have_weight = false;
  uint32_t common_weight = 0;
  uint64_t ready = 0;
  uint64_t weight = 0;
  // Matching groups whose used part is not empty, unless `overflow`.
  int num_groups = 0;
  bool overflow = false;
  uint32_t groups[kMaxListedGroups];

  // Adds group `index`, of which the set uses `part`.
  void Add(const Group& g, const ReadyPart& part, uint32_t index);
};

class GroupIndex {
 public:
  explicit GroupIndex(const std::vector<EndpointInfo>& endpoints);
  GroupIndex(const GroupIndex&) = delete;
  GroupIndex& operator=(const GroupIndex&) = delete;

  // Adds to `*out` (default-constructed) the groups `request` matches; every
  // endpoint when `request` is null or matches everything ("*"). One pass
  // over the groups.
  void Collect(const VersionRequest* request, Candidates* out) const;

  // The `index`-th ready endpoint of `c` (index < c.ready). `request` is the
  // one that collected `c`; it is evaluated again only when c.overflow.
  // Inline for sets of every endpoint (a load).
  uint32_t Locate(const Candidates& c, const VersionRequest* request,
                  uint64_t index) const {
    if (c.all) return ready_[all_begin_ + index];
    return LocateInGroups(c, request, index);
  }
  // The endpoint owning `position` (< c.weight) when each ready endpoint of
  // `c` owns as many positions as its weight.
  uint32_t LocateWeighted(const Candidates& c, const VersionRequest* request,
                          uint64_t position) const;

  // The endpoints in TRANSIENT_FAILURE in the groups that `request` or any
  // of `fallbacks` matches (an endpoint counts once per group it is in).
  uint32_t FailedMatching(const VersionRequest& request,
                          absl::Span<const VersionRequest> fallbacks) const;

  // "v1, v2, canary" (semver order, then labels, C-escaped; "" for an
  // unversioned group), or "none". For failure messages; allocates.
  std::string Available() const;
  // Group indices, largest (ready + connecting + failed) first; ties keep
  // first-seen order. For Build(); allocates.
  std::vector<uint32_t> GroupsByEndpointCount() const;

  const Group& group(uint32_t g) const { return groups_[g]; }
  size_t num_groups() const { return groups_.size(); }
  // The ready array from position `begin`: group slices, then (see above)
  // every ready endpoint. Stable for the index's lifetime.
  const uint32_t* ready_run(uint32_t begin) const {
    return ready_.data() + begin;
  }
  // Every endpoint, as Collect(nullptr) would give it.
  const Candidates& all() const { return all_; }
  uint32_t all_begin() const { return all_begin_; }
  // Distinct ready endpoints, drained or not.
  uint32_t all_size() const { return all_size_; }
  // The run of every ready endpoint that all() uses: the undrained ones,
  // unless every ready endpoint is drained.
  uint32_t all_used_size() const {
    return all_.drained ? all_size_ : all_live_;
  }
  // Distinct endpoints in TRANSIENT_FAILURE.
  uint32_t num_failed() const { return num_failed_; }

 private:
  struct Member;  // an endpoint's membership in a group

  uint32_t LocateInGroups(const Candidates& c, const VersionRequest* request,
                          uint64_t index) const;

  // Calls f(group) for each matching group with ready endpoints, in
  // Collect's order, until f returns true.
  template <typename F>
  void ForEachCandidate(const Candidates& c, const VersionRequest* request,
                        F f) const;

  // Construction steps, in order.
  void AssignGroups(const std::vector<EndpointInfo>& endpoints,
                    std::vector<Member>* members);
  void LayOutReady(const std::vector<EndpointInfo>& endpoints,
                   const std::vector<Member>& members);
  WeightedSampler::Table AddWeightedTable(
      const std::vector<EndpointInfo>& endpoints, uint32_t begin,
      uint32_t size);
  void WeighGroups(const std::vector<EndpointInfo>& endpoints);
  void SummarizeAll(const std::vector<EndpointInfo>& endpoints);
  ReadyPart SummarizePart(const std::vector<EndpointInfo>& endpoints,
                          uint32_t begin, uint32_t size);
  void SortGroups();

  std::vector<Group> groups_;
  // Group indices in "available" order, for messages.
  std::vector<uint32_t> sorted_groups_;
  // Endpoint indices: the ready members of each group, by group, then (only
  // when some address is in several groups) every ready endpoint once.
  std::vector<uint32_t> ready_;
  uint32_t all_begin_ = 0;  // the run of `ready_` holding each ready endpoint
  uint32_t all_size_ = 0;
  uint32_t all_live_ = 0;  // the undrained ones, first in the run
  WeightedSampler sampler_;
  // Over the run's ready endpoints of non-zero weight: the undrained ones,
  // and all of them.
  WeightedSampler::Table all_live_weighted_;
  WeightedSampler::Table all_any_weighted_;
  Candidates all_;
  uint32_t num_failed_ = 0;
};

// The lookups run on every pick that is not a plain rotation (pick_scheduler.cc
// calls them); inline, so that they compile into the scheduler's loop.

template <typename F>
inline void GroupIndex::ForEachCandidate(const Candidates& c,
                                         const VersionRequest* request,
                                         F f) const {
  if (!c.overflow) {
    for (int i = 0; i < c.num_groups; ++i) {
      if (f(groups_[c.groups[i]])) return;
    }
    return;
  }
  for (const Group& g : groups_) {
    if (g.part(c.drained).size > 0 && request->Matches(g.version, g.parsed) &&
        f(g)) {
      return;
    }
  }
}

inline uint32_t GroupIndex::LocateInGroups(const Candidates& c,
                                           const VersionRequest* request,
                                           uint64_t index) const {
  uint32_t found = 0;
  ForEachCandidate(c, request, [&](const Group& g) {
    const uint32_t size = g.part(c.drained).size;
    if (index < size) {
      found = ready_[g.ready_begin + index];
      return true;
    }
    index -= size;
    return false;
  });
  return found;
}

inline uint32_t GroupIndex::LocateWeighted(const Candidates& c,
                                           const VersionRequest* request,
                                           uint64_t position) const {
  if (c.all) {
    return sampler_.Find(c.drained ? all_any_weighted_ : all_live_weighted_,
                         position);
  }
  uint32_t found = 0;
  ForEachCandidate(c, request, [&](const Group& g) {
    const ReadyPart& part = g.part(c.drained);
    if (position >= part.weight) {
      position -= part.weight;
      return false;
    }
    found = sampler_.Find(part.weighted, position);
    return true;
  });
  return found;
}

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_GROUP_INDEX_H_
