#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "admin/explain_internal.h"
#include "balancer/pick_table.h"
#include "balancer/version.h"

namespace vlb::internal {
namespace {

using Kind = PickResult::Kind;
using Source = PickResult::Source;

// Every record is one READY endpoint (vlb/explain.h says why).
std::vector<EndpointInfo> Endpoints(const ServiceListing& listing) {
  std::vector<EndpointInfo> endpoints;
  endpoints.reserve(listing.instances.size());
  for (const InstanceListing& listed : listing.instances) {
    EndpointInfo e;
    e.versions = {listed.instance.version};
    e.weight = listed.instance.weight;
    e.drained = listed.instance.drained;
    e.lane = listed.instance.lane;
    e.state = EndpointState::kReady;
    endpoints.push_back(std::move(e));
  }
  return endpoints;
}

std::vector<VersionRequest> RoutedRequests(const RouteTable* routes) {
  std::vector<VersionRequest> routed;
  if (routes == nullptr) return routed;
  for (size_t i = 0; i < routes->num_requests(); ++i) {
    routed.push_back(routes->request(static_cast<int>(i)));
  }
  return routed;
}

const char* SourceName(Source source) {
  switch (source) {
    case Source::kHeader:
      return "header";
    case Source::kDefault:
      return "default";
    case Source::kRoute:
      return "route rule";
    case Source::kNone:
      break;
  }
  return "none";
}

std::string LaneOutcome(PickResult::Lane outcome, absl::string_view lane) {
  switch (outcome) {
    case PickResult::Lane::kInLane:
      return "in lane";
    case PickResult::Lane::kBaseline:
      return "baseline (lane has no reachable match)";
    case PickResult::Lane::kNone:
      break;
  }
  return lane.empty() ? "" : "baseline (no instance is in the lane)";
}

// The facts every instance's verdict is judged against.
struct Judged {
  PickResult result;
  absl::string_view lane;
  bool strict_lane = false;  // the call's lane never falls back
  // The request whose matching decided (the serving fallback, else the
  // call's effective request); null: every version matches.
  const VersionRequest* deciding = nullptr;
};

// An instance of another lane than the call's (or of a lane, for a call
// without one).
std::string LaneReason(const ServiceInstance& instance, const Judged& j) {
  if (j.lane.empty()) {
    return absl::StrCat("in lane \"", instance.lane, "\"; the call has none");
  }
  return absl::StrCat("in lane \"", instance.lane, "\"; the call's is \"",
                      j.lane, "\"");
}

// Why an instance the pick table did not offer is not eligible.
std::string Reason(const ServiceInstance& instance, const Judged& j) {
  const bool served_in_lane = j.result.lane == PickResult::Lane::kInLane;
  const bool own_lane = !instance.lane.empty() && instance.lane == j.lane;
  if (!instance.lane.empty() && !own_lane) return LaneReason(instance, j);
  if (j.result.kind == Kind::kBadRequest) {
    return "the call's version request is invalid";
  }
  if (j.deciding != nullptr &&
      !j.deciding->Matches(instance.version, ParseSemVer(instance.version))) {
    return absl::StrCat("version \"", instance.version, "\" does not match \"",
                        j.deciding->text(), "\"");
  }
  if (own_lane && !served_in_lane) {
    if (instance.drained) return "drained; the baseline serves the call";
    return "in the call's lane, but the baseline matches an earlier fallback "
           "step";
  }
  if (instance.lane.empty() && served_in_lane) {
    if (j.strict_lane) {
      return absl::StrCat("baseline; the call's lane \"", j.lane,
                          "\" is strict");
    }
    return absl::StrCat("baseline; lane \"", j.lane, "\" serves the call");
  }
  if (instance.drained) return "drained; undrained instances serve the call";
  return "not a candidate";
}

// The request a pick served, from where it came.
const VersionRequest* OwnRequest(const PickResult& r,
                                 const PolicyConfig& config,
                                 const RouteTable* routes,
                                 const RouteDecision& decision,
                                 const std::optional<VersionRequest>& header) {
  switch (r.source) {
    case Source::kRoute:
      return &routes->request(decision.request);
    case Source::kHeader:
      return header.has_value() ? &*header : nullptr;
    case Source::kDefault:
      return config.default_version.has_value() ? &*config.default_version
                                                : nullptr;
    case Source::kNone:
      break;
  }
  return nullptr;
}

std::optional<VersionRequest> ParsedHeader(
    std::optional<absl::string_view> requested) {
  if (!requested.has_value()) return std::nullopt;
  absl::StatusOr<VersionRequest> parsed =
      VersionRequest::Parse(absl::StripAsciiWhitespace(*requested));
  if (!parsed.ok()) return std::nullopt;
  return *std::move(parsed);
}

// The request fields of `out`, and `j->deciding`.
void DescribeRequest(const PolicyConfig& config, const RouteTable* routes,
                     const RouteDecision& decision,
                     const std::optional<VersionRequest>& header, Judged* j,
                     Explanation* out) {
  const VersionRequest* own =
      OwnRequest(j->result, config, routes, decision, header);
  const uint8_t tried = j->result.fallbacks_tried;
  const bool by_fallback = j->result.kind == Kind::kPicked && tried > 0 &&
                           tried <= config.fallback.size();
  j->deciding = by_fallback ? &config.fallback[tried - 1] : own;
  out->source = SourceName(j->result.source);
  out->request = own != nullptr ? std::string(own->text()) : "";
  if (by_fallback) out->fallback = std::string(j->deciding->text());
}

// `out->outcome`: "picked", or the status a call would fail with.
void DescribeOutcome(const PickTable& table, const Judged& j,
                     std::optional<absl::string_view> requested,
                     std::optional<size_t> routed, Explanation* out) {
  if (j.result.kind == Kind::kPicked) {
    out->outcome = "picked";
    return;
  }
  if (routed.has_value()) requested = table.routed_text(*routed);
  out->outcome =
      std::string(table.FailureStatus(j.result, requested, j.lane).message());
  if (!out->rule.empty()) {
    absl::StrAppend(&out->outcome, " (chosen by route rule \"", out->rule,
                    "\")");
  }
}

void AddVerdicts(const ServiceListing& listing,
                 const std::vector<uint32_t>& eligible, const Judged& j,
                 Explanation* out) {
  for (uint32_t i = 0; i < listing.instances.size(); ++i) {
    const InstanceListing& listed = listing.instances[i];
    InstanceVerdict& v = out->instances.emplace_back();
    v.id = listed.id;
    v.version = listed.instance.version;
    v.lane = listed.instance.lane;
    v.address = listed.instance.address;
    v.weight = listed.instance.weight;
    v.drained = listed.instance.drained;
    v.eligible = std::binary_search(eligible.begin(), eligible.end(), i);
    if (!v.eligible) v.reason = Reason(listed.instance, j);
  }
}

}  // namespace

void ExplainPick(const ServiceListing& listing, const PolicyConfig& config,
                 const RouteTable* routes,
                 std::optional<absl::string_view> requested,
                 const RouteDecision& decision, absl::string_view lane,
                 Explanation* out) {
  if (decision.rule != RouteDecision::kNone) {
    out->rule = routes->rule_name(decision.rule);
    out->bucket = decision.bucket;
  }
  std::unique_ptr<PickTable> table =
      PickTable::Build(Endpoints(listing), config, listing.service, /*seed=*/0,
                       RoutedRequests(routes));
  std::optional<size_t> routed;
  if (decision.request != RouteDecision::kNone) routed = decision.request;
  Judged j;
  j.lane = lane;
  const std::vector<uint32_t> eligible = table->Eligible(
      requested, routed, LaneRequest{lane, decision.strict_lane}, &j.result);

  // `j` may point into it; both live until this function returns.
  const std::optional<VersionRequest> header = ParsedHeader(requested);
  DescribeRequest(config, routes, decision, header, &j, out);
  out->lane_outcome = LaneOutcome(j.result.lane, lane);
  out->lane = std::string(lane);
  // A strictLane rule that decided a call without a lane changes nothing.
  out->strict_lane =
      !lane.empty() &&
      (decision.strict_lane ||
       std::find(config.strict_lanes.begin(), config.strict_lanes.end(),
                 lane) != config.strict_lanes.end());
  j.strict_lane = out->strict_lane;
  DescribeOutcome(*table, j, requested, routed, out);
  AddVerdicts(listing, eligible, j, out);
}

}  // namespace vlb::internal
