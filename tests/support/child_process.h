// Child processes for tests: etcd servers, etcdctl, and registrar programs
// that tests crash on purpose.
//
// Safe to use from multithreaded tests: everything the child needs is
// prepared before fork(), and the child only calls async-signal-safe
// functions until it execs.
#ifndef VLB_TESTS_SUPPORT_CHILD_PROCESS_H_
#define VLB_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vlb::testing {

// Finds `program` like a shell would: names containing '/' are used as they
// are, others are looked up in $PATH. NotFound if it is not an executable.
absl::StatusOr<std::string> FindExecutable(const std::string& program);

class ChildProcess {
 public:
  struct Options {
    std::string program;            // a path, or a name looked up in $PATH
    std::vector<std::string> args;  // argv[1...]
    // Added to (or replacing in) the parent's environment.
    std::vector<std::pair<std::string, std::string>> env;
    // When set, stdout and stderr are appended to this file; otherwise they
    // are inherited, so the child's output lands in the test log.
    std::string output_path;
    // SIGKILLs the child when the thread that spawned it exits (the kernel
    // ties this to the thread, not the process), so a crashed test leaves
    // no etcd behind. Spawn from the test's main thread or turn this off.
    bool kill_with_parent = true;
  };

  // Starts the program. Fails (without leaving a process behind) when it
  // cannot be found or exec'd.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(Options options);

  // SIGKILLs and reaps the child if it is still running.
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal`; a no-op once the child has been reaped.
  absl::Status Kill(int signal);

  // SIGSTOPs the child and waits up to `timeout` until all its threads have
  // stopped. kill() alone returns before that: the kernel stops a process
  // only once one of its threads dequeues the signal, and until then the
  // others run on (for milliseconds on a loaded machine). FailedPrecondition
  // if the child exited instead.
  absl::Status Suspend(absl::Duration timeout);

  // Waits up to `timeout` for the child to exit and reaps it. Returns the raw
  // wait status (use WIFEXITED() and friends), or DeadlineExceeded.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // Reaps the child if it has exited; true while it has not.
  bool Running();

  // SIGTERM, then SIGKILL if it has not exited after `grace`. Returns the
  // wait status.
  int Terminate(absl::Duration grace);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
};

// Runs a program to completion, capturing its output. DeadlineExceeded (and
// the program is killed) when it runs longer than `timeout`; a non-zero exit
// is not an error here, it is reported in `exit_code`.
absl::StatusOr<CommandResult> RunCommand(
    const std::string& program, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env,
    absl::Duration timeout);

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_CHILD_PROCESS_H_
