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
  // The last holder may let go on the client's own dispatcher thread (a
  // task it posted held the last reference), where Close() cannot wait for
  // that thread: the client is then closed from a thread of its own.
  std::shared_ptr<etcd::Client> client(
      created->release(), [](etcd::Client* unused) {
        if (!unused->InDispatcherThread()) {
          delete unused;
          return;
        }
        std::thread([unused] { delete unused; }).detach();
      });
  (*pool)[key] = client;
  return client;
}

}  // namespace vlb::internal
