// One thread that runs tasks in order, now or after a delay. Every callback
// the etcd client makes runs here, so the state machines above it need no
// locks and see events in the order they happened.
//
// Thread-safety: every method may be called from any thread (Shutdown()
// not from the dispatcher thread itself). Post/PostAfter/Cancel take one
// mutex for O(log n) work.
#ifndef VLB_SRC_ETCD_DISPATCHER_H_
#define VLB_SRC_ETCD_DISPATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/scheduler.h"

namespace vlb::etcd {

class Dispatcher final : public internal::Scheduler {
 public:
  Dispatcher();
  ~Dispatcher() override;  // Shutdown()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // The monotonic clock (steady_clock), as an absl::Time.
  absl::Time Now() const override;

  // Queues `fn`; tasks posted from one thread run in posting order.
  // Returns a timer id for Cancel(); 0 if shut down (fn is dropped).
  uint64_t Post(std::function<void()> fn) {
    return PostAfter(absl::ZeroDuration(), std::move(fn));
  }
  uint64_t PostAfter(absl::Duration delay, std::function<void()> fn) override;
  // Removes a task that has not started. True if it was removed.
  bool Cancel(uint64_t id) override;

  // Runs `fn` on the dispatcher thread and waits for it; runs it inline when
  // already there or when the dispatcher is shut down.
  void RunSync(const std::function<void()>& fn);

  // Drops pending tasks, waits for the running one, joins the thread.
  // Must not be called from the dispatcher thread.
  void Shutdown();

  bool InThread() const { return std::this_thread::get_id() == thread_id_; }

 private:
  using Key = std::pair<absl::Time, uint64_t>;  // (due, id): FIFO per time

  void Loop();
  // Waits until the first task is due or something changes; returns the
  // task to run, or an empty function to look again.
  std::function<void()> TakeDueTask() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<Key, std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<uint64_t, absl::Time> due_by_id_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  std::thread::id thread_id_;
};

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_DISPATCHER_H_
