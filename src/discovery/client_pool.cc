#include "discovery/client_pool.h"

#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vlb::internal {

namespace {
// Guards the pool below (a function-local static the analysis cannot
// annotate); constant-initialized, never destroyed.
ABSL_CONST_INIT absl::Mutex pool_mu(absl::kConstInit);

// Close() waits for the client's dispatcher thread and for gRPC to complete
// the operations it cancels, so it must not run on a thread either of them
// needs, and the last holder may be on one: the client's own dispatcher (a
// task it ran held the last reference) or a gRPC thread. A channel's resolver
// is destroyed on whichever gRPC thread drains the channel's WorkSerializer,
// often an executor thread, and gRPC queues the completions Close() waits for
// (a stream's OnDone) on its executor threads, possibly that one: Close()
// there never returned, and every later gRPC callback queued to that thread
// stalled with it. The releasing thread cannot tell, so every close gets a
// short-lived thread of its own.
void CloseOnThreadOfItsOwn(etcd::Client* client) {
  std::thread([client] { delete client; }).detach();
}
}  // namespace

absl::StatusOr<std::shared_ptr<etcd::Client>> AcquireEtcdClient(
    const etcd::ClientOptions& options) {
  // Leaked on purpose: resolvers may release clients during static
  // destruction, after a function-local map would be gone.
  static auto* pool = new std::map<std::string, std::weak_ptr<etcd::Client>>;
  const std::string key = etcd::ClientOptionsKey(options);
  absl::MutexLock lock(&pool_mu);
  if (auto it = pool->find(key); it != pool->end()) {
    if (std::shared_ptr<etcd::Client> client = it->second.lock()) {
      return client;
    }
  }
  absl::StatusOr<std::unique_ptr<etcd::Client>> created =
      etcd::Client::Create(options);
  if (!created.ok()) return created.status();
  std::shared_ptr<etcd::Client> client(created->release(),
                                       CloseOnThreadOfItsOwn);
  (*pool)[key] = client;
  return client;
}

}  // namespace vlb::internal
