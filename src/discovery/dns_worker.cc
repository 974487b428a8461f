#include "discovery/dns_worker.h"

#include <deque>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vlb::internal {
namespace {

using Done = std::function<void(absl::StatusOr<std::vector<SocketAddress>>)>;

struct Job {
  std::string host_port;
  Done done;
};

// How long the thread waits for more work before it ends.
constexpr absl::Duration kIdleExit = absl::Seconds(5);

class Worker {
 public:
  void Submit(Job job) {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(std::move(job));
    if (running_) return;  // the waiting thread sees the job on unlock
    running_ = true;
    // Detached: it ends by itself once idle, and holds nothing that must
    // be released at exit.
    std::thread([this] { Loop(); }).detach();
  }

 private:
  void Loop() {
    while (true) {
      Job job;
      if (!NextJob(&job)) return;
      job.done(ResolveHostPort(job.host_port));
      job = Job();  // release what `done` holds outside the lock
    }
  }

  // Waits up to kIdleExit for a job; false (and the thread is no longer
  // running) when none came.
  bool NextJob(Job* job) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto has_job = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !jobs_.empty();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&has_job), kIdleExit)) {
      running_ = false;
      return false;
    }
    *job = std::move(jobs_.front());
    jobs_.pop_front();
    return true;
  }

  absl::Mutex mu_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
};

Worker& TheWorker() {
  // Never destroyed: a detached thread may still use it during exit.
  static Worker* worker = new Worker();
  return *worker;
}

}  // namespace

void LookUpInBackground(std::string host_port, Done done) {
  TheWorker().Submit(Job{std::move(host_port), std::move(done)});
}

}  // namespace vlb::internal
