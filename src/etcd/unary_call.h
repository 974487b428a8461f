// One unary etcd request with failover: tried on the preferred member, then
// on each other member when the failure is one another member may not have.
// An expired auth token is renewed once per request.
#ifndef VLB_SRC_ETCD_UNARY_CALL_H_
#define VLB_SRC_ETCD_UNARY_CALL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/connection.h"
#include "etcd/status.h"
#include "grpcpp/client_context.h"

namespace vlb::etcd {

template <typename Request, typename Response>
class UnaryCall {
 public:
  // Issues the RPC on `member` (e.g. member.kv->async()->Range(...)).
  using Rpc = void (*)(Member& member, grpc::ClientContext* context,
                       const Request* request, Response* response,
                       std::function<void(grpc::Status)> on_done);
  // Runs on a gRPC thread (or inline when the client is closing).
  using Done = std::function<void(absl::StatusOr<Response>)>;

  // `authenticate` marks the Authenticate call itself, which carries no
  // token.
  static void Start(Connection* connection, const char* name, Rpc rpc,
                    Request request, Done done, bool authenticate = false) {
    if (!connection->AcquireOp()) {
      done(absl::CancelledError(
          absl::StrCat("etcd ", name, ": the client is closed")));
      return;
    }
    auto* call = new UnaryCall(connection, name, rpc, std::move(request),
                               std::move(done), authenticate);
    call->Begin();
  }

 private:
  UnaryCall(Connection* connection, const char* name, Rpc rpc, Request request,
            Done done, bool authenticate)
      : connection_(connection),
        name_(name),
        rpc_(rpc),
        request_(std::move(request)),
        done_(std::move(done)),
        authenticate_(authenticate),
        first_member_(connection->preferred()) {}

  void Begin() {
    if (authenticate_ || !connection_->auth_enabled()) {
      Attempt();
      return;
    }
    connection_->EnsureToken([this](absl::Status status) {
      if (!status.ok()) {
        Finish(std::move(status));
      } else {
        Attempt();
      }
    });
  }

  void Attempt() {
    if (connection_->closing()) {
      Finish(absl::CancelledError(
          absl::StrCat("etcd ", name_, ": the client is closed")));
      return;
    }
    member_ = first_member_ + attempt_;
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(
        std::chrono::system_clock::now() +
        absl::ToChronoNanoseconds(connection_->options().request_timeout));
    if (!authenticate_) {
      token_used_ = connection_->token();
      connection_->AttachToken(context_.get());
    }
    response_.Clear();
    connection_->AddContext(context_.get());
    rpc_(connection_->member(member_), context_.get(), &request_, &response_,
         [this](grpc::Status status) { OnAttemptDone(status); });
  }

  void OnAttemptDone(const grpc::Status& status) {
    connection_->RemoveContext(context_.get());
    if (status.ok()) {
      Finish(std::move(response_));
      return;
    }
    if (!authenticate_ && !reauthenticated_ && connection_->auth_enabled() &&
        IsAuthTokenError(status)) {
      reauthenticated_ = true;
      connection_->InvalidateToken(token_used_);
      Begin();
      return;
    }
    if (IsRetryableOnOtherEndpoint(status)) {
      connection_->MarkFailed(member_);
      if (++attempt_ < connection_->size()) {
        Attempt();
        return;
      }
    }
    Finish(
        FromGrpcStatus(status, name_, connection_->member(member_).endpoint));
  }

  void Finish(absl::StatusOr<Response> result) {
    // `done` runs before the operation is released, so Close() cannot tear
    // down what `done` uses while it runs. The call (with its
    // ClientContext, which holds a channel reference) is destroyed before
    // the release too: otherwise Close() could drop the connection's
    // channels first, and the last channel reference would go away on this
    // gRPC callback thread, where gRPC 1.51's shutdown joins itself.
    done_(std::move(result));
    Connection* connection = connection_;
    delete this;
    connection->ReleaseOp();
  }

  Connection* const connection_;
  const char* const name_;
  const Rpc rpc_;
  const Request request_;
  Done done_;
  const bool authenticate_;
  const size_t first_member_;
  size_t attempt_ = 0;
  size_t member_ = 0;
  bool reauthenticated_ = false;
  std::string token_used_;
  std::unique_ptr<grpc::ClientContext> context_;
  Response response_;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_UNARY_CALL_H_
