// Carrying a call's routing headers (its lane, and its version if wanted)
// into the calls a server makes downstream, so that a lane chosen at the
// edge holds on every hop of the chain (README "Lanes").
//
//   // In a handler (sync, async or callback API alike):
//   grpc::ClientContext downstream;
//   absl::Status copied = vlb::PropagateRoutingHeaders(*context, &downstream);
//   if (!copied.ok()) { /* InvalidArgument: a configured name is unusable */ }
//   user_stub->GetUser(&downstream, request, &reply);
#ifndef VLB_PROPAGATION_H_
#define VLB_PROPAGATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "vlb/policy_names.h"

namespace vlb {

// Which metadata entries carry routing from a received call into the calls
// made on its behalf. The lane header by default; add the version header
// (kDefaultVersionHeader) when a hop should pass the caller's version
// request on too, or other names your policies read ("laneHeader",
// "header", route rules' `when.header`). Names are matched
// case-insensitively ("X-Lane" is "x-lane": metadata keys are lower case on
// the wire). A name listed twice is copied once.
struct RoutingHeaders {
  std::vector<std::string> names = {kDefaultLaneHeader};
};

// Adds to `client` every value of each entry named in `headers` that the
// call of `server` received, in the order received. Names the call did not
// receive are skipped. Call it once per ClientContext, before the call
// starts, and do not also set one of these names on `client` yourself (two
// x-version entries make one malformed request; two x-lane entries are
// one lane if they agree, and fail the call if they do not). `server` is a
// grpc::ServerContext (sync and async APIs; for the async API once the
// request's tag came back ok) or a grpc::CallbackServerContext.
//
// Returns InvalidArgument naming the entry (`RoutingHeaders.names[1]: ...`)
// and adds nothing when a name cannot be sent as text metadata, because
// gRPC aborts the process on metadata it refuses when the call starts:
// empty, characters outside [0-9a-z_.-] once lowered, a pseudo-header
// (":path"), a "grpc-" name, a header gRPC or HTTP/2 reserves ("te",
// "host", "content-type"...), or a binary "-bin" name (routing headers are
// text; binary metadata is not passed on). A received value gRPC could not
// send (a byte outside printable ASCII 0x20-0x7E, which a non-gRPC peer can
// send) is dropped, not copied.
//
// Thread-compatible like `client`; `server` is only read, so several
// threads may propagate from one server call into their own contexts. Cost:
// one pass over each name, a map lookup per name and one copy per value
// copied; nothing beside the client context is kept.
[[nodiscard]] absl::Status PropagateRoutingHeaders(
    const grpc::ServerContextBase& server, grpc::ClientContext* client,
    const RoutingHeaders& headers = {});

}  // namespace vlb

#endif  // VLB_PROPAGATION_H_
