// A route document compiled for one service in one process: what the
// picker consults on every call before choosing an instance. Rules whose
// caller conditions do not hold for this process are dropped at compile
// time; every version request is parsed once, here.
//
// Evaluate() is the per-call step: rules in order, the first whose `when`
// holds decides; it returns which of the table's precompiled requests the
// call uses instead of its own, or that it keeps its own. It takes no lock
// and allocates nothing (a split without a sticky header draws from a
// thread-local generator), so it runs on the pick path. Immutable after
// Compile(); const methods are safe from any number of threads.
#ifndef VLB_SRC_ROUTING_ROUTE_TABLE_H_
#define VLB_SRC_ROUTING_ROUTE_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "balancer/policy_config.h"
#include "balancer/version.h"
#include "routing/route_document.h"

namespace vlb::internal {

// Who is calling: the process's own service and version, declared once
// (plugin options; README "Caller identity"). Empty fields match no
// caller condition.
struct CallerIdentity {
  std::string service;
  std::string version;
};

// The rule that decided a call and the request it chose.
struct RouteDecision {
  static constexpr int kNone = -1;
  int rule = kNone;     // index into the document's rules; kNone: no rule
  int request = kNone;  // RouteTable::request(i); kNone: the call's own
  // For a split: which entry; for a sticky one, the user's bucket.
  int split_entry = kNone;
  int bucket = kNone;
  // The rule's "strictLane": the call's lane gets no baseline fallback.
  bool strict_lane = false;
};

// Finds a call's metadata value by lower-case name; nullopt when absent.
using HeaderLookup =
    absl::FunctionRef<std::optional<absl::string_view>(absl::string_view)>;

class RouteTable {
 public:
  // `document` must come from ParseRouteDocument (it is valid).
  static std::unique_ptr<const RouteTable> Compile(
      const RouteDocument& document, std::string service,
      const CallerIdentity& caller);

  RouteDecision Evaluate(const std::optional<absl::string_view>& requested,
                         HeaderLookup lookup) const;

  size_t num_requests() const { return requests_.size(); }
  // Whether a kept rule says "strictLane".
  bool has_strict_lane_rules() const;
  const VersionRequest& request(int i) const { return requests_[i]; }
  // The name of the document's rule `i` (RouteDecision::rule: kept for
  // this caller or not), for logs and `vlbctl explain`.
  const std::string& rule_name(int i) const { return document_rule_names_[i]; }
  size_t num_rules_in_document() const { return document_rule_names_.size(); }
  // Indices (into the document) of the rules kept for this caller.
  std::vector<int> kept_rules() const;

  // The local config with the document's defaultVersion and fallback in
  // place of its own, where the document has them.
  PolicyConfig ApplyDefaults(PolicyConfig local) const;

 private:
  struct Split {
    int request = 0;
    uint32_t end = 0;  // cumulative share of kStickyBuckets
  };
  struct Rule {
    std::string name;
    int document_index = 0;
    std::optional<std::string> when_version;
    std::vector<std::pair<std::string, std::string>> when_headers;
    int request = RouteDecision::kNone;  // for "version"
    std::vector<Split> split;
    std::optional<std::string> sticky_header;
    bool strict_lane = false;
  };

  RouteTable() = default;
  int AddRequest(absl::string_view text);
  void AddRule(const RouteRule& rule, int document_index);
  bool Holds(const Rule& rule, absl::string_view requested,
             HeaderLookup lookup) const;
  void Choose(const Rule& rule, HeaderLookup lookup,
              RouteDecision* decision) const;

  std::string service_;
  std::vector<VersionRequest> requests_;
  std::vector<Rule> rules_;
  std::vector<std::string> document_rule_names_;
  std::optional<VersionRequest> default_version_;
  std::optional<std::vector<VersionRequest>> fallback_;
};

// Whether `caller` satisfies a rule's caller conditions.
bool CallerMatches(const RouteCondition& when, const CallerIdentity& caller);

}  // namespace vlb::internal

#endif  // VLB_SRC_ROUTING_ROUTE_TABLE_H_
