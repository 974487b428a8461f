// Echo servers that are the middle of a chain of services: each Unary call
// is forwarded to the next service through an etcd: channel, carrying the
// routing headers with vlb::PropagateRoutingHeaders. One per gRPC server
// API (sync, callback, async), written the way README "Carrying routing
// headers downstream" shows. A reply's instance is the path the call took,
// "<hop>><the downstream reply's instance>", e.g. "gateway>app>user-x".
#ifndef VLB_TESTS_INTEGRATION_FORWARDING_ECHO_H_
#define VLB_TESTS_INTEGRATION_FORWARDING_ECHO_H_

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "vlb/propagation.h"

namespace vlb::testing {

// Where a hop forwards to, and which headers it carries along.
struct NextHop {
  std::shared_ptr<vlbtest::Echo::Stub> stub;
  RoutingHeaders headers;
};

namespace forwarding_internal {

inline grpc::Status FromAbsl(const absl::Status& status) {
  return grpc::Status(grpc::StatusCode::INTERNAL,
                      std::string(status.message()));
}

// The downstream outcome as this hop's reply: the path so far, or the
// downstream error naming this hop.
inline grpc::Status Answer(const std::string& hop, const grpc::Status& status,
                           const vlbtest::EchoReply& downstream,
                           vlbtest::EchoReply* reply) {
  if (!status.ok()) {
    return grpc::Status(status.error_code(),
                        absl::StrCat(hop, ": ", status.error_message()));
  }
  reply->set_instance(absl::StrCat(hop, ">", downstream.instance()));
  reply->set_text(downstream.text());
  return grpc::Status::OK;
}

}  // namespace forwarding_internal

// Sync API: the handler blocks on the downstream call. Thread-safe.
class SyncForwarder final : public vlbtest::Echo::Service {
 public:
  SyncForwarder(std::string name, NextHop next)
      : name_(std::move(name)), next_(std::move(next)) {}

  grpc::Status Unary(grpc::ServerContext* context,
                     const vlbtest::EchoRequest* request,
                     vlbtest::EchoReply* reply) override {
    // Deadline and cancellation from gRPC, routing headers from vlb.
    std::unique_ptr<grpc::ClientContext> downstream =
        grpc::ClientContext::FromServerContext(*context);
    absl::Status copied =
        PropagateRoutingHeaders(*context, downstream.get(), next_.headers);
    if (!copied.ok()) return forwarding_internal::FromAbsl(copied);
    vlbtest::EchoReply answer;
    grpc::Status status =
        next_.stub->Unary(downstream.get(), *request, &answer);
    return forwarding_internal::Answer(name_, status, answer, reply);
  }

 private:
  const std::string name_;
  const NextHop next_;
};

// Callback API: the downstream call is a callback call too, and its
// completion finishes the server call. Thread-safe.
class CallbackForwarder final : public vlbtest::Echo::CallbackService {
 public:
  CallbackForwarder(std::string name, NextHop next)
      : name_(std::move(name)), next_(std::move(next)) {}

  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                  const vlbtest::EchoRequest* request,
                                  vlbtest::EchoReply* reply) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // Lives until the downstream call is done (its callback holds it).
    struct Downstream {
      std::unique_ptr<grpc::ClientContext> context;
      vlbtest::EchoReply answer;
    };
    auto call = std::make_shared<Downstream>();
    call->context = grpc::ClientContext::FromCallbackServerContext(*context);
    absl::Status copied =
        PropagateRoutingHeaders(*context, call->context.get(), next_.headers);
    if (!copied.ok()) {
      reactor->Finish(forwarding_internal::FromAbsl(copied));
      return reactor;
    }
    next_.stub->async()->Unary(
        call->context.get(), request, &call->answer,
        [this, call, reactor, reply](grpc::Status status) {
          reactor->Finish(
              forwarding_internal::Answer(name_, status, call->answer, reply));
        });
    return reactor;
  }

 private:
  const std::string name_;
  const NextHop next_;
};

// Async (completion queue) API: one thread takes each request from the
// server's queue, forwards it (blocking) and finishes it. Usage: register
// service(), build the server with the queue from builder.AddCompletionQueue(),
// Start(queue); after grpc::Server::Shutdown(), Stop().
class AsyncForwarder {
 public:
  AsyncForwarder(std::string name, NextHop next)
      : name_(std::move(name)), next_(std::move(next)) {}
  ~AsyncForwarder() { Stop(); }

  grpc::Service* service() { return &service_; }

  void Start(std::unique_ptr<grpc::ServerCompletionQueue> queue) {
    queue_ = std::move(queue);
    RequestNext();
    thread_ = std::thread([this] { Serve(); });
  }

  // Once the server is shut down: drains the queue, joins the thread.
  void Stop() {
    if (!thread_.joinable()) return;
    queue_->Shutdown();
    thread_.join();
  }

 private:
  struct Call {
    grpc::ServerContext context;
    vlbtest::EchoRequest request;
    grpc::ServerAsyncResponseWriter<vlbtest::EchoReply> responder{&context};
    vlbtest::EchoReply reply;
    bool finishing = false;
  };

  void RequestNext() {
    auto* call = new Call;
    service_.RequestUnary(&call->context, &call->request, &call->responder,
                          queue_.get(), queue_.get(), call);
  }

  void Serve() {
    void* tag = nullptr;
    bool ok = false;
    while (queue_->Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      // A finished call, or a request cancelled by the server's shutdown.
      if (call->finishing || !ok) {
        delete call;
        continue;
      }
      RequestNext();
      const grpc::Status status = Forward(call);
      call->finishing = true;
      call->responder.Finish(call->reply, status, call);
    }
  }

  // The request's metadata is readable once its tag came back ok.
  grpc::Status Forward(Call* call) {
    std::unique_ptr<grpc::ClientContext> downstream =
        grpc::ClientContext::FromServerContext(call->context);
    absl::Status copied =
        PropagateRoutingHeaders(call->context, downstream.get(), next_.headers);
    if (!copied.ok()) return forwarding_internal::FromAbsl(copied);
    vlbtest::EchoReply answer;
    grpc::Status status =
        next_.stub->Unary(downstream.get(), call->request, &answer);
    return forwarding_internal::Answer(name_, status, answer, &call->reply);
  }

  const std::string name_;
  const NextHop next_;
  vlbtest::Echo::WithAsyncMethod_Unary<vlbtest::Echo::Service> service_;
  std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  std::thread thread_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_INTEGRATION_FORWARDING_ECHO_H_
