// A service's route document: the release engineer's rules for which
// version a call goes to, kept in etcd at <routes root><service> (default
// root /vlb/routes/) and applied by every client of the service. Example
// and schema: README "Route documents".
//
//   {"defaultVersion": "v1", "fallback": ["v1", "*"],
//    "rules": [{"name": "canary", "when": {"version": "v1"},
//               "split": [{"version": "v1", "weight": 95},
//                         {"version": "1.1.0-canary.1", "weight": 5}],
//               "stickyHeader": "x-user-id"}]}
//
// ParseRouteDocument validates strictly: unknown fields, wrong types, bad
// version requests, bad header names, duplicate rule names and splits
// without weight are errors, InvalidArgument naming the field
// ("rules[2].split[1].weight: ..."), the message a client logs and vlbctl
// prints. Thread-safe; allocates.
#ifndef VLB_SRC_ROUTING_ROUTE_DOCUMENT_H_
#define VLB_SRC_ROUTING_ROUTE_DOCUMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {

// When a rule applies; every condition given must hold (none: always).
struct RouteCondition {
  // The call's own request text, trimmed; "" matches calls that send none.
  std::optional<std::string> version;
  // Exact matches on call metadata; names are lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  // The calling process's identity (see CallerIdentity).
  std::optional<std::string> caller_service;
  std::optional<std::string> caller_version;  // a version request
};

struct SplitTarget {
  std::string version;  // a version request
  uint32_t weight = 0;
};

struct RouteRule {
  std::string name;
  RouteCondition when;
  // At most one of `version` and `split` is set (neither: the call keeps
  // its own request; then `strict_lane` was given).
  std::optional<std::string> version;        // replaces the call's request
  std::vector<SplitTarget> split;            // one of these, by weight
  std::optional<std::string> sticky_header;  // only with `split`
  // The call stays in its lane: no baseline fallback (README "Lanes").
  bool strict_lane = false;
};

struct RouteDocument {
  std::optional<std::string> default_version;
  std::optional<std::vector<std::string>> fallback;
  std::vector<RouteRule> rules;
};

// Largest accepted document, rule count and split size: documents are
// edited by hand; far larger ones are mistakes.
inline constexpr size_t kMaxRouteDocumentBytes = 64 * size_t{1024};
inline constexpr size_t kMaxRouteRules = 64;
inline constexpr size_t kMaxSplitTargets = 16;
inline constexpr size_t kMaxRouteConditionHeaders = 8;

absl::StatusOr<RouteDocument> ParseRouteDocument(absl::string_view json);

}  // namespace vlb::internal

#endif  // VLB_SRC_ROUTING_ROUTE_DOCUMENT_H_
