#include "discovery/client_pool.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vlb::internal {
namespace {

// Everything that makes two clients behave differently: channels asking for
// other credentials or timeouts must not share one.
std::string PoolKey(const etcd::ClientOptions& options) {
  std::vector<std::string> endpoints = options.endpoints;
  std::sort(endpoints.begin(), endpoints.end());
  return absl::StrCat(absl::StrJoin(endpoints, ","), "|",
                      absl::CHexEscape(options.username), "|",
                      absl::CHexEscape(options.password), "|",
                      absl::FormatDuration(options.request_timeout), "|",
                      absl::FormatDuration(options.initial_backoff), "|",
                      absl::FormatDuration(options.max_backoff));
}

}  // namespace

absl::StatusOr<std::shared_ptr<etcd::Client>> AcquireEtcdClient(
    const etcd::ClientOptions& options) {
  // Leaked on purpose: resolvers may release clients during static
  // destruction, after a function-local map would be gone.
  static auto* mu = new std::mutex;
  static auto* pool = new std::map<std::string, std::weak_ptr<etcd::Client>>;
  const std::string key = PoolKey(options);
  std::lock_guard<std::mutex> lock(*mu);
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
