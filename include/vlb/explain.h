// Why a call would go where it goes: which route rule decides it, which
// version request results, which instances would be eligible and why the
// others are not. What `vlbctl explain` prints; tests use it too.
//
//   vlb::ExplainedCall call;
//   call.version = "v1";
//   call.headers = {{"x-user-id", "uid-7"}};
//   absl::StatusOr<vlb::Explanation> e =
//       vlb::ExplainCall(etcd_options, "hwholiday.srv.app", call);
//
// It runs the picker's own code, not a model of it: the route document is
// compiled and evaluated as a client compiles and evaluates it (route_table),
// and eligibility comes from a pick table built over the listed instances
// (pick_table) as if every instance were READY. Differences from a live
// client: connectivity is not known (all READY); each record is one
// endpoint (a client merges records naming the same address, README "Shared
// addresses"); the client's local config is what `call.policy` says; an
// invalid route document is reported, where a client would keep its last
// valid one.
//
// Thread-safe: calls share no state. Synchronous; opens its own etcd
// connection, like vlb/route_admin.h. Cost: the listing of the service and
// one read of its route document.
#ifndef VLB_EXPLAIN_H_
#define VLB_EXPLAIN_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vlb/etcd_options.h"
#include "vlb/grpc.h"
#include "vlb/route_admin.h"

namespace vlb {

// The call to explain, as a client would make it.
struct ExplainedCall {
  // Its version header's value; nullopt: it sends none.
  std::optional<std::string> version;
  // Its lane (the lane header's value); empty: none.
  std::string lane;
  // Other metadata, for route rules' `when.header` and sticky splits, and
  // the version or lane header when `version` / `lane` are not set. Names
  // match case-insensitively, as gRPC lowers them on the wire.
  std::vector<std::pair<std::string, std::string>> headers;
  // The calling process's identity (PluginOptions::caller_service/version);
  // empty: no caller rule applies.
  std::string caller_service;
  std::string caller_version;
  // The client's local vlb_version settings; the route document's
  // defaultVersion and fallback override them, as in a client.
  VersionPolicyOptions policy;
};

// One instance record and what the pick would do with it.
struct InstanceVerdict {
  std::string id;
  std::string version;
  std::string lane;  // empty: the baseline
  std::string address;
  uint32_t weight = 1;
  bool drained = false;
  bool eligible = false;
  // Why not, when not eligible: "version 2.0.0 does not match \"v1\"",
  // "in lane \"feature-x\"; the call has none", "drained", ...
  std::string reason;
};

struct Explanation {
  std::string service;
  // The route document: its revision (0: there is none), and when it is
  // invalid the error a client logs (it is then not applied here).
  int64_t route_revision = 0;
  std::string route_error;
  // The deciding rule's name; empty when no rule decided.
  std::string rule;
  // For a split: the entry chosen ("1.1.0-canary.1") and, for a sticky
  // one, the user's bucket in [0, 10000); -1 without.
  int bucket = -1;
  // The request the pick served: its text ("" for every instance), where
  // it came from ("header", "default", "route rule", "none"), and the
  // fallback that decided, when one did.
  std::string request;
  std::string source;
  std::string fallback;
  // The call's lane, from ExplainedCall::lane or its lane header (one
  // lane: "a, a" is "a"); empty: none.
  std::string lane;
  // "in lane", "baseline (lane has no reachable match)", "baseline (no
  // instance is in the lane)", or "" for a call without a lane; whether the
  // lane was strict (only ever true for a call with a lane).
  std::string lane_outcome;
  bool strict_lane = false;
  // "picked" (some instance is eligible), or the failure the call would
  // get: its status message, e.g. `no instance of ... matches version "v3"
  // (available: v1, v2)`.
  std::string outcome;
  std::vector<InstanceVerdict> instances;  // sorted by id
};

// InvalidArgument naming the field for a bad service name, bad `call`
// values (a policy option, or a lane header naming two lanes; a version
// request that clients would refuse is reported in `outcome` instead), or a
// bad `routes_root`; the etcd
// client's error when etcd cannot be read.
absl::StatusOr<Explanation> ExplainCall(
    const EtcdOptions& etcd, absl::string_view service,
    const ExplainedCall& call,
    absl::string_view routes_root = kDefaultRoutesRoot);

}  // namespace vlb

#endif  // VLB_EXPLAIN_H_
