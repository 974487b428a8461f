#include "discovery/dns_worker.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace vlb::internal {
namespace {

using Done = std::function<void(absl::StatusOr<std::vector<SocketAddress>>)>;

struct Job {
  std::string host_port;
  Done done;
};

// How long the thread waits for more work before it ends.
constexpr std::chrono::seconds kIdleExit{5};

class Worker {
 public:
  void Submit(Job job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
    if (running_) {
      cv_.notify_one();
      return;
    }
    running_ = true;
    // Detached: it ends by itself once idle, and holds nothing that must
    // be released at exit.
    std::thread([this] { Loop(); }).detach();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      if (jobs_.empty() &&
          !cv_.wait_for(lock, kIdleExit, [this] { return !jobs_.empty(); })) {
        running_ = false;
        return;
      }
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job.done(ResolveHostPort(job.host_port));
      job = Job();  // release what `done` holds outside the lock
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;  // guarded by mu_
  bool running_ = false;  // guarded by mu_
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
