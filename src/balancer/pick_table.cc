#include "balancer/pick_table.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "balancer/group_index.h"
#include "balancer/partition.h"

namespace vlb::internal {

using Kind = PickResult::Kind;
using Source = PickResult::Source;

namespace {

// A partition and where its endpoints sit in Build()'s list.
struct LanePartition {
  std::string lane;  // empty: the baseline
  bool strict = false;
  // Local index -> Build()'s index; empty when they are the same (a table
  // without lanes).
  std::vector<uint32_t> to_endpoint;
  std::unique_ptr<Partition> partition;

  PickResult Global(PickResult r) const {
    if (r.kind == Kind::kPicked) r.endpoint = Local(r.endpoint);
    return r;
  }
  // Build()'s index of local endpoint `i`.
  uint32_t Local(uint32_t i) const {
    return to_endpoint.empty() ? i : to_endpoint[i];
  }
};

// What a call asks each partition for: its header text, or Build()'s
// routed request `routed`; with the scratch space a resolution outside the
// cache needs, one per partition asked. `requested` by pointer: a copy of
// the caller's optional can stall on its flag byte (PickTable::Pick).
struct CallRequest {
  const std::optional<absl::string_view>* requested;
  std::optional<size_t> routed;
  std::optional<Partition::Scratch> lane_scratch;
  std::optional<Partition::Scratch> base_scratch;

  const Resolution& In(const Partition& p,
                       std::optional<Partition::Scratch>* scratch) const {
    return routed.has_value() ? p.ResolveRouted(*routed, scratch)
                              : p.Resolve(*requested, scratch);
  }
};

// The partition that serves a call and its resolution there; a null
// partition: a strict lane no endpoint has.
struct LaneChoice {
  const LanePartition* partition = nullptr;
  const Resolution* resolution = nullptr;
  PickResult::Lane lane = PickResult::Lane::kNone;
};

bool Contains(const std::vector<std::string>& names, absl::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

struct PickTable::Impl {
  Impl(const std::vector<EndpointInfo>& endpoints,
       const PolicyConfig& policy_config, std::string service_name,
       uint64_t seed, std::vector<VersionRequest> routed_requests)
      : config(policy_config),
        service(std::move(service_name)),
        routed(std::move(routed_requests)) {
    SplitByLane(endpoints, seed);
  }

  // Splits `endpoints` by lane: the baseline, then the lanes by name.
  void SplitByLane(const std::vector<EndpointInfo>& endpoints, uint64_t seed);

  // The partition of `lane`, or null when no endpoint has it. A few string
  // compares: tables rarely have more than a handful of lanes.
  const LanePartition* Find(absl::string_view lane) const {
    if (lane.empty()) return nullptr;
    for (const LanePartition& p : lanes) {
      if (p.lane == lane) return &p;
    }
    return nullptr;
  }

  // Where a call of `lane` is served (pick_table.h): `call->In(partition)`
  // gives a partition's resolution for the call. The lane wins
  // when it can serve the call at the same request or fallback step as the
  // baseline or an earlier one (LaneWins); nothing is rotated here, so the
  // losing partition's counters do not move.
  LaneChoice Choose(LaneRequest lane, CallRequest* call) const {
    const LanePartition* own = Find(lane.name);
    if (own == nullptr) {
      if (!lane.name.empty() && (lane.strict || IsStrict(lane.name))) {
        return LaneChoice{nullptr, nullptr, PickResult::Lane::kInLane};
      }
      return LaneChoice{&baseline,
                        &call->In(*baseline.partition, &call->base_scratch),
                        PickResult::Lane::kNone};
    }
    const Resolution& in_lane = call->In(*own->partition, &call->lane_scratch);
    const LaneChoice lane_choice{own, &in_lane, PickResult::Lane::kInLane};
    if (own->strict || lane.strict || Decided(in_lane)) return lane_choice;
    const Resolution& base = call->In(*baseline.partition, &call->base_scratch);
    return LaneWins(in_lane, base)
               ? lane_choice
               : LaneChoice{&baseline, &base, PickResult::Lane::kBaseline};
  }

  static bool Served(const PickResult& r) {
    return r.kind == Kind::kPicked || r.kind == Kind::kQueue;
  }
  // Picked among drained instances only (Candidates::drained).
  static bool OnlyDrained(const Resolution& r) {
    return r.outcome.kind == Kind::kPicked && r.candidates.drained;
  }
  // Served (or queued) at the call's own request by undrained instances:
  // nothing can do better.
  static bool Decided(const Resolution& r) {
    return Served(r.outcome) && r.outcome.fallbacks_tried == 0 &&
           !OnlyDrained(r);
  }
  // The partition with ready or connecting instances at the earliest step
  // wins, the lane on a tie: a lane's instances still connecting are waited
  // for, as a version's are. On a tie, drained instances of the lane yield
  // to undrained ones of the baseline (drain means: no new calls while
  // another matching instance can take them). When neither partition has
  // any, the baseline's failure stands.
  static bool LaneWins(const Resolution& lane, const Resolution& base) {
    const PickResult& l = lane.outcome;
    const PickResult& b = base.outcome;
    if (!Served(l) || !Served(b)) return Served(l);
    if (l.fallbacks_tried != b.fallbacks_tried) {
      return l.fallbacks_tried < b.fallbacks_tried;
    }
    return !OnlyDrained(lane) || b.kind != Kind::kPicked || OnlyDrained(base);
  }

  PickResult Finish(const LaneChoice& c) const {
    if (c.partition == nullptr) return EmptyStrictLane();
    PickResult r =
        c.partition->Global(c.partition->partition->Finish(*c.resolution));
    r.lane = c.lane;
    return r;
  }

  // Off the fast path: only for lanes no endpoint has.
  bool IsStrict(absl::string_view lane) const {
    return Contains(config.strict_lanes, lane);
  }
  static PickResult EmptyStrictLane() {
    PickResult r;
    r.kind = Kind::kNoMatch;
    r.lane = PickResult::Lane::kInLane;
    return r;
  }

  const LanePartition& PartitionOf(const PickResult& result,
                                   absl::string_view lane) const {
    const LanePartition* own = Find(lane);
    return result.lane == PickResult::Lane::kInLane && own != nullptr
               ? *own
               : baseline;
  }

  const PolicyConfig config;
  const std::string service;
  const std::vector<VersionRequest> routed;
  LanePartition baseline;
  std::vector<LanePartition> lanes;
};

void PickTable::Impl::SplitByLane(const std::vector<EndpointInfo>& endpoints,
                                  uint64_t seed) {
  std::map<std::string, std::vector<uint32_t>> by_lane;
  for (uint32_t i = 0; i < endpoints.size(); ++i) {
    by_lane[endpoints[i].lane].push_back(i);
  }
  const bool has_lanes = by_lane.size() > 1 ||
                         (!by_lane.empty() && !by_lane.begin()->first.empty());
  for (auto& [lane, members] : by_lane) {
    LanePartition* p = lane.empty() ? &baseline : &lanes.emplace_back();
    p->lane = lane;
    p->strict = Contains(config.strict_lanes, lane);
    std::vector<EndpointInfo> subset;
    subset.reserve(members.size());
    for (uint32_t i : members) subset.push_back(endpoints[i]);
    if (has_lanes) p->to_endpoint = std::move(members);
    p->partition = std::make_unique<Partition>(subset, config, seed, routed);
  }
  if (baseline.partition == nullptr) {
    baseline.to_endpoint = {};
    baseline.partition = std::make_unique<Partition>(
        std::vector<EndpointInfo>{}, config, seed, routed);
  }
}

PickTable::~PickTable() = default;

std::unique_ptr<PickTable> PickTable::Build(
    const std::vector<EndpointInfo>& endpoints, const PolicyConfig& config,
    std::string service, uint64_t seed, std::vector<VersionRequest> routed) {
  std::unique_ptr<PickTable> table(new PickTable());
  table->impl_ = std::make_unique<Impl>(endpoints, config, std::move(service),
                                        seed, std::move(routed));
  const LanePartition& baseline = table->impl_->baseline;
  table->baseline_ = baseline.partition.get();
  if (!baseline.to_endpoint.empty()) {
    table->baseline_to_endpoint_ = baseline.to_endpoint.data();
  }
  return table;
}

// Out of line, with the scratch space the fast path does without.
ABSL_ATTRIBUTE_NOINLINE PickResult
PickTable::PickWithLanes(const std::optional<absl::string_view>& requested,
                         std::optional<size_t> routed, LaneRequest lane) const {
  const Impl& t = *impl_;
  CallRequest call{&requested, routed, std::nullopt, std::nullopt};
  return t.Finish(t.Choose(lane, &call));
}

absl::string_view PickTable::routed_text(size_t i) const {
  return impl_->routed[i].text();
}

std::vector<uint32_t> PickTable::Eligible(
    std::optional<absl::string_view> requested, std::optional<size_t> routed,
    LaneRequest lane, PickResult* result) const {
  const Impl& t = *impl_;
  CallRequest call{&requested, routed, std::nullopt, std::nullopt};
  const LaneChoice choice = t.Choose(lane, &call);
  std::vector<uint32_t> members;
  if (choice.partition == nullptr) {
    *result = Impl::EmptyStrictLane();
    // Where the request came from, as the baseline resolves it.
    result->source =
        call.In(*t.baseline.partition, &call.base_scratch).outcome.source;
    return members;
  }
  *result = choice.resolution->outcome;
  result->lane = choice.lane;
  choice.partition->partition->Members(*choice.resolution, &members);
  for (uint32_t& m : members) m = choice.partition->Local(m);
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return members;
}

namespace {

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

// `text`: the trimmed header value.
absl::Status BadRequestStatus(absl::string_view service, absl::string_view text,
                              VersionRequest::SyntaxError error) {
  if (error.code == 0) {
    return absl::InternalError(
        absl::StrCat("version request ", Quote(text), " for ", service,
                     " was reported invalid but parses"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid version request ", Quote(text), " for ", service,
                   ": ", VersionRequest::DescribeSyntaxError(text, error)));
}

// What the pick served: `version "v1"`, `default version "v1"`, or "" for
// every instance.
std::string Subject(const PickResult& result, const PolicyConfig& config,
                    absl::string_view text) {
  switch (result.source) {
    case Source::kHeader:
      return absl::StrCat("version ", Quote(text));
    case Source::kRoute:
      return absl::StrCat("routed version ", Quote(text));
    case Source::kDefault:
      if (!config.default_version.has_value()) break;
      return absl::StrCat("default version ",
                          Quote(config.default_version->text()));
    case Source::kNone:
      break;
  }
  return "";
}

// What the lanes had to do with a failed pick, for its notes.
void AddLaneNote(const PickResult& result, absl::string_view lane,
                 bool have_lanes, std::vector<std::string>* notes) {
  switch (result.lane) {
    case PickResult::Lane::kInLane:
      notes->push_back(absl::StrCat("in strict lane ", Quote(lane)));
      break;
    case PickResult::Lane::kBaseline:
      notes->push_back(absl::StrCat("lane ", Quote(lane),
                                    " has no reachable match; baseline tried"));
      break;
    case PickResult::Lane::kNone:
      if (!lane.empty()) {
        notes->push_back(absl::StrCat("no instance is in lane ", Quote(lane)));
      } else if (have_lanes) {
        notes->push_back("laned instances serve only calls of their lane");
      }
      break;
  }
}

// kNoMatch and kUnreachable. `index`: of the partition that failed.
absl::Status UnavailableStatus(const PickResult& result,
                               const PolicyConfig& config,
                               absl::string_view service,
                               absl::string_view text, const GroupIndex& index,
                               const std::vector<std::string>& lane_notes) {
  const std::string subject = Subject(result, config, text);
  std::vector<std::string> notes;
  if (config.version_aware && result.source != Source::kHeader &&
      result.source != Source::kRoute) {
    notes.push_back("no version requested");
  }
  std::string message;
  if (result.kind == Kind::kNoMatch) {
    message =
        subject.empty()
            ? absl::StrCat("no instance of ", service, " is available")
            : absl::StrCat("no instance of ", service, " matches ", subject);
    if (config.version_aware) {
      notes.push_back(absl::StrCat("available: ", index.Available()));
    }
  } else {
    message = subject.empty()
                  ? absl::StrCat("instances of ", service, " are unreachable")
                  : absl::StrCat("instances of ", service, " matching ",
                                 subject, " are unreachable");
    notes.push_back(absl::StrCat(result.failed, " in TRANSIENT_FAILURE"));
  }
  // A failed pick tried every fallback.
  if (result.fallbacks_tried > 0) {
    std::vector<absl::string_view> names;
    for (const VersionRequest& f : config.fallback) names.push_back(f.text());
    notes.push_back(
        absl::StrCat("fallback tried: ", absl::StrJoin(names, ", ")));
  }
  notes.insert(notes.end(), lane_notes.begin(), lane_notes.end());
  if (!notes.empty()) {
    absl::StrAppend(&message, " (", absl::StrJoin(notes, "; "), ")");
  }
  return absl::UnavailableError(message);
}

}  // namespace

absl::Status PickTable::FailureStatus(
    const PickResult& result, std::optional<absl::string_view> requested,
    absl::string_view lane) const {
  const Impl& t = *impl_;
  std::vector<std::string> notes;
  const absl::string_view text =
      requested.has_value() ? absl::StripAsciiWhitespace(*requested) : "";
  switch (result.kind) {
    case Kind::kBadRequest:
      return BadRequestStatus(t.service, text, result.syntax_error);
    case Kind::kNoMatch:
    case Kind::kUnreachable:
      if (result.lane == PickResult::Lane::kInLane && t.Find(lane) == nullptr) {
        return absl::UnavailableError(absl::StrCat(
            "no instance of ", t.service, " is in strict lane ", Quote(lane)));
      }
      AddLaneNote(result, lane, !t.lanes.empty(), &notes);
      return UnavailableStatus(result, t.config, t.service, text,
                               t.PartitionOf(result, lane).partition->index(),
                               notes);
    case Kind::kPicked:
    case Kind::kQueue:
      break;
  }
  return absl::InternalError(
      "PickTable::FailureStatus called for a pick that did not fail");
}

bool PickTable::has_lanes() const { return !impl_->lanes.empty(); }

EndpointState PickTable::AggregateState() const {
  bool connecting = false;
  auto visit = [&](const LanePartition& p) {
    const Candidates& all = p.partition->index().all();
    connecting = connecting || all.connecting;
    return all.ready > 0;
  };
  if (visit(impl_->baseline)) return EndpointState::kReady;
  for (const LanePartition& p : impl_->lanes) {
    if (visit(p)) return EndpointState::kReady;
  }
  return connecting ? EndpointState::kConnecting
                    : EndpointState::kTransientFailure;
}

}  // namespace vlb::internal
