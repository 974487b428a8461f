#include "balancer/pick_table.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "balancer/weighted_sampler.h"

// Design
// ------
// Build() groups the endpoints by their registered version string (few
// distinct strings, many endpoints), parses each string once, and stores the
// READY endpoints of each group contiguously in `ready`, so that the union of
// the groups a request matches is a sequence of slices. A pick evaluates the
// request against each group (not each endpoint), sums the matching groups'
// counts, draws a position in that union, and walks the groups to find it.
// Requests that match everything (no version, `*`, non-version-aware
// policies) skip the walk: `ready` as a whole is that union.
//
// Each candidate set has its own rotation counter (Impl::counters): the
// whole table, each group, and each cached union of groups; unions that
// cannot be cached share a few striped counters chosen by a hash of their
// groups. One counter for every request would lock a periodic mix of
// requests onto fixed instances: with v1 = {a, b}, v2 = {c, d} and
// alternating v1/v2 calls, v1 would only ever see even counter values.
//
// An address registered under several versions (several live records with
// one address) belongs to each of their groups; `ready` then ends with a
// separate run listing every ready address once, for requests that match
// everything.
//
// Weighted round robin turns the set's counter into a Weyl sequence,
// point k = frac(k / phi), scales it to a position in the union's total
// weight, walks the groups by weight, and looks the position up in the
// group's cumulative weights (weighted_sampler.h), where every endpoint owns
// one contiguous run of positions. The Weyl sequence has the lowest
// discrepancy of any (about log(N)/N), so after N picks each endpoint's count
// is within a few picks of N times its share, and as consecutive points are
// 0.618 apart an endpoint with a share below 38% is never picked twice in a
// row. Unlike gRPC's static stride scheduler (a rejection loop) it needs no
// retries, and unlike EDF it has no shared heap, so it stays lock-free with
// one relaxed add. When every candidate has the same weight it uses the
// round-robin rotation instead, which is the exact answer for equal weights.
//
// Resolution cache
// ----------------
// Parsing the header and matching it against the groups cost several times
// a whole round_robin pick, yet within one table the outcome (which groups,
// or queue, or which failure) depends on the header text alone; only the
// final position in the union changes from pick to pick. So a table keeps
// Resolutions keyed by the raw header text: computed at Build() for "no
// header" and for the version strings of its largest groups (what clients
// usually send), and, for other texts, stored on first use in a few slots
// preallocated at Build() (claimed with one atomic add, published with a
// release store, never changed afterwards: readers need no lock, and a pick
// never allocates). Texts that find no free slot take the full path every
// time, as before; so do resolutions that overflow the candidate list.
namespace vlb::internal {
namespace {

// 2^64 / golden ratio, odd, so k * kWeylStep visits every 64-bit value.
constexpr uint64_t kWeylStep = 0x9e3779b97f4a7c15;

// Bounds the stack list of matching groups a pick keeps between its two
// passes; with more matches the second pass evaluates the request again.
constexpr int kMaxListedGroups = 32;

// Resolutions computed at Build() for group version strings, and slots for
// other header texts (up to kMaxCachedText bytes) seen at pick time.
constexpr size_t kMaxPrecomputed = 8;
constexpr size_t kCacheSlots = 8;
constexpr size_t kMaxCachedText = 64;

// Counters shared by the unions of groups that have none of their own.
constexpr size_t kStripedCounters = 16;

// One candidate set's rotation, on its own cache line: every pick writes
// one, and neither the read-only table nor the other counters should be
// invalidated in other cores' caches by that.
struct alignas(64) RotationCounter {
  std::atomic<uint64_t> value{0};

  uint64_t Next() { return value.fetch_add(1, std::memory_order_relaxed); }
};

uint64_t MulHigh(uint64_t a, uint64_t b) {
  return absl::Uint128High64(absl::uint128(a) * b);
}

uint64_t SplitMix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

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

struct Group {
  std::string version;
  std::optional<SemVer> parsed;  // points into `version`
  uint32_t ready_begin = 0;      // slice of Impl::ready
  uint32_t ready_size = 0;
  // Over the ready endpoints with a non-zero weight.
  WeightedSampler::Table weighted;
  uint32_t connecting = 0;  // IDLE or CONNECTING
  uint32_t failed = 0;      // TRANSIENT_FAILURE
  uint64_t weight = 0;      // of the ready endpoints
  // Whether every ready endpoint has weight `common_weight`.
  bool uniform = true;
  uint32_t common_weight = 0;
};

// What a request matches, gathered in a pick's first pass.
struct Candidates {
  bool all = false;  // every endpoint; `groups` unused
  bool matched = false;
  bool connecting = false;
  bool uniform = true;
  bool have_weight = false;
  uint32_t common_weight = 0;
  uint64_t ready = 0;
  uint64_t weight = 0;
  // Matching groups with ready endpoints, unless `overflow`.
  int num_groups = 0;
  bool overflow = false;
  uint32_t groups[kMaxListedGroups];

  void Add(const Group& g) {
    ready += g.ready_size;
    weight += g.weight;
    connecting |= g.connecting > 0;
    if (g.ready_size == 0) return;
    if (!g.uniform || (have_weight && g.common_weight != common_weight)) {
      uniform = false;
    }
    have_weight = true;
    common_weight = g.common_weight;
  }
};

// What a header resolves to in one table, short of the rotation: the
// candidates to pick from (kPicked) or the outcome (any other kind). Only
// complete lists (no `overflow`) are kept, so Choose() never needs the
// request again.
struct Resolution {
  PickResult::Kind kind = PickResult::Kind::kNoMatch;
  Candidates candidates;
  // The rotation of `candidates` (kPicked only).
  RotationCounter* counter = nullptr;
  // When the pick is a plain rotation over one contiguous run of
  // Impl::ready (every endpoint, or one group): that run, so a pick is an
  // add, a modulo and a load.
  bool rotate_slice = false;
  uint32_t slice_begin = 0;
  uint32_t slice_size = 0;
  // ~0 / slice_size + 1: k % slice_size for 32-bit k is then two
  // multiplications (Lemire's fastmod) instead of a 64-bit division, which
  // alone costs as much as the rest of a pick.
  uint64_t slice_magic = 0;
};

// Header text of at most kMaxCachedText bytes, compared inline: for the
// few bytes of a version a libc memcmp call costs more than the loop.
struct ShortText {
  uint8_t size = 0;
  char data[kMaxCachedText];

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

struct PrecomputedResolution {
  ShortText text;
  Resolution resolution;
};

struct CacheSlot {
  static constexpr int kReady = 1;
  // 0 until `text` and `resolution` are written, then kReady (release).
  std::atomic<int> state{0};
  ShortText text;
  Resolution resolution;
  // The rotation of `resolution` when it is a union of groups.
  RotationCounter own_counter;
};

// An endpoint's membership in a version group.
struct Member {
  uint32_t endpoint;
  uint32_t group;
};

// Sort order of the "available" list: semver precedence where both parse,
// versions before labels, then bytes.
bool VersionLess(const Group& a, const Group& b) {
  if (a.parsed.has_value() != b.parsed.has_value()) {
    return a.parsed.has_value();
  }
  if (a.parsed.has_value()) {
    int c = CompareSemVer(*a.parsed, *b.parsed);
    if (c != 0) return c < 0;
  }
  return a.version < b.version;
}

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

}  // namespace

struct PickTable::Impl {
  PolicyConfig config;
  std::string service;
  std::vector<Group> groups;
  // Group indices by VersionLess, for messages.
  std::vector<uint32_t> sorted_groups;
  // Endpoint indices: the ready members of each group, by group, then (only
  // when some address is in several groups) every ready endpoint once.
  std::vector<uint32_t> ready;
  uint32_t all_begin = 0;  // the run of `ready` holding each ready endpoint
  uint32_t all_size = 0;
  WeightedSampler sampler;
  // Over every ready endpoint of non-zero weight, for requests that match
  // everything.
  WeightedSampler::Table all_weighted;
  Candidates all;
  size_t num_endpoints = 0;
  size_t num_failed = 0;
  // For calls without the header (or not version-aware policies); null when
  // that resolution is not cacheable.
  std::optional<Resolution> no_request;
  std::vector<PrecomputedResolution> precomputed;
  // Rotations: [0] every endpoint, [1 + g] group g, then kStripedCounters
  // shared ones, then one per precomputed resolution. The only state a pick
  // writes, besides claiming cache slots.
  std::unique_ptr<RotationCounter[]> counters;
  size_t num_counters = 0;
  // Slots handed out so far (may exceed kCacheSlots: then none is left).
  alignas(64) mutable std::atomic<size_t> slots_claimed{0};
  mutable CacheSlot slots[kCacheSlots];

  // First pass: which groups match.
  void Collect(const VersionRequest& request, Candidates* c) const {
    for (size_t i = 0; i < groups.size(); ++i) {
      const Group& g = groups[i];
      if (!request.Matches(g.version, g.parsed)) continue;
      c->matched = true;
      c->Add(g);
      if (g.ready_size == 0) continue;
      if (c->num_groups == kMaxListedGroups) {
        c->overflow = true;
      } else {
        c->groups[c->num_groups++] = static_cast<uint32_t>(i);
      }
    }
  }

  // Calls f(group) for each matching group with ready endpoints, in Collect's
  // order, until f returns true.
  template <typename F>
  void ForEachCandidate(const Candidates& c, const VersionRequest* request,
                        F f) const {
    if (!c.overflow) {
      for (int i = 0; i < c.num_groups; ++i) {
        if (f(groups[c.groups[i]])) return;
      }
      return;
    }
    for (const Group& g : groups) {
      if (g.ready_size > 0 && request->Matches(g.version, g.parsed) && f(g)) {
        return;
      }
    }
  }

  // The `index`-th ready endpoint of the union.
  size_t Locate(const Candidates& c, const VersionRequest* request,
                uint64_t index) const {
    if (c.all) return ready[all_begin + index];
    size_t found = 0;
    ForEachCandidate(c, request, [&](const Group& g) {
      if (index < g.ready_size) {
        found = ready[g.ready_begin + index];
        return true;
      }
      index -= g.ready_size;
      return false;
    });
    return found;
  }

  size_t PickWeighted(const Candidates& c, const VersionRequest* request,
                      RotationCounter* counter) const {
    // Scaling the Weyl point (a 64-bit fraction) to the union's weight keeps
    // it equidistributed over the integer positions, within 2^-64.
    uint64_t position = MulHigh(counter->Next() * kWeylStep, c.weight);
    if (c.all) return sampler.Find(all_weighted, position);
    size_t found = 0;
    ForEachCandidate(c, request, [&](const Group& g) {
      if (position >= g.weight) {
        position -= g.weight;
        return false;
      }
      found = sampler.Find(g.weighted, position);
      return true;
    });
    return found;
  }

  // Requires c.ready > 0.
  size_t Choose(const Candidates& c, const VersionRequest* request,
                RotationCounter* counter) const {
    switch (config.child) {
      case ChildPolicy::kRandom:
        return Locate(c, request, MulHigh(NextRandom(), c.ready));
      case ChildPolicy::kWeightedRoundRobin:
        // Equal weights, or only drained endpoints left: plain rotation.
        if (!c.uniform && c.weight > 0) {
          return PickWeighted(c, request, counter);
        }
        break;
      case ChildPolicy::kRoundRobin:
        break;
    }
    return Locate(c, request, counter->Next() % c.ready);
  }

  // The rotation of a candidate set: its own for every endpoint or one
  // group, a striped one (by the groups it lists) for a union.
  RotationCounter* CounterFor(const Candidates& c) const {
    if (c.all) return &counters[0];
    if (c.num_groups == 1 && !c.overflow) return &counters[1 + c.groups[0]];
    uint64_t hash = c.ready;
    for (int i = 0; i < c.num_groups; ++i) {
      hash = SplitMix64(hash ^ c.groups[i]);
    }
    return &counters[1 + groups.size() + hash % kStripedCounters];
  }

  // Gives a cached union of groups `own` as its rotation, so that two
  // unions never share one.
  static void UseOwnCounterForUnion(Resolution* r, RotationCounter* own) {
    const Candidates& c = r->candidates;
    if (r->kind == PickResult::Kind::kPicked && !c.all && c.num_groups > 1) {
      r->counter = own;
    }
  }

  // Every endpoint when `request` is null or "*"; otherwise the groups it
  // matches, collected into `local`.
  const Candidates* CandidatesFor(const VersionRequest* request,
                                  Candidates* local) const {
    if (request == nullptr || request->IsAny()) return &all;
    Collect(*request, local);
    return local;
  }

  // Picks for one request (or for everything when `request` is null or
  // matches everything). Returns false when it has neither ready nor
  // connecting endpoints, so the caller moves on to the next fallback.
  bool TryRequest(const VersionRequest* request, bool* matched,
                  PickResult* result) const {
    Candidates local;
    const Candidates* c = CandidatesFor(request, &local);
    *matched |= c->matched;
    if (c->ready > 0) {
      result->kind = PickResult::Kind::kPicked;
      result->endpoint = Choose(*c, request, CounterFor(*c));
      return true;
    }
    if (c->connecting) {
      result->kind = PickResult::Kind::kQueue;
      return true;
    }
    return false;
  }

  // Like TryRequest, but keeps the candidates instead of choosing. Sets
  // `*complete` to false when they overflowed.
  bool Evaluate(const VersionRequest* request, bool* matched, Resolution* out,
                bool* complete) const {
    Candidates local;
    const Candidates* c = CandidatesFor(request, &local);
    *matched |= c->matched;
    if (c->ready > 0) {
      out->kind = PickResult::Kind::kPicked;
      out->candidates = *c;
      *complete = !c->overflow;
      return true;
    }
    if (c->connecting) {
      out->kind = PickResult::Kind::kQueue;
      return true;
    }
    return false;
  }

  // The whole of Pick() but the rotation, for the effective request
  // (nullptr: none). Returns false if the result cannot be cached.
  bool Resolve(const VersionRequest* request, Resolution* out) const {
    bool matched = false;
    bool complete = true;
    bool found = Evaluate(request, &matched, out, &complete);
    if (!found && request != nullptr) {
      for (const VersionRequest& fallback : config.fallback) {
        found = Evaluate(&fallback, &matched, out, &complete);
        if (found) break;
      }
    }
    if (!found) {
      out->kind =
          matched ? PickResult::Kind::kUnreachable : PickResult::Kind::kNoMatch;
    }
    if (!complete) return false;
    if (out->kind == PickResult::Kind::kPicked) {
      out->counter = CounterFor(out->candidates);
    }
    FindSlice(out);
    return true;
  }

  // Sets out->rotate_slice where Choose() would rotate over one run.
  void FindSlice(Resolution* out) const {
    const Candidates& c = out->candidates;
    out->rotate_slice = false;
    if (out->kind != PickResult::Kind::kPicked) return;
    const bool rotates = config.child == ChildPolicy::kRoundRobin ||
                         (config.child == ChildPolicy::kWeightedRoundRobin &&
                          (c.uniform || c.weight == 0));
    if (!rotates) return;
    if (c.all) {
      out->slice_begin = all_begin;
      out->slice_size = all_size;
    } else if (c.num_groups == 1) {
      out->slice_begin = groups[c.groups[0]].ready_begin;
      out->slice_size = groups[c.groups[0]].ready_size;
    } else {
      return;
    }
    out->rotate_slice = out->slice_size > 0;
    if (out->rotate_slice)
      out->slice_magic = ~uint64_t{0} / out->slice_size + 1;
  }

  // The request a call without a usable header stands for.
  const VersionRequest* DefaultRequest() const {
    if (!config.version_aware || !config.default_version.has_value()) {
      return nullptr;
    }
    return &*config.default_version;
  }

  const Resolution* Cached(absl::string_view raw) const {
    for (const PrecomputedResolution& p : precomputed) {
      if (p.text.Equals(raw)) return &p.resolution;
    }
    const size_t used =
        std::min(slots_claimed.load(std::memory_order_relaxed), kCacheSlots);
    for (size_t i = 0; i < used; ++i) {
      const CacheSlot& slot = slots[i];
      if (slot.state.load(std::memory_order_acquire) == CacheSlot::kReady &&
          slot.text.Equals(raw)) {
        return &slot.resolution;
      }
    }
    return nullptr;
  }

  void Remember(absl::string_view raw, const Resolution& resolution) const {
    if (raw.size() > kMaxCachedText ||
        slots_claimed.load(std::memory_order_relaxed) >= kCacheSlots) {
      return;
    }
    const size_t i = slots_claimed.fetch_add(1, std::memory_order_relaxed);
    if (i >= kCacheSlots) return;
    CacheSlot& slot = slots[i];
    slot.text.Set(raw);
    slot.resolution = resolution;
    UseOwnCounterForUnion(&slot.resolution, &slot.own_counter);
    slot.state.store(CacheSlot::kReady, std::memory_order_release);
  }

  PickResult Finish(const Resolution& r) const {
    PickResult result;
    result.kind = r.kind;
    if (r.rotate_slice) {
      // Only the low 32 bits of the counter rotate: when they wrap, once in
      // 2^32 picks, the rotation skips ahead once.
      const auto k = static_cast<uint32_t>(r.counter->Next());
      result.endpoint =
          ready[r.slice_begin + MulHigh(r.slice_magic * k, r.slice_size)];
    } else if (r.kind == PickResult::Kind::kPicked) {
      result.endpoint = Choose(r.candidates, nullptr, r.counter);
    }
    return result;
  }

  bool GroupMatches(const Group& g, const VersionRequest* request) const {
    return request == nullptr || request->Matches(g.version, g.parsed);
  }

  // Build() steps, in order.
  void AssignGroups(const std::vector<EndpointInfo>& endpoints,
                    std::vector<Member>* members);
  void LayOutReady(const std::vector<EndpointInfo>& endpoints,
                   const std::vector<Member>& members);
  WeightedSampler::Table AddWeightedTable(
      const std::vector<EndpointInfo>& endpoints, uint32_t begin,
      uint32_t size);
  void WeighGroups(const std::vector<EndpointInfo>& endpoints);
  void SortGroups();
  void SeedCounters(uint64_t seed);
  void Precompute();

  std::string Available() const {
    if (sorted_groups.empty()) return "none";
    std::string out;
    for (uint32_t i : sorted_groups) {
      if (!out.empty()) out += ", ";
      const std::string& v = groups[i].version;
      out += v.empty() ? "\"\"" : absl::CHexEscape(v);
    }
    return out;
  }
};

PickTable::~PickTable() = default;

// Build(), step by step.
namespace {

// The distinct versions of `e`; an unversioned endpoint has the version "".
absl::InlinedVector<absl::string_view, 2> VersionsOf(const EndpointInfo& e) {
  absl::InlinedVector<absl::string_view, 2> out;
  for (const std::string& v : e.versions) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  if (out.empty()) out.push_back("");
  return out;
}

void CountState(EndpointState state, Group* group) {
  switch (state) {
    case EndpointState::kReady:
      ++group->ready_size;
      break;
    case EndpointState::kIdle:
    case EndpointState::kConnecting:
      ++group->connecting;
      break;
    case EndpointState::kTransientFailure:
      ++group->failed;
      break;
  }
}

}  // namespace

void PickTable::Impl::AssignGroups(const std::vector<EndpointInfo>& endpoints,
                                   std::vector<Member>* members) {
  // Registries tend to list instances of one version together, so compare
  // with the previous endpoint's version before hashing.
  absl::flat_hash_map<absl::string_view, uint32_t> index;
  absl::string_view last_version;
  uint32_t last_group = 0;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    for (absl::string_view version : VersionsOf(endpoints[i])) {
      uint32_t g = last_group;
      if (groups.empty() || version != last_version) {
        auto [it, inserted] =
            index.try_emplace(version, static_cast<uint32_t>(groups.size()));
        if (inserted) groups.emplace_back().version = std::string(version);
        g = it->second;
      }
      last_version = version;
      last_group = g;
      members->push_back(Member{static_cast<uint32_t>(i), g});
      CountState(endpoints[i].state, &groups[g]);
    }
    if (endpoints[i].state == EndpointState::kTransientFailure) ++num_failed;
  }
}

void PickTable::Impl::LayOutReady(const std::vector<EndpointInfo>& endpoints,
                                  const std::vector<Member>& members) {
  uint32_t next = 0;
  for (Group& g : groups) {
    // Only now: `version` no longer moves, so `parsed` may point into it.
    g.parsed = ParseSemVer(g.version);
    g.ready_begin = next;
    next += g.ready_size;
  }
  ready.resize(next);
  std::vector<uint32_t> cursor(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) cursor[g] = groups[g].ready_begin;
  for (const Member& m : members) {
    if (endpoints[m.endpoint].state == EndpointState::kReady) {
      ready[cursor[m.group]++] = m.endpoint;
    }
  }
  all_begin = 0;
  all_size = next;
  if (members.size() == endpoints.size()) return;  // one group each
  all_begin = next;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (endpoints[i].state == EndpointState::kReady) {
      ready.push_back(static_cast<uint32_t>(i));
    }
  }
  all_size = static_cast<uint32_t>(ready.size()) - all_begin;
}

WeightedSampler::Table PickTable::Impl::AddWeightedTable(
    const std::vector<EndpointInfo>& endpoints, uint32_t begin, uint32_t size) {
  std::vector<uint32_t> items;
  std::vector<uint64_t> weights;
  for (uint32_t k = begin; k < begin + size; ++k) {
    const uint32_t w = endpoints[ready[k]].weight;
    if (w == 0) continue;
    items.push_back(ready[k]);
    weights.push_back(w);
  }
  return sampler.Add(items, weights);
}

// Weights of each group's ready run, and of the run of all endpoints.
void PickTable::Impl::WeighGroups(const std::vector<EndpointInfo>& endpoints) {
  auto weigh = [&](uint32_t begin, uint32_t size, bool* uniform,
                   uint32_t* common, uint64_t* total) {
    for (uint32_t k = begin; k < begin + size; ++k) {
      const uint32_t w = endpoints[ready[k]].weight;
      if (k == begin) *common = w;
      *uniform &= w == *common;
      *total += w;
    }
  };
  for (Group& g : groups) {
    weigh(g.ready_begin, g.ready_size, &g.uniform, &g.common_weight, &g.weight);
    g.weighted = AddWeightedTable(endpoints, g.ready_begin, g.ready_size);
  }
  all.all = true;
  all.matched = !groups.empty();
  all.ready = all_size;
  for (const EndpointInfo& e : endpoints) {
    all.connecting |= e.state == EndpointState::kIdle ||
                      e.state == EndpointState::kConnecting;
  }
  bool uniform = true;
  weigh(all_begin, all_size, &uniform, &all.common_weight, &all.weight);
  all.uniform = uniform;
  all.have_weight = all_size > 0;
  all_weighted = AddWeightedTable(endpoints, all_begin, all_size);
}

void PickTable::Impl::SortGroups() {
  sorted_groups.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    sorted_groups[g] = static_cast<uint32_t>(g);
  }
  std::sort(sorted_groups.begin(), sorted_groups.end(),
            [&](uint32_t a, uint32_t b) {
              return VersionLess(groups[a], groups[b]);
            });
}

// Every rotation starts at its own point derived from `seed`.
void PickTable::Impl::SeedCounters(uint64_t seed) {
  num_counters = 1 + groups.size() + kStripedCounters + kMaxPrecomputed;
  counters = std::make_unique<RotationCounter[]>(num_counters);
  for (size_t i = 0; i < num_counters; ++i) {
    counters[i].value.store(SplitMix64(seed + i), std::memory_order_relaxed);
  }
  for (size_t i = 0; i < kCacheSlots; ++i) {
    slots[i].own_counter.value.store(SplitMix64(~seed - i),
                                     std::memory_order_relaxed);
  }
}

// Resolutions known in advance: no header, and the version strings of the
// largest groups, which is what clients usually ask for.
void PickTable::Impl::Precompute() {
  Resolution resolution;
  if (Resolve(DefaultRequest(), &resolution)) no_request = resolution;
  if (!config.version_aware) return;
  std::vector<uint32_t> by_size(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    by_size[g] = static_cast<uint32_t>(g);
  }
  auto size_of = [&](uint32_t g) {
    return groups[g].ready_size + groups[g].connecting + groups[g].failed;
  };
  std::stable_sort(by_size.begin(), by_size.end(), [&](uint32_t a, uint32_t b) {
    return size_of(a) > size_of(b);
  });
  VersionRequest request;
  RotationCounter* own = &counters[1 + groups.size() + kStripedCounters];
  for (uint32_t g : by_size) {
    if (precomputed.size() == kMaxPrecomputed) break;
    const std::string& text = groups[g].version;
    // Texts Pick() would trim or reject take its full path.
    if (text.empty() || text.size() > kMaxCachedText ||
        absl::StripAsciiWhitespace(text) != text ||
        !VersionRequest::TryParse(text, &request) ||
        !Resolve(&request, &resolution)) {
      continue;
    }
    PrecomputedResolution& p = precomputed.emplace_back();
    p.text.Set(text);
    p.resolution = resolution;
    UseOwnCounterForUnion(&p.resolution, own + (precomputed.size() - 1));
  }
}

std::unique_ptr<PickTable> PickTable::Build(
    const std::vector<EndpointInfo>& endpoints, const PolicyConfig& config,
    std::string service, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->service = std::move(service);
  impl->num_endpoints = endpoints.size();
  std::vector<Member> members;
  members.reserve(endpoints.size());
  impl->AssignGroups(endpoints, &members);
  impl->LayOutReady(endpoints, members);
  impl->WeighGroups(endpoints);
  impl->SortGroups();
  impl->SeedCounters(seed);
  impl->Precompute();
  std::unique_ptr<PickTable> table(new PickTable());
  table->impl_ = std::move(impl);
  return table;
}

PickResult PickTable::Pick(std::optional<absl::string_view> requested) const {
  const Impl& t = *impl_;
  const PolicyConfig& config = t.config;
  if (!config.version_aware || !requested.has_value()) {
    if (t.no_request.has_value()) return t.Finish(*t.no_request);
  } else if (const Resolution* cached = t.Cached(*requested)) {
    return t.Finish(*cached);
  }

  PickResult result;
  bool matched = false;
  if (!config.version_aware) {
    if (t.TryRequest(nullptr, &matched, &result)) return result;
    result.kind =
        matched ? PickResult::Kind::kUnreachable : PickResult::Kind::kNoMatch;
    return result;
  }

  // Parsed in place: the request is a fixed-size object on the stack.
  VersionRequest parsed;
  const VersionRequest* request = nullptr;
  absl::string_view text =
      requested.has_value() ? absl::StripAsciiWhitespace(*requested) : "";
  if (!text.empty()) {
    if (!VersionRequest::TryParse(text, &parsed)) {
      result.kind = PickResult::Kind::kBadRequest;
      Resolution bad;
      bad.kind = result.kind;
      t.Remember(*requested, bad);
      return result;
    }
    request = &parsed;
  } else if (t.no_request.has_value()) {
    return t.Finish(*t.no_request);
  } else {
    request = t.DefaultRequest();
  }

  if (requested.has_value() && request == &parsed) {
    Resolution resolution;
    if (t.Resolve(request, &resolution)) {
      t.Remember(*requested, resolution);
      return t.Finish(resolution);
    }
  }
  if (t.TryRequest(request, &matched, &result)) return result;
  // Without a request every endpoint was a candidate, so fallbacks, which
  // can only narrow that, have nothing to add.
  if (request != nullptr) {
    for (const VersionRequest& fallback : config.fallback) {
      if (t.TryRequest(&fallback, &matched, &result)) return result;
    }
  }
  result.kind =
      matched ? PickResult::Kind::kUnreachable : PickResult::Kind::kNoMatch;
  return result;
}

absl::Status PickTable::FailureStatus(
    const PickResult& result,
    std::optional<absl::string_view> requested) const {
  const Impl& t = *impl_;
  const PolicyConfig& config = t.config;
  absl::string_view text =
      requested.has_value() ? absl::StripAsciiWhitespace(*requested) : "";

  if (result.kind == PickResult::Kind::kBadRequest) {
    absl::StatusOr<VersionRequest> parsed = VersionRequest::Parse(text);
    if (parsed.ok()) {
      return absl::InternalError(
          absl::StrCat("version request ", Quote(text), " for ", t.service,
                       " was reported invalid but parses"));
    }
    // Parse's message repeats the request; say it once, with the service.
    absl::string_view detail = parsed.status().message();
    std::string prefix =
        absl::StrCat("invalid version request ", Quote(text), ": ");
    if (absl::StartsWith(detail, prefix)) detail.remove_prefix(prefix.size());
    return absl::InvalidArgumentError(absl::StrCat("invalid version request ",
                                                   Quote(text), " for ",
                                                   t.service, ": ", detail));
  }
  if (result.kind != PickResult::Kind::kNoMatch &&
      result.kind != PickResult::Kind::kUnreachable) {
    return absl::InternalError(
        "PickTable::FailureStatus called for a pick that did not fail");
  }

  // Rebuild what Pick() saw: the effective request and its fallbacks.
  VersionRequest parsed;
  const VersionRequest* request = nullptr;
  bool defaulted = false;
  if (config.version_aware) {
    if (!text.empty()) {
      if (VersionRequest::TryParse(text, &parsed)) request = &parsed;
    } else if (config.default_version.has_value()) {
      request = &*config.default_version;
      defaulted = true;
    }
  }
  std::string subject;
  if (request != nullptr) {
    subject = absl::StrCat(defaulted ? "default version " : "version ",
                           Quote(request->text()));
  }
  std::vector<const VersionRequest*> tried;
  if (request != nullptr) {
    tried.push_back(request);
    for (const VersionRequest& f : config.fallback) tried.push_back(&f);
  }

  std::vector<std::string> notes;
  if (config.version_aware && text.empty()) {
    notes.push_back("no version requested");
  }
  std::string message;
  if (result.kind == PickResult::Kind::kNoMatch) {
    message =
        request != nullptr
            ? absl::StrCat("no instance of ", t.service, " matches ", subject)
            : absl::StrCat("no instance of ", t.service, " is available");
    if (config.version_aware) {
      notes.push_back(absl::StrCat("available: ", t.Available()));
    }
  } else {
    size_t failed = 0;
    if (request == nullptr) {
      failed = t.num_failed;
    } else {
      for (const Group& g : t.groups) {
        bool hit = false;
        for (const VersionRequest* r : tried) hit |= t.GroupMatches(g, r);
        if (hit) failed += g.failed;
      }
    }
    message =
        request != nullptr
            ? absl::StrCat("instances of ", t.service, " matching ", subject,
                           " are unreachable")
            : absl::StrCat("instances of ", t.service, " are unreachable");
    notes.push_back(absl::StrCat(failed, " in TRANSIENT_FAILURE"));
  }
  if (request != nullptr && !config.fallback.empty()) {
    std::vector<absl::string_view> names;
    for (const VersionRequest& f : config.fallback) names.push_back(f.text());
    notes.push_back(
        absl::StrCat("fallback tried: ", absl::StrJoin(names, ", ")));
  }
  if (!notes.empty()) {
    absl::StrAppend(&message, " (", absl::StrJoin(notes, "; "), ")");
  }
  return absl::UnavailableError(message);
}

EndpointState PickTable::AggregateState() const {
  const Candidates& all = impl_->all;
  if (all.ready > 0) return EndpointState::kReady;
  if (all.connecting) return EndpointState::kConnecting;
  return EndpointState::kTransientFailure;
}

size_t PickTable::ready_count() const { return impl_->all.ready; }

}  // namespace vlb::internal
