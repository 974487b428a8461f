#include "etcd/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <future>

namespace vlb::etcd {

Dispatcher::Dispatcher() {
  thread_ = std::thread([this] { Loop(); });
  thread_id_ = thread_.get_id();
}

Dispatcher::~Dispatcher() { Shutdown(); }

absl::Time Dispatcher::Now() const {
  return absl::UnixEpoch() +
         absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

uint64_t Dispatcher::PostAfter(absl::Duration delay, std::function<void()> fn) {
  const absl::Time due = Now() + std::max(delay, absl::ZeroDuration());
  absl::MutexLock lock(&mu_);
  if (shutdown_) return 0;
  const uint64_t id = next_id_++;
  tasks_.emplace(Key{due, id}, std::move(fn));
  due_by_id_.emplace(id, due);
  return id;
}

bool Dispatcher::Cancel(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = due_by_id_.find(id);
  if (it == due_by_id_.end()) return false;
  tasks_.erase(Key{it->second, id});
  due_by_id_.erase(it);
  return true;
}

void Dispatcher::RunSync(const std::function<void()>& fn) {
  if (InThread()) {
    fn();
    return;
  }
  std::promise<void> done;
  if (Post([&] {
        fn();
        done.set_value();
      }) == 0) {
    fn();  // shut down: nothing else runs concurrently any more
    return;
  }
  done.get_future().wait();
}

void Dispatcher::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    tasks_.clear();
    due_by_id_.clear();
  }
  if (thread_.joinable()) thread_.join();
}

std::function<void()> Dispatcher::TakeDueTask() {
  // absl::Mutex wakes waiters on every unlock whose condition changed, so a
  // new earlier task or a shutdown ends the wait as a notify would.
  auto has_tasks = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shutdown_ || !tasks_.empty();
  };
  mu_.Await(absl::Condition(&has_tasks));
  if (shutdown_) return nullptr;
  const Key first = tasks_.begin()->first;
  if (first.first > Now()) {
    auto changed = [this, first]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return shutdown_ || tasks_.empty() || tasks_.begin()->first != first;
    };
    // A relative wait: Mutex deadlines are wall-clock times, ours are not.
    mu_.AwaitWithTimeout(absl::Condition(&changed), first.first - Now());
    return nullptr;
  }
  auto it = tasks_.begin();
  std::function<void()> fn = std::move(it->second);
  due_by_id_.erase(first.second);
  tasks_.erase(it);
  return fn;
}

void Dispatcher::Loop() {
  mu_.Lock();
  while (!shutdown_) {
    std::function<void()> fn = TakeDueTask();
    if (!fn) continue;
    mu_.Unlock();
    fn();
    fn = nullptr;  // destroy captures outside the lock as well
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace vlb::etcd
