// The metadata entry that carries a call's version request: which names and
// values it may have. One rule for the vlb_version policy config (the header
// the picker reads) and for vlb::SetVersion (what a call sends), because
// gRPC does not report a bad name or value set on a ClientContext: it
// aborts the process when the call starts.
#ifndef VLB_SRC_BALANCER_VERSION_HEADER_H_
#define VLB_SRC_BALANCER_VERSION_HEADER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {

// Returns `name` in lower case when it can name the version header.
// Upper-case letters are accepted and lowered (HTTP header names are
// case-insensitive; gRPC wants them lower-case). Refused, with
// InvalidArgument quoting `name` as given (C-escaped) and saying why:
//   - empty, or any character outside [0-9a-z_.-] after lowering (gRPC's
//     metadata key alphabet; no spaces, no non-ASCII bytes);
//   - pseudo-headers (":path"), and names gRPC reserves ("grpc-" prefix);
//   - binary metadata ("-bin" suffix): its values are bytes, a version is
//     text;
//   - HTTP/2 headers that gRPC sets or interprets itself, or that HTTP/2
//     forbids (content-type, te, host, user-agent, content-length,
//     connection...), which a call cannot carry as its own.
// The message has no field name; callers prefix theirs. Thread-safe; one
// pass over `name`.
absl::StatusOr<std::string> NormalizeVersionHeaderName(absl::string_view name);

// OK when `value` can be sent as the version header's value: not empty or
// blank, printable ASCII only (0x20-0x7E, gRPC's rule for text metadata),
// and at most VersionRequest::kMaxTextSize bytes once trimmed (a longer
// request is never valid). Otherwise InvalidArgument quoting (an excerpt
// of) `value` and naming the first problem. Thread-safe; allocates only
// the message on error.
absl::Status ValidateVersionHeaderValue(absl::string_view value);

}  // namespace vlb::internal

#endif  // VLB_SRC_BALANCER_VERSION_HEADER_H_
