#include "discovery/client_pool.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vlb::internal {
namespace {

std::string PoolKey(const etcd::ClientOptions& options) {
  std::vector<std::string> endpoints = options.endpoints;
  std::sort(endpoints.begin(), endpoints.end());
  return absl::StrCat(absl::StrJoin(endpoints, ","), "|", options.username);
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
  std::shared_ptr<etcd::Client> client(created->release());
  (*pool)[key] = client;
  return client;
}

}  // namespace vlb::internal
