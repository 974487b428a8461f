// One thread that runs tasks in order, now or after a delay. Every callback
// the etcd client makes runs here, so the state machines above it need no
// locks and see events in the order they happened.
#ifndef VLB_SRC_ETCD_DISPATCHER_H_
#define VLB_SRC_ETCD_DISPATCHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/time/time.h"

namespace vlb::etcd {

class Dispatcher {
 public:
  Dispatcher();
  ~Dispatcher();  // Shutdown()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Queues `fn`; tasks posted from one thread run in posting order.
  // Returns a timer id for Cancel(); 0 if shut down (fn is dropped).
  uint64_t Post(std::function<void()> fn) {
    return PostAfter(absl::ZeroDuration(), std::move(fn));
  }
  uint64_t PostAfter(absl::Duration delay, std::function<void()> fn);
  // Removes a task that has not started. True if it was removed.
  bool Cancel(uint64_t id);

  // Runs `fn` on the dispatcher thread and waits for it; runs it inline when
  // already there or when the dispatcher is shut down.
  void RunSync(const std::function<void()>& fn);

  // Drops pending tasks, waits for the running one, joins the thread.
  // Must not be called from the dispatcher thread.
  void Shutdown();

  bool InThread() const { return std::this_thread::get_id() == thread_id_; }

 private:
  using Clock = std::chrono::steady_clock;
  using Key = std::pair<Clock::time_point, uint64_t>;

  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::function<void()>> tasks_;                 // guarded by mu_
  std::unordered_map<uint64_t, Clock::time_point> due_by_id_;  // mu_
  uint64_t next_id_ = 1;                                       // mu_
  bool shutdown_ = false;                                      // mu_
  std::thread thread_;
  std::thread::id thread_id_;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_DISPATCHER_H_
