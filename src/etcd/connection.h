// The channels to the members of one etcd cluster (TLS or plaintext, as
// ClientOptions::tls says), the auth token, and the bookkeeping that lets
// Close() cancel every call and wait for it.
#ifndef VLB_SRC_ETCD_CONNECTION_H_
#define VLB_SRC_ETCD_CONNECTION_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "etcd/client.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace vlb::etcd {

// Stubs for one cluster member.
struct Member {
  std::string endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
};

class Connection {
 public:
  explicit Connection(const ClientOptions& options);
  ~Connection();

  const ClientOptions& options() const { return options_; }
  size_t size() const { return members_.size(); }
  Member& member(size_t index) { return *members_[index % members_.size()]; }

  // The member new requests and streams go to first; it moves on when a
  // member fails so that everyone converges on a working one.
  size_t preferred() const {
    return preferred_.load(std::memory_order_relaxed);
  }
  void MarkFailed(size_t index);

  // Authentication. Without a username these are no-ops.
  bool auth_enabled() const { return !options_.username.empty(); }
  void AttachToken(grpc::ClientContext* context);
  // Calls `then` (possibly inline) once a token is available, or with the
  // error that prevented getting one.
  void EnsureToken(std::function<void(absl::Status)> then);
  // Drops `token_used` if it is still the current one.
  void InvalidateToken(const std::string& token_used);
  std::string token();

  // Every call and stream is an "operation": Close() waits for all of them.
  // AcquireOp() fails once closing started.
  bool AcquireOp();
  void ReleaseOp();
  // Contexts of running RPCs, so that Close() can cancel them.
  void AddContext(grpc::ClientContext* context);
  void RemoveContext(grpc::ClientContext* context);
  bool closing();
  // Cancels every RPC and waits until every operation ended.
  void CloseAndWait();

 private:
  const ClientOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<size_t> preferred_{0};

  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  size_t ops_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::unordered_set<grpc::ClientContext*> contexts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_CONNECTION_H_
