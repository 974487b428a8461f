#include "etcd/dispatcher.h"

#include <future>

namespace vlb::etcd {

Dispatcher::Dispatcher() {
  thread_ = std::thread([this] { Loop(); });
  thread_id_ = thread_.get_id();
}

Dispatcher::~Dispatcher() { Shutdown(); }

uint64_t Dispatcher::PostAfter(absl::Duration delay, std::function<void()> fn) {
  const auto due = Clock::now() + absl::ToChronoNanoseconds(
                                      std::max(delay, absl::ZeroDuration()));
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return 0;
  const uint64_t id = next_id_++;
  tasks_.emplace(Key{due, id}, std::move(fn));
  due_by_id_.emplace(id, due);
  cv_.notify_one();
  return id;
}

bool Dispatcher::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return;
    shutdown_ = true;
    tasks_.clear();
    due_by_id_.clear();
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutdown_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = tasks_.begin();
    // Copied: the task may be cancelled (and freed) while we wait.
    const Clock::time_point due = first->first.first;
    if (due > Clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    due_by_id_.erase(first->first.second);
    tasks_.erase(first);
    lock.unlock();
    fn();
    fn = nullptr;  // destroy captures outside the lock as well
    lock.lock();
  }
}

}  // namespace vlb::etcd
