// What the keep-alive and watch streams share: opening a stream whose
// responses and end are handed to the dispatcher in order, and reconnecting
// after it broke (next member, fresh token if needed, jittered backoff).
#ifndef VLB_SRC_ETCD_STREAM_PLUMBING_H_
#define VLB_SRC_ETCD_STREAM_PLUMBING_H_

#include <functional>
#include <memory>
#include <utility>

#include "common/backoff.h"
#include "etcd/bidi_stream.h"
#include "etcd/connection.h"
#include "etcd/dispatcher.h"

namespace vlb::etcd {

// Opens a stream on the preferred member. `on_response` and `on_done` run on
// the dispatcher and get the stream, so owners can ignore what a stream they
// already replaced still delivers (nullptr once that stream is gone).
// nullptr when the client is closing.
template <typename Request, typename Response>
std::shared_ptr<BidiStream<Request, Response>> OpenDispatchedStream(
    Connection* connection, Dispatcher* dispatcher,
    typename BidiStream<Request, Response>::Starter start,
    std::function<void(const std::shared_ptr<BidiStream<Request, Response>>&,
                       const Response&)>
        on_response,
    std::function<void(const std::shared_ptr<BidiStream<Request, Response>>&,
                       const grpc::Status&)>
        on_done) {
  using Stream = BidiStream<Request, Response>;
  // The stream learns its own shared_ptr only after Open() returns.
  auto holder = std::make_shared<std::weak_ptr<Stream>>();
  std::shared_ptr<Stream> stream = Stream::Open(
      connection, connection->preferred(), start,
      [dispatcher, holder, on_response](Response response) {
        dispatcher->Post([on_response, holder, response = std::move(response)] {
          on_response(holder->lock(), response);
        });
      },
      [dispatcher, holder, on_done](const grpc::Status& status) {
        dispatcher->Post(
            [on_done, holder, status] { on_done(holder->lock(), status); });
      });
  *holder = stream;
  return stream;
}

// Why a stream is reopened.
enum class Reopen {
  kMemberFailed,  // the member broke, hung or lost its leader: use the next
  kStaleToken,    // etcd refused the stream's token: same member, new token
};

// After a stream on `member` ended with `status`, or was given up for
// `why`: moves the client on to the next member (kMemberFailed) and, after
// `backoff`, calls `reopen` on the dispatcher (with a fresh token when auth
// is on). Returns the timer id.
uint64_t ScheduleStreamReconnect(Connection* connection, Dispatcher* dispatcher,
                                 internal::Backoff& backoff, size_t member,
                                 const grpc::Status& status,
                                 std::function<void()> reopen,
                                 Reopen why = Reopen::kMemberFailed);

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_STREAM_PLUMBING_H_
