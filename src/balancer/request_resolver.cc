#include "balancer/request_resolver.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"

namespace vlb::internal {

using Kind = PickResult::Kind;
using Source = PickResult::Source;

RequestResolver::RequestResolver(const PolicyConfig& config,
                                 const GroupIndex& index,
                                 const PickScheduler& scheduler, uint64_t seed)
    : config_(config),
      version_aware_(config.version_aware),
      index_(index),
      scheduler_(scheduler),
      cache_(seed) {}

void RequestResolver::Precompute() {
  const VersionRequest* request = DefaultRequest();
  ResolveRequest(request, request != nullptr ? Source::kDefault : Source::kNone,
                 &no_request_);
  has_no_request_ = no_request_.Cacheable();
  if (!version_aware_) return;
  VersionRequest parsed;
  for (uint32_t g : index_.GroupsByEndpointCount()) {
    if (cache_.precomputed_full()) break;
    const std::string& text = index_.group(g).version;
    // Texts Resolve() would trim or reject take its full path.
    if (text.empty() || text.size() > ResolutionCache::kMaxText ||
        absl::StripAsciiWhitespace(text) != text ||
        !VersionRequest::TryParse(text, &parsed)) {
      continue;
    }
    Resolution resolution;
    ResolveRequest(&parsed, Source::kHeader, &resolution);
    if (!resolution.Cacheable()) continue;
    cache_.AddPrecomputed(text, resolution,
                          scheduler_.Reserved(cache_.num_precomputed()));
  }
}

const Resolution* RequestResolver::Resolve(
    const std::optional<absl::string_view>& requested, VersionRequest* scratch,
    Resolution* out) const {
  const absl::string_view text = version_aware_ && requested.has_value()
                                     ? absl::StripAsciiWhitespace(*requested)
                                     : absl::string_view();
  if (text.empty()) {
    if (has_no_request_) return &no_request_;
    const VersionRequest* request = DefaultRequest();
    ResolveRequest(request,
                   request != nullptr ? Source::kDefault : Source::kNone, out);
    return out;
  }
  VersionRequest::SyntaxError error;
  if (VersionRequest::TryParse(text, scratch, &error)) {
    ResolveRequest(scratch, Source::kHeader, out);
  } else {
    out->outcome.kind = Kind::kBadRequest;
    out->outcome.source = Source::kHeader;
    out->outcome.syntax_error = error;
  }
  if (out->Cacheable()) cache_.Remember(*requested, *out);
  return out;
}

void RequestResolver::ResolveRequest(const VersionRequest* request,
                                     Source source, Resolution* out) const {
  out->outcome.source = source;
  bool matched = false;
  bool found = Evaluate(request, &matched, out);
  // Without a request every endpoint was a candidate, so fallbacks, which
  // can only narrow that, have nothing to add.
  if (request != nullptr) {
    const std::vector<VersionRequest>& fallbacks = config_.fallback;
    for (size_t i = 0; !found && i < fallbacks.size(); ++i) {
      found = Evaluate(&fallbacks[i], &matched, out);
      out->outcome.fallbacks_tried =
          static_cast<uint8_t>(std::min<size_t>(i + 1, UINT8_MAX));
    }
  }
  if (!found) {
    RecordFailure(request, matched, &out->outcome);
  } else if (out->outcome.kind == Kind::kPicked) {
    out->counter = scheduler_.CounterFor(out->candidates);
    out->slice = scheduler_.SliceFor(out->candidates);
  }
}

const VersionRequest* RequestResolver::DefaultRequest() const {
  if (!version_aware_ || !config_.default_version.has_value()) return nullptr;
  return &*config_.default_version;
}

bool RequestResolver::Evaluate(const VersionRequest* request, bool* matched,
                               Resolution* out) const {
  Candidates c;
  index_.Collect(request, &c);
  *matched |= c.matched;
  if (c.ready > 0) {
    out->outcome.kind = Kind::kPicked;
    out->candidates = c;
    out->matched_by = request;
    return true;
  }
  if (c.connecting) {
    out->outcome.kind = Kind::kQueue;
    return true;
  }
  return false;
}

void RequestResolver::RecordFailure(const VersionRequest* request, bool matched,
                                    PickResult* outcome) const {
  if (!matched) {
    outcome->kind = Kind::kNoMatch;
    return;
  }
  outcome->kind = Kind::kUnreachable;
  outcome->failed = request == nullptr
                        ? index_.num_failed()
                        : index_.FailedMatching(*request, config_.fallback);
}

}  // namespace vlb::internal
