#include "balancer/group_index.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {
namespace {

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

// The distinct versions of `e`; an unversioned endpoint has the version "".
absl::InlinedVector<absl::string_view, 2> VersionsOf(const EndpointInfo& e) {
  absl::InlinedVector<absl::string_view, 2> out;
  for (const std::string& v : e.versions) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  if (out.empty()) out.push_back("");
  return out;
}

void CountState(const EndpointInfo& e, Group* group) {
  switch (e.state) {
    case EndpointState::kReady:
      ++group->any.size;
      if (!e.drained) ++group->live.size;
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

bool Matches(const VersionRequest& request, const Group& g) {
  return request.Matches(g.version, g.parsed);
}

bool IsLive(const EndpointInfo& e) {
  return e.state == EndpointState::kReady && !e.drained;
}

}  // namespace

void Candidates::Add(const Group& g, const ReadyPart& part, uint32_t index) {
  matched = true;
  ready += part.size;
  weight += part.weight;
  connecting |= g.connecting > 0;
  if (part.size == 0) return;
  if (!part.uniform || (have_weight && part.common_weight != common_weight)) {
    uniform = false;
  }
  have_weight = true;
  common_weight = part.common_weight;
  if (num_groups == kMaxListedGroups) {
    overflow = true;
  } else {
    groups[num_groups++] = index;
  }
}

struct GroupIndex::Member {
  uint32_t endpoint;
  uint32_t group;
};

GroupIndex::GroupIndex(const std::vector<EndpointInfo>& endpoints) {
  std::vector<Member> members;
  members.reserve(endpoints.size());
  AssignGroups(endpoints, &members);
  LayOutReady(endpoints, members);
  WeighGroups(endpoints);
  SummarizeAll(endpoints);
  SortGroups();
}

void GroupIndex::Collect(const VersionRequest* request, Candidates* out) const {
  if (request == nullptr || request->IsAny()) {
    *out = all_;
    return;
  }
  // Both sets in one pass; the drained endpoints are used only when no
  // undrained one is ready.
  Candidates any;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group& g = groups_[i];
    if (!Matches(*request, g)) continue;
    out->Add(g, g.live, static_cast<uint32_t>(i));
    any.Add(g, g.any, static_cast<uint32_t>(i));
  }
  if (out->ready == 0 && any.ready > 0) {
    *out = any;
    out->drained = true;
  }
}

uint32_t GroupIndex::FailedMatching(
    const VersionRequest& request,
    absl::Span<const VersionRequest> fallbacks) const {
  uint32_t failed = 0;
  for (const Group& g : groups_) {
    bool hit = Matches(request, g);
    for (size_t i = 0; !hit && i < fallbacks.size(); ++i) {
      hit = Matches(fallbacks[i], g);
    }
    if (hit) failed += g.failed;
  }
  return failed;
}

std::string GroupIndex::Available() const {
  if (sorted_groups_.empty()) return "none";
  std::string out;
  for (uint32_t i : sorted_groups_) {
    if (!out.empty()) out += ", ";
    const std::string& v = groups_[i].version;
    out += v.empty() ? "\"\"" : absl::CHexEscape(v);
  }
  return out;
}

std::vector<uint32_t> GroupIndex::GroupsByEndpointCount() const {
  std::vector<uint32_t> by_size(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    by_size[g] = static_cast<uint32_t>(g);
  }
  auto size_of = [&](uint32_t g) {
    return groups_[g].any.size + groups_[g].connecting + groups_[g].failed;
  };
  std::stable_sort(by_size.begin(), by_size.end(), [&](uint32_t a, uint32_t b) {
    return size_of(a) > size_of(b);
  });
  return by_size;
}

void GroupIndex::AssignGroups(const std::vector<EndpointInfo>& endpoints,
                              std::vector<Member>* members) {
  // Registries tend to list instances of one version together, so compare
  // with the previous endpoint's version before hashing.
  absl::flat_hash_map<absl::string_view, uint32_t> index;
  absl::string_view last_version;
  uint32_t last_group = 0;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    for (absl::string_view version : VersionsOf(endpoints[i])) {
      uint32_t g = last_group;
      if (groups_.empty() || version != last_version) {
        auto [it, inserted] =
            index.try_emplace(version, static_cast<uint32_t>(groups_.size()));
        if (inserted) groups_.emplace_back().version = std::string(version);
        g = it->second;
      }
      last_version = version;
      last_group = g;
      members->push_back(Member{static_cast<uint32_t>(i), g});
      CountState(endpoints[i], &groups_[g]);
    }
    if (endpoints[i].state == EndpointState::kTransientFailure) ++num_failed_;
    if (IsLive(endpoints[i])) ++all_live_;
  }
}

void GroupIndex::LayOutReady(const std::vector<EndpointInfo>& endpoints,
                             const std::vector<Member>& members) {
  uint32_t next = 0;
  for (Group& g : groups_) {
    // Only now: `version` no longer moves, so `parsed` may point into it.
    g.parsed = ParseSemVer(g.version);
    g.ready_begin = next;
    next += g.any.size;
  }
  ready_.resize(next);
  // Undrained members from the slice's start, drained ones after them.
  std::vector<uint32_t> live_cursor(groups_.size());
  std::vector<uint32_t> drained_cursor(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    live_cursor[g] = groups_[g].ready_begin;
    drained_cursor[g] = groups_[g].ready_begin + groups_[g].live.size;
  }
  for (const Member& m : members) {
    const EndpointInfo& e = endpoints[m.endpoint];
    if (e.state != EndpointState::kReady) continue;
    uint32_t& cursor =
        e.drained ? drained_cursor[m.group] : live_cursor[m.group];
    ready_[cursor++] = m.endpoint;
  }
  all_begin_ = 0;
  all_size_ = next;
  // The slices, one after the other, already list every ready endpoint
  // once, undrained first, when each endpoint is in one group and either
  // there is one group or nothing ready is drained.
  const bool one_group_each = members.size() == endpoints.size();
  if (one_group_each && (groups_.size() <= 1 || all_live_ == all_size_)) {
    return;
  }
  all_begin_ = next;
  for (bool drained : {false, true}) {
    for (size_t i = 0; i < endpoints.size(); ++i) {
      if (endpoints[i].state == EndpointState::kReady &&
          endpoints[i].drained == drained) {
        ready_.push_back(static_cast<uint32_t>(i));
      }
    }
  }
  all_size_ = static_cast<uint32_t>(ready_.size()) - all_begin_;
}

WeightedSampler::Table GroupIndex::AddWeightedTable(
    const std::vector<EndpointInfo>& endpoints, uint32_t begin, uint32_t size) {
  std::vector<uint32_t> items;
  std::vector<uint64_t> weights;
  for (uint32_t k = begin; k < begin + size; ++k) {
    const uint32_t w = endpoints[ready_[k]].weight;
    if (w == 0) continue;
    items.push_back(ready_[k]);
    weights.push_back(w);
  }
  return sampler_.Add(items, weights);
}

namespace {

// Whether the ready run [begin, begin + size) has one weight, which one,
// and the total.
void Weigh(const std::vector<EndpointInfo>& endpoints,
           const std::vector<uint32_t>& ready, uint32_t begin, uint32_t size,
           bool* uniform, uint32_t* common, uint64_t* total) {
  for (uint32_t k = begin; k < begin + size; ++k) {
    const uint32_t w = endpoints[ready[k]].weight;
    if (k == begin) *common = w;
    *uniform &= w == *common;
    *total += w;
  }
}

}  // namespace

ReadyPart GroupIndex::SummarizePart(const std::vector<EndpointInfo>& endpoints,
                                    uint32_t begin, uint32_t size) {
  ReadyPart part;
  part.size = size;
  Weigh(endpoints, ready_, begin, size, &part.uniform, &part.common_weight,
        &part.weight);
  part.weighted = AddWeightedTable(endpoints, begin, size);
  return part;
}

void GroupIndex::WeighGroups(const std::vector<EndpointInfo>& endpoints) {
  for (Group& g : groups_) {
    g.live = SummarizePart(endpoints, g.ready_begin, g.live.size);
    // Without drained endpoints the parts are the same: share the table.
    g.any = g.any.size == g.live.size
                ? g.live
                : SummarizePart(endpoints, g.ready_begin, g.any.size);
  }
}

// The candidate set of requests that match everything.
void GroupIndex::SummarizeAll(const std::vector<EndpointInfo>& endpoints) {
  all_.all = true;
  all_.matched = !groups_.empty();
  for (const EndpointInfo& e : endpoints) {
    all_.connecting |= e.state == EndpointState::kIdle ||
                       e.state == EndpointState::kConnecting;
  }
  const ReadyPart live = SummarizePart(endpoints, all_begin_, all_live_);
  const ReadyPart any = all_live_ == all_size_
                            ? live
                            : SummarizePart(endpoints, all_begin_, all_size_);
  all_live_weighted_ = live.weighted;
  all_any_weighted_ = any.weighted;
  all_.drained = all_live_ == 0 && all_size_ > 0;
  const ReadyPart& used = all_.drained ? any : live;
  all_.ready = used.size;
  all_.weight = used.weight;
  all_.uniform = used.uniform;
  all_.common_weight = used.common_weight;
  all_.have_weight = used.size > 0;
}

void GroupIndex::SortGroups() {
  sorted_groups_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    sorted_groups_[g] = static_cast<uint32_t>(g);
  }
  std::sort(sorted_groups_.begin(), sorted_groups_.end(),
            [&](uint32_t a, uint32_t b) {
              return VersionLess(groups_[a], groups_[b]);
            });
}

}  // namespace vlb::internal
