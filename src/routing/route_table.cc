#include "routing/route_table.h"

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "routing/sticky_hash.h"

namespace vlb::internal {
namespace {

// Per-call splits draw from a thread-local SplitMix64: no shared state,
// no lock, and different sequences in different threads and processes.
uint32_t RandomBucket() {
  thread_local uint64_t state =
      static_cast<uint64_t>(
          std::chrono::steady_clock::now().time_since_epoch().count()) ^
      reinterpret_cast<uintptr_t>(&state);
  uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z ^= z >> 31;
  return static_cast<uint32_t>(((z >> 32) * kStickyBuckets) >> 32);
}

VersionRequest MustParse(absl::string_view text) {
  // The document was validated by ParseRouteDocument.
  return *VersionRequest::Parse(text);
}

}  // namespace

bool CallerMatches(const RouteCondition& when, const CallerIdentity& caller) {
  if (when.caller_service.has_value() &&
      (caller.service.empty() || *when.caller_service != caller.service)) {
    return false;
  }
  if (when.caller_version.has_value()) {
    if (caller.version.empty()) return false;
    const VersionRequest request = MustParse(*when.caller_version);
    return request.Matches(caller.version, ParseSemVer(caller.version));
  }
  return true;
}

std::unique_ptr<const RouteTable> RouteTable::Compile(
    const RouteDocument& document, std::string service,
    const CallerIdentity& caller) {
  std::unique_ptr<RouteTable> table(new RouteTable());
  table->service_ = std::move(service);
  for (const RouteRule& rule : document.rules) {
    table->document_rule_names_.push_back(rule.name);
  }
  for (size_t i = 0; i < document.rules.size(); ++i) {
    if (CallerMatches(document.rules[i].when, caller)) {
      table->AddRule(document.rules[i], static_cast<int>(i));
    }
  }
  if (document.default_version.has_value()) {
    table->default_version_ = MustParse(*document.default_version);
  }
  if (document.fallback.has_value()) {
    table->fallback_.emplace();
    for (const std::string& f : *document.fallback) {
      table->fallback_->push_back(MustParse(f));
    }
  }
  return table;
}

int RouteTable::AddRequest(absl::string_view text) {
  for (size_t i = 0; i < requests_.size(); ++i) {
    if (requests_[i].text() == text) return static_cast<int>(i);
  }
  requests_.push_back(MustParse(text));
  return static_cast<int>(requests_.size() - 1);
}

void RouteTable::AddRule(const RouteRule& rule, int document_index) {
  Rule r;
  r.name = rule.name;
  r.document_index = document_index;
  r.when_version = rule.when.version;
  if (r.when_version.has_value()) {
    r.when_version = std::string(absl::StripAsciiWhitespace(*r.when_version));
  }
  r.when_headers = rule.when.headers;
  r.sticky_header = rule.sticky_header;
  r.strict_lane = rule.strict_lane;
  if (rule.version.has_value()) r.request = AddRequest(*rule.version);
  uint64_t total = 0;
  for (const SplitTarget& t : rule.split) total += t.weight;
  uint64_t cumulative = 0;
  for (const SplitTarget& t : rule.split) {
    cumulative += t.weight;
    r.split.push_back(
        Split{AddRequest(t.version),
              static_cast<uint32_t>(cumulative * kStickyBuckets / total)});
  }
  rules_.push_back(std::move(r));
}

bool RouteTable::Holds(const Rule& rule, absl::string_view requested,
                       HeaderLookup lookup) const {
  if (rule.when_version.has_value() && *rule.when_version != requested) {
    return false;
  }
  for (const auto& [name, value] : rule.when_headers) {
    std::optional<absl::string_view> got = lookup(name);
    if (!got.has_value() || *got != value) return false;
  }
  return true;
}

void RouteTable::Choose(const Rule& rule, HeaderLookup lookup,
                        RouteDecision* decision) const {
  if (rule.split.empty()) {
    decision->request = rule.request;
    return;
  }
  std::optional<absl::string_view> user;
  if (rule.sticky_header.has_value()) user = lookup(*rule.sticky_header);
  const uint32_t bucket = user.has_value()
                              ? StickyBucket(service_, rule.name, *user)
                              : RandomBucket();
  if (user.has_value()) decision->bucket = static_cast<int>(bucket);
  for (size_t i = 0; i < rule.split.size(); ++i) {
    if (bucket < rule.split[i].end) {
      decision->split_entry = static_cast<int>(i);
      decision->request = rule.split[i].request;
      return;
    }
  }
}

RouteDecision RouteTable::Evaluate(
    const std::optional<absl::string_view>& requested,
    HeaderLookup lookup) const {
  const absl::string_view text =
      requested.has_value() ? absl::StripAsciiWhitespace(*requested) : "";
  RouteDecision decision;
  for (const Rule& rule : rules_) {
    if (!Holds(rule, text, lookup)) continue;
    decision.rule = rule.document_index;
    decision.strict_lane = rule.strict_lane;
    Choose(rule, lookup, &decision);
    return decision;
  }
  return decision;
}

bool RouteTable::has_strict_lane_rules() const {
  for (const Rule& rule : rules_) {
    if (rule.strict_lane) return true;
  }
  return false;
}

std::vector<int> RouteTable::kept_rules() const {
  std::vector<int> kept;
  for (const Rule& r : rules_) kept.push_back(r.document_index);
  return kept;
}

PolicyConfig RouteTable::ApplyDefaults(PolicyConfig local) const {
  if (default_version_.has_value()) local.default_version = default_version_;
  if (fallback_.has_value()) local.fallback = *fallback_;
  return local;
}

}  // namespace vlb::internal
