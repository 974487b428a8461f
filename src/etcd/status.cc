#include "etcd/status.h"

#include <cstdint>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "etcd/client.h"

namespace vlb::etcd {
namespace {
constexpr absl::string_view kCompactRevisionPayload =
    "type.vlb.dev/etcd.CompactRevision";
}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view operation,
                            absl::string_view endpoint) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd ", operation, " at ", endpoint, ": ",
                                   status.error_message()));
}

bool IsRetryableOnOtherEndpoint(const grpc::Status& status) {
  // A member that stopped answering on an open connection (hung, or cut
  // off from the network behind it) shows only as DEADLINE_EXCEEDED: without
  // moving on, every request would wait there for the whole timeout. The
  // request may have been applied anyway; see client.h for why retrying
  // vlb's requests is safe.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return true;
  }
  // A member that lost its leader answers with this message.
  return absl::StrContains(status.error_message(), "no leader");
}

bool IsAuthTokenError(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         absl::StrContains(status.error_message(), "invalid auth token") ||
         absl::StrContains(status.error_message(), "auth store is old");
}

bool IsAuthTokenRefusal(absl::string_view cancel_reason) {
  // etcd 3.4.23 refuses with the text of its gRPC error, e.g. "rpc error:
  // code = Unauthenticated desc = etcdserver: invalid auth token"; "user
  // name is empty" means the stream was opened without a token.
  return absl::StrContains(cancel_reason, "invalid auth token") ||
         absl::StrContains(cancel_reason, "auth store is old") ||
         absl::StrContains(cancel_reason, "user name is empty");
}

absl::Status CompactedError(int64_t compact_revision) {
  absl::Status status = absl::OutOfRangeError(absl::StrCat(
      "etcd watch start revision was compacted; oldest available revision "
      "is ",
      compact_revision));
  status.SetPayload(kCompactRevisionPayload,
                    absl::Cord(absl::StrCat(compact_revision)));
  return status;
}

bool IsCompacted(const absl::Status& status) {
  return status.GetPayload(kCompactRevisionPayload).has_value();
}

int64_t CompactRevision(const absl::Status& status) {
  auto payload = status.GetPayload(kCompactRevisionPayload);
  int64_t revision = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &revision)) {
    return 0;
  }
  return revision;
}

}  // namespace vlb::etcd
