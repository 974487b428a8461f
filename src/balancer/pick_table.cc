#include "balancer/pick_table.h"

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "balancer/group_index.h"
#include "balancer/pick_scheduler.h"
#include "balancer/request_resolver.h"
#include "balancer/resolution_cache.h"

namespace vlb::internal {

using Kind = PickResult::Kind;
using Source = PickResult::Source;

struct PickTable::Impl {
  Impl(const std::vector<EndpointInfo>& endpoints,
       const PolicyConfig& policy_config, std::string service_name,
       uint64_t seed, std::vector<VersionRequest> routed_requests)
      : config(policy_config),
        service(std::move(service_name)),
        index(endpoints),
        scheduler(config.child, index, seed, ResolutionCache::kMaxPrecomputed),
        resolver(config, index, scheduler, seed),
        routed(std::move(routed_requests)),
        routed_resolutions(routed.size()) {
    resolver.Precompute();
    for (size_t i = 0; i < routed.size(); ++i) {
      resolver.ResolveRequest(&routed[i], Source::kRoute,
                              &routed_resolutions[i]);
    }
  }

  // The rotation, the only part of a pick that changes from call to call.
  PickResult Finish(const Resolution& r) const {
    uint32_t endpoint = 0;
    if (r.slice.size > 0) {
      endpoint = PickScheduler::NextInSlice(r.slice, r.counter);
    } else if (r.outcome.kind == Kind::kPicked) {
      endpoint = scheduler.Choose(r.candidates, r.matched_by, r.counter);
    }
    // Copied whole: a field-wise copy (what GCC makes of `result =
    // r.outcome` with `endpoint` replaced) reassembles the two return
    // registers byte by byte, a measurable part of a cached pick.
    PickResult result;
    std::memcpy(&result, &r.outcome, sizeof(result));
    result.endpoint = endpoint;
    return result;
  }

  // Out of the fast path's frame: the parsed request is about 1.3 KB.
  PickResult PickUncached(std::optional<absl::string_view> requested) const {
    VersionRequest parsed;
    Resolution resolution;
    return Finish(*resolver.Resolve(requested, &parsed, &resolution));
  }

  // A routed request whose candidates overflow the cacheable list is
  // resolved again on each pick (still without allocating).
  PickResult PickRoutedUncached(size_t i) const {
    Resolution resolution;
    resolver.ResolveRequest(&routed[i], Source::kRoute, &resolution);
    return Finish(resolution);
  }

  const PolicyConfig config;
  const std::string service;
  const GroupIndex index;
  const PickScheduler scheduler;
  RequestResolver resolver;
  // Never resized after construction: resolutions point into it.
  const std::vector<VersionRequest> routed;
  std::vector<Resolution> routed_resolutions;
};

PickTable::~PickTable() = default;

std::unique_ptr<PickTable> PickTable::Build(
    const std::vector<EndpointInfo>& endpoints, const PolicyConfig& config,
    std::string service, uint64_t seed, std::vector<VersionRequest> routed) {
  std::unique_ptr<PickTable> table(new PickTable());
  table->impl_ = std::make_unique<Impl>(endpoints, config, std::move(service),
                                        seed, std::move(routed));
  return table;
}

PickResult PickTable::Pick(std::optional<absl::string_view> requested) const {
  const Impl& t = *impl_;
  if (const Resolution* cached = t.resolver.Lookup(requested)) {
    return t.Finish(*cached);
  }
  return t.PickUncached(requested);
}

PickResult PickTable::PickRouted(size_t i) const {
  const Impl& t = *impl_;
  const Resolution& r = t.routed_resolutions[i];
  if (r.Cacheable()) return t.Finish(r);
  return t.PickRoutedUncached(i);
}

absl::string_view PickTable::routed_text(size_t i) const {
  return impl_->routed[i].text();
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

// kNoMatch and kUnreachable.
absl::Status UnavailableStatus(const PickResult& result,
                               const PolicyConfig& config,
                               absl::string_view service,
                               absl::string_view text,
                               const GroupIndex& index) {
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
  if (!notes.empty()) {
    absl::StrAppend(&message, " (", absl::StrJoin(notes, "; "), ")");
  }
  return absl::UnavailableError(message);
}

}  // namespace

absl::Status PickTable::FailureStatus(
    const PickResult& result,
    std::optional<absl::string_view> requested) const {
  const Impl& t = *impl_;
  const absl::string_view text =
      requested.has_value() ? absl::StripAsciiWhitespace(*requested) : "";
  switch (result.kind) {
    case Kind::kBadRequest:
      return BadRequestStatus(t.service, text, result.syntax_error);
    case Kind::kNoMatch:
    case Kind::kUnreachable:
      return UnavailableStatus(result, t.config, t.service, text, t.index);
    case Kind::kPicked:
    case Kind::kQueue:
      break;
  }
  return absl::InternalError(
      "PickTable::FailureStatus called for a pick that did not fail");
}

EndpointState PickTable::AggregateState() const {
  const Candidates& all = impl_->index.all();
  if (all.ready > 0) return EndpointState::kReady;
  if (all.connecting) return EndpointState::kConnecting;
  return EndpointState::kTransientFailure;
}

size_t PickTable::ready_count() const { return impl_->index.all_size(); }

}  // namespace vlb::internal
