// The test Echo service (proto/echo.proto): every reply names the instance
// that sent it, so tests can tell where a call went. Thread-safe.
#ifndef VLB_TESTS_INTEGRATION_ECHO_SERVICE_H_
#define VLB_TESTS_INTEGRATION_ECHO_SERVICE_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "vlb/grpc.h"

namespace vlb::testing {

using vlbtest::EchoReply;
using vlbtest::EchoRequest;

class EchoService final : public vlbtest::Echo::Service {
 public:
  explicit EchoService(std::string instance) : instance_(std::move(instance)) {}

  grpc::Status Unary(grpc::ServerContext*, const EchoRequest* request,
                     EchoReply* reply) override {
    reply->set_instance(instance_);
    reply->set_text(request->text());
    return grpc::Status::OK;
  }

  grpc::Status ServerStream(grpc::ServerContext*, const EchoRequest* request,
                            grpc::ServerWriter<EchoReply>* writer) override {
    for (int i = 0; i < request->count(); ++i) {
      EchoReply reply;
      reply.set_instance(instance_);
      reply.set_text(absl::StrCat(request->text(), "-", i));
      writer->Write(reply);
    }
    return grpc::Status::OK;
  }

  grpc::Status Bidi(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    EchoRequest request;
    while (stream->Read(&request)) {
      EchoReply reply;
      reply.set_instance(instance_);
      reply.set_text(request.text());
      stream->Write(reply);
    }
    return grpc::Status::OK;
  }

 private:
  const std::string instance_;
};

// A started in-process server of `service` on 127.0.0.1 (a port of its
// choosing, returned in `*port`); nullptr if it could not start.
inline std::unique_ptr<grpc::Server> StartEchoServer(EchoService* service,
                                                     int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

// An EchoService served in-process; see ServeEcho().
struct ServedEcho {
  std::unique_ptr<EchoService> service;
  std::unique_ptr<grpc::Server> server;  // nullptr: it did not start
  std::string address;                   // "127.0.0.1:<port>"
};

// Starts an EchoService that answers as `instance` on 127.0.0.1, on a port
// of its choosing. The caller checks that `server` is set.
inline ServedEcho ServeEcho(const std::string& instance) {
  ServedEcho echo;
  echo.service = std::make_unique<EchoService>(instance);
  int port = 0;
  echo.server = StartEchoServer(echo.service.get(), &port);
  echo.address = absl::StrCat("127.0.0.1:", port);
  return echo;
}

// One unary call with a 5 s deadline, asking for `version` (none if
// empty): the instance that answered, or "ERR <message>".
inline std::string CallEcho(vlbtest::Echo::Stub* stub,
                            const std::string& version = "") {
  grpc::ClientContext context;
  if (!version.empty()) {
    absl::Status set = vlb::SetVersion(&context, version);
    if (!set.ok()) return absl::StrCat("ERR ", set.message());
  }
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  EchoRequest request;
  EchoReply reply;
  grpc::Status status = stub->Unary(&context, request, &reply);
  return status.ok() ? reply.instance()
                     : absl::StrCat("ERR ", status.error_message());
}

}  // namespace vlb::testing

#endif  // VLB_TESTS_INTEGRATION_ECHO_SERVICE_H_
