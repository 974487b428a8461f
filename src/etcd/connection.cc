#include "etcd/connection.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "etcd/tls.h"
#include "etcd/unary_call.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace vlb::etcd {
namespace {

std::shared_ptr<grpc::Channel> NewChannel(const std::string& endpoint,
                                          const TlsOptions& tls) {
  grpc::ChannelArguments args;
  // Reconnect quickly after an etcd restart; gRPC's default starts at 1 s
  // and grows to 120 s, far too slow for a registry.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // In gRPC 1.51 the "min reconnect backoff" is the least time a connection
  // attempt (TCP, TLS, HTTP/2 settings) gets, not a pause between attempts
  // (subchannel.cc). At 100 ms a loaded machine times out its first
  // connect ("tcp handshaker shutdown") and the first request fails; 1 s
  // keeps connects to a hung member short without failing slow ones.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  // Detect a dead peer under a long-lived stream. etcd's default
  // enforcement allows pings every 5 s while streams are open.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Each client gets its own connections instead of sharing a global
  // subchannel with unrelated channels to the same address.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  // gRPC reports a failed TLS handshake tersely ("Socket closed", "Endpoint
  // read failed"); the interceptor adds the likely cause to every error.
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(TlsFailureInterceptorFactory(endpoint, tls));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      endpoint, ChannelCredentials(tls), args, std::move(interceptors));
}

}  // namespace

Connection::Connection(const ClientOptions& options) : options_(options) {
  for (const std::string& endpoint : options_.endpoints) {
    auto member = std::make_unique<Member>();
    member->endpoint = endpoint;
    member->channel = NewChannel(endpoint, options_.tls);
    member->kv = etcdserverpb::KV::NewStub(member->channel);
    member->watch = etcdserverpb::Watch::NewStub(member->channel);
    member->lease = etcdserverpb::Lease::NewStub(member->channel);
    member->auth = etcdserverpb::Auth::NewStub(member->channel);
    members_.push_back(std::move(member));
  }
}

Connection::~Connection() { CloseAndWait(); }

void Connection::MarkFailed(size_t index) {
  size_t expected = index % members_.size();
  preferred_.compare_exchange_strong(expected,
                                     (expected + 1) % members_.size());
}

void Connection::AttachToken(grpc::ClientContext* context) {
  std::string current = token();
  if (!current.empty()) context->AddMetadata("token", current);
}

std::string Connection::token() {
  absl::MutexLock lock(&mu_);
  return token_;
}

void Connection::InvalidateToken(const std::string& token_used) {
  absl::MutexLock lock(&mu_);
  if (token_ == token_used) token_.clear();
}

void Connection::EnsureToken(std::function<void(absl::Status)> then) {
  if (!auth_enabled() || !token().empty()) {
    then(absl::OkStatus());
    return;
  }
  // Concurrent requests may each authenticate once; any resulting token is
  // valid, so the race costs a request, not correctness.
  etcdserverpb::AuthenticateRequest request;
  request.set_name(options_.username);
  request.set_password(options_.password);
  UnaryCall<etcdserverpb::AuthenticateRequest,
            etcdserverpb::AuthenticateResponse>::
      Start(
          this, "Authenticate",
          [](Member& m, grpc::ClientContext* c,
             const etcdserverpb::AuthenticateRequest* q,
             etcdserverpb::AuthenticateResponse* r,
             std::function<void(grpc::Status)> f) {
            m.auth->async()->Authenticate(c, q, r, std::move(f));
          },
          std::move(request),
          [this, then = std::move(then)](
              absl::StatusOr<etcdserverpb::AuthenticateResponse> response) {
            if (!response.ok()) {
              then(response.status());
              return;
            }
            {
              absl::MutexLock lock(&mu_);
              token_ = response->token();
            }
            then(absl::OkStatus());
          },
          /*authenticate=*/true);
}

bool Connection::AcquireOp() {
  absl::MutexLock lock(&mu_);
  if (closing_) return false;
  ++ops_;
  return true;
}

void Connection::ReleaseOp() {
  absl::MutexLock lock(&mu_);
  --ops_;  // CloseAndWait's condition is evaluated on unlock
}

void Connection::AddContext(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  contexts_.insert(context);
  // A call that starts while closing is cancelled at once.
  if (closing_) context->TryCancel();
}

void Connection::RemoveContext(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  contexts_.erase(context);
}

bool Connection::closing() {
  absl::MutexLock lock(&mu_);
  return closing_;
}

void Connection::CloseAndWait() {
  absl::MutexLock lock(&mu_);
  closing_ = true;
  for (grpc::ClientContext* context : contexts_) context->TryCancel();
  auto all_ended = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ops_ == 0; };
  mu_.Await(absl::Condition(&all_ended));
}

}  // namespace vlb::etcd
