// Conversions between gRPC and absl statuses, and the statuses the etcd
// client reports that callers must be able to tell apart.
#ifndef VLB_SRC_ETCD_STATUS_H_
#define VLB_SRC_ETCD_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace vlb::etcd {

// Prefixes the message with what was being done and where.
absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view operation,
                            absl::string_view endpoint);

// True for failures that another etcd member might not have (connection
// refused, member stopping, no leader, no answer before the deadline...):
// worth retrying elsewhere.
bool IsRetryableOnOtherEndpoint(const grpc::Status& status);

// True when etcd rejected the auth token (expired or from an older auth
// store revision): authenticate again and retry.
bool IsAuthTokenError(const grpc::Status& status);
// The same for a watch create that etcd refused with `cancel_reason`: the
// token the watch stream was opened with is no longer valid (or the stream
// carries none), so the stream must be reopened with a fresh one.
bool IsAuthTokenRefusal(absl::string_view cancel_reason);

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_STATUS_H_
