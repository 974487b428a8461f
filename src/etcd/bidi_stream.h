// A bidirectional etcd stream (Watch, LeaseKeepAlive) on gRPC's callback
// API. Writes may come from any thread and are sent one at a time in order;
// every response and the final status go to the owner's hooks, which run on
// gRPC threads and should only hand the data to the dispatcher.
//
// Lifetime: the stream keeps itself alive until gRPC reports it done, so the
// owner may hold a shared_ptr and write to it at any time (writes after the
// end are dropped).
//
// Every stream requires a leader (etcd's "hasleader" metadata, what the Go
// client's WithRequireLeader sends): a member that has none refuses to open
// it, and ends it with UNAVAILABLE "etcdserver: no leader" once it lost its
// leader for a few election timeouts. Without it a member cut off from the
// majority keeps the stream open and silent, so watches would miss every
// change and keep-alives would never reach the leader.
#ifndef VLB_SRC_ETCD_BIDI_STREAM_H_
#define VLB_SRC_ETCD_BIDI_STREAM_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "etcd/connection.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"

namespace vlb::etcd {

template <typename Request, typename Response>
class BidiStream : public grpc::ClientBidiReactor<Request, Response> {
 public:
  using Starter = void (*)(Member& member, grpc::ClientContext* context,
                           grpc::ClientBidiReactor<Request, Response>* reactor);
  using ReadHook = std::function<void(Response)>;
  using DoneHook = std::function<void(const grpc::Status&)>;

  // Opens a stream to member `member_index`; nullptr if the client closes.
  static std::shared_ptr<BidiStream> Open(Connection* connection,
                                          size_t member_index, Starter start,
                                          ReadHook on_read, DoneHook on_done) {
    if (!connection->AcquireOp()) return nullptr;
    std::shared_ptr<BidiStream> stream(new BidiStream(
        connection, member_index, std::move(on_read), std::move(on_done)));
    stream->self_ = stream;
    stream->context_.AddMetadata("hasleader", "true");
    // A renewal racing in between makes this older than the token sent;
    // InvalidateToken() then ignores it and the next refusal names the
    // right one.
    stream->token_used_ = connection->token();
    connection->AttachToken(&stream->context_);
    connection->AddContext(&stream->context_);
    start(connection->member(member_index), &stream->context_, stream.get());
    // The hold keeps OnDone from running while Write() may still start an
    // operation from outside a reaction; it is removed when reading ends.
    stream->AddHold();
    stream->StartRead(&stream->response_);
    stream->StartCall();
    return stream;
  }

  void Write(Request request) {
    {
      absl::MutexLock lock(&mu_);
      if (reads_ended_) return;
      pending_.push_back(std::move(request));
      if (writing_) return;
      writing_ = true;
      in_flight_ = std::move(pending_.front());
      pending_.pop_front();
      // Reads have not ended, so the main hold is still in place; this one
      // keeps the call open until StartWrite below has been issued.
      this->AddHold();
    }
    // Outside the lock: the reaction may run on another thread at once.
    this->StartWrite(&in_flight_);
    this->RemoveHold();
  }

  void Cancel() { context_.TryCancel(); }
  size_t member_index() const { return member_index_; }
  // The auth token the stream was opened with ("" without auth). etcd
  // checks watch creates against it for the stream's whole life.
  const std::string& token_used() const { return token_used_; }

 private:
  BidiStream(Connection* connection, size_t member_index, ReadHook on_read,
             DoneHook on_done)
      : connection_(connection),
        member_index_(member_index),
        on_read_(std::move(on_read)),
        on_done_(std::move(on_done)) {}

  void OnReadDone(bool ok) override {
    if (ok) {
      on_read_(std::move(response_));
      response_.Clear();
      this->StartRead(&response_);
      return;
    }
    bool remove_hold = false;
    {
      absl::MutexLock lock(&mu_);
      remove_hold = !reads_ended_;
      reads_ended_ = true;
      pending_.clear();
    }
    // Reads end only when the stream failed or was cancelled; make sure the
    // server side ends too, then let gRPC finish the call.
    context_.TryCancel();
    if (remove_hold) this->RemoveHold();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      if (!ok || reads_ended_ || pending_.empty()) {
        writing_ = false;
        return;
      }
      in_flight_ = std::move(pending_.front());
      pending_.pop_front();
    }
    this->StartWrite(&in_flight_);
  }

  void OnDone(const grpc::Status& status) override {
    Connection* connection = connection_;
    connection->RemoveContext(&context_);
    on_done_(status);
    on_read_ = nullptr;
    on_done_ = nullptr;
    std::shared_ptr<BidiStream> keep = std::move(self_);
    keep.reset();  // may delete this
    connection->ReleaseOp();
  }

  Connection* const connection_;
  const size_t member_index_;
  ReadHook on_read_;
  DoneHook on_done_;
  std::shared_ptr<BidiStream> self_;
  std::string token_used_;  // set before the call starts, then read-only
  grpc::ClientContext context_;
  Response response_;

  absl::Mutex mu_;
  std::deque<Request> pending_ ABSL_GUARDED_BY(mu_);
  // Owned by the write in progress (set under mu_ by whoever starts it).
  Request in_flight_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_BIDI_STREAM_H_
