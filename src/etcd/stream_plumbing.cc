#include "etcd/stream_plumbing.h"

namespace vlb::etcd {

uint64_t ScheduleStreamReconnect(Connection* connection, Dispatcher* dispatcher,
                                 internal::Backoff& backoff, size_t member,
                                 const grpc::Status& status,
                                 std::function<void()> reopen, Reopen why) {
  if (why == Reopen::kMemberFailed) connection->MarkFailed(member);
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    connection->InvalidateToken(connection->token());
  }
  return dispatcher->PostAfter(
      backoff.Next(), [connection, dispatcher, reopen = std::move(reopen)] {
        connection->EnsureToken([dispatcher, reopen](const absl::Status&) {
          // A token failure shows again on the stream itself; just try.
          dispatcher->Post(reopen);
        });
      });
}

}  // namespace vlb::etcd
