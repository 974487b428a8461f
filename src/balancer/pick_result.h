// What one pick decided and, when it failed, what it found on the way, so
// that describing the failure (PickTable::FailureStatus) only formats and
// never redoes the pick's work.
//
// 16 bytes and trivially copyable: it is returned in two registers, and the
// pick path fills it without allocating. Cached resolutions keep a filled-in
// PickResult and a pick copies it, so every field costs the same whether the
// pick took the cached or the full path.
//
// Route rules are Source::kRoute (the rule's precompiled request); `lane`
// says whether the call's lane served it. Per-outcome counters read
// `kind`, `source`, `lane` and `fallbacks_tried`.
#ifndef VLB_SRC_BALANCER_PICK_RESULT_H_
#define VLB_SRC_BALANCER_PICK_RESULT_H_

#include <cstdint>
#include <type_traits>

#include "balancer/version.h"

namespace vlb::internal {

struct PickResult {
  enum class Kind : uint8_t {
    kPicked,       // `endpoint` is the index into Build()'s `endpoints`
    kQueue,        // matching instances are still connecting: wait
    kNoMatch,      // no instance matches the request or any fallback
    kUnreachable,  // matching instances exist but all failed to connect
    kBadRequest,   // the requested version is not valid grammar
  };
  // Where the request the pick served came from.
  enum class Source : uint8_t {
    // None: every instance was a candidate (no header and no default
    // version, or a policy that is not version-aware).
    kNone,
    kHeader,   // the call's header value
    kDefault,  // the policy's default version (the call named none)
    kRoute,    // a route rule's request (routing/route_table.h)
  };

  // Which endpoints the pick looked at (README "Lanes").
  enum class Lane : uint8_t {
    kNone,      // the call asked for no lane (or one no instance has): the
                // baseline's
    kInLane,    // the instances of the call's lane
    kBaseline,  // its lane had no ready match, so the baseline's
  };

  uint32_t endpoint = 0;  // kPicked only
  // kUnreachable: the endpoints in TRANSIENT_FAILURE among those the request
  // or a fallback matches (counted per version group), or among all of them
  // when there was no request.
  uint32_t failed = 0;
  Kind kind = Kind::kQueue;
  Source source = Source::kNone;
  // How many of the policy's fallbacks were evaluated, saturating at 255:
  // 0 when the request itself decided (or there was none, so fallbacks do
  // not apply), i + 1 when fallback i picked or queued, and all of them when
  // the pick failed.
  uint8_t fallbacks_tried = 0;
  Lane lane = Lane::kNone;
  // kBadRequest: why the header value does not parse.
  VersionRequest::SyntaxError syntax_error;
};

static_assert(std::is_trivially_copyable_v<PickResult>);
static_assert(sizeof(PickResult) <= 16, "PickResult is returned in registers");

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_PICK_RESULT_H_
