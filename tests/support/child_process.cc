#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

extern char** environ;

namespace vlb::testing {
namespace {

absl::Status ErrnoError(absl::string_view what, int error) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(error)));
}

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::Status MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  // O_CLOEXEC: a child spawned concurrently by another thread must not
  // inherit our pipe ends, or we would never see EOF on them.
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
  return absl::OkStatus();
}

// Everything execve() needs, built before fork(): the child may not
// allocate, since another thread may have held the malloc lock at fork time.
struct ExecPlan {
  std::string path;
  std::vector<std::string> arg_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

absl::StatusOr<ExecPlan> MakePlan(
    const std::string& program, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env) {
  ExecPlan plan;
  absl::StatusOr<std::string> path = FindExecutable(program);
  if (!path.ok()) return path.status();
  plan.path = *std::move(path);
  plan.arg_storage.push_back(program);
  plan.arg_storage.insert(plan.arg_storage.end(), args.begin(), args.end());
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view var = *entry;
    absl::string_view name = var.substr(0, var.find('='));
    bool overridden =
        std::any_of(env.begin(), env.end(),
                    [name](const auto& kv) { return kv.first == name; });
    if (!overridden) plan.env_storage.emplace_back(var);
  }
  for (const auto& [name, value] : env) {
    plan.env_storage.push_back(absl::StrCat(name, "=", value));
  }
  for (std::string& arg : plan.arg_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  for (std::string& var : plan.env_storage) plan.envp.push_back(var.data());
  plan.envp.push_back(nullptr);
  return plan;
}

// Forks and execs `plan` with stdout/stderr on the given descriptors (-1:
// inherit). Reports exec failures through a close-on-exec pipe, so that a
// missing or non-executable program is an error here rather than a child
// that exits with 127 later.
absl::StatusOr<pid_t> ForkExec(const ExecPlan& plan, int out_fd, int err_fd,
                               bool kill_with_parent) {
  Fd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (dev_null.get() < 0) return ErrnoError("open /dev/null", errno);
  Fd error_read;
  Fd error_write;
  if (absl::Status status = MakePipe(error_read, error_write); !status.ok()) {
    return status;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    if (kill_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // The parent may have died before prctl() took effect.
      if (getppid() != parent) _exit(127);
    }
    // Signal masks and ignored signals survive exec; the program should
    // start with the defaults whatever the test runner did to its threads.
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    struct sigaction default_action = {};
    default_action.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &default_action, nullptr);
    // dup2() clears close-on-exec on the copies, which is what we want.
    dup2(dev_null.get(), STDIN_FILENO);
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
    // Descriptors other code opened without O_CLOEXEC (listening sockets,
    // say) would otherwise live on in the child and keep ports busy.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
    int error = errno;
    ssize_t ignored = write(error_write.get(), &error, sizeof(error));
    (void)ignored;
    _exit(127);
  }
  error_write.Reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_read.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(child_errno)) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return ErrnoError(absl::StrCat("exec ", plan.path), child_errno);
  }
  return pid;
}

// Non-blocking waitpid() that retries on EINTR. Returns true once reaped.
bool TryReap(pid_t pid, int& status) {
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      // ECHILD: someone else reaped it; treat it as gone.
      status = 0;
      return true;
    }
    return false;
  }
}

// Polls with a short, growing interval: children usually exit within
// milliseconds of a signal, and tests should not pay a fixed delay for it.
bool ReapWithin(pid_t pid, int& status, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration interval = absl::Microseconds(500);
  while (true) {
    if (TryReap(pid, status)) return true;
    absl::Time now = absl::Now();
    if (now >= deadline) return false;
    absl::SleepFor(std::min(interval, deadline - now));
    interval = std::min(interval * 2, absl::Milliseconds(20));
  }
}

}  // namespace

absl::StatusOr<std::string> FindExecutable(const std::string& program) {
  auto executable = [](const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           access(path.c_str(), X_OK) == 0;
  };
  if (program.empty()) return absl::InvalidArgumentError("empty program name");
  if (program.find('/') != std::string::npos) {
    if (executable(program)) return program;
    return absl::NotFoundError(
        absl::StrCat(program, " does not exist or is not executable"));
  }
  const char* path_env = getenv("PATH");
  std::string path =
      path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (executable(candidate)) return candidate;
  }
  return absl::NotFoundError(
      absl::StrCat(program, " not found in $PATH (", path, ")"));
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    Options options) {
  absl::StatusOr<ExecPlan> plan =
      MakePlan(options.program, options.args, options.env);
  if (!plan.ok()) return plan.status();
  Fd output;
  if (!options.output_path.empty()) {
    output = Fd(open(options.output_path.c_str(),
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (output.get() < 0) {
      return ErrnoError(absl::StrCat("open ", options.output_path), errno);
    }
  }
  absl::StatusOr<pid_t> pid =
      ForkExec(*plan, output.get(), output.get(), options.kill_with_parent);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<ChildProcess>(new ChildProcess(*pid));
}

ChildProcess::~ChildProcess() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

absl::Status ChildProcess::Kill(int signal) {
  if (reaped_) return absl::OkStatus();
  if (kill(pid_, signal) != 0) {
    return ErrnoError(absl::StrCat("kill ", pid_), errno);
  }
  return absl::OkStatus();
}

absl::Status ChildProcess::Suspend(absl::Duration timeout) {
  if (absl::Status sent = Kill(SIGSTOP); !sent.ok()) return sent;
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Microseconds(100);
  while (!reaped_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WUNTRACED | WNOHANG);
    if (r == pid_ && WIFSTOPPED(status)) return absl::OkStatus();
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped_ = true;
      wait_status_ = status;
      break;
    }
    if (r < 0 && errno != EINTR) return ErrnoError("waitpid", errno);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " not stopped ",
                       absl::FormatDuration(timeout), " after SIGSTOP"));
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(10));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("process ", pid_, " exited instead of stopping"));
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  if (!reaped_) {
    if (!ReapWithin(pid_, wait_status_, timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running after ",
                       absl::FormatDuration(timeout)));
    }
    reaped_ = true;
  }
  return wait_status_;
}

bool ChildProcess::Running() {
  if (!reaped_ && TryReap(pid_, wait_status_)) reaped_ = true;
  return !reaped_;
}

int ChildProcess::Terminate(absl::Duration grace) {
  if (!reaped_) {
    (void)Kill(SIGTERM);
    if (!Wait(grace).ok()) {
      (void)Kill(SIGKILL);
      (void)Wait(absl::InfiniteDuration());
    }
  }
  return wait_status_;
}

absl::StatusOr<CommandResult> RunCommand(
    const std::string& program, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env,
    absl::Duration timeout) {
  absl::StatusOr<ExecPlan> plan = MakePlan(program, args, env);
  if (!plan.ok()) return plan.status();
  Fd out_read, out_write, err_read, err_write;
  if (absl::Status s = MakePipe(out_read, out_write); !s.ok()) return s;
  if (absl::Status s = MakePipe(err_read, err_write); !s.ok()) return s;
  // Short-lived helpers need not die with the spawning thread, and must not:
  // they may be started from a test's worker thread.
  absl::StatusOr<pid_t> pid = ForkExec(*plan, out_write.get(), err_write.get(),
                                       /*kill_with_parent=*/false);
  if (!pid.ok()) return pid.status();
  out_write.Reset();
  err_write.Reset();

  const absl::Time deadline = absl::Now() + timeout;
  CommandResult result;
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.stdout_text, &result.stderr_text};
  int open_streams = 2;
  bool timed_out = false;
  while (open_streams > 0) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    int ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    int ready = poll(fds, 2, ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      kill(*pid, SIGKILL);
      int status;
      waitpid(*pid, &status, 0);
      return ErrnoError("poll", errno);
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // poll() ignores negative descriptors
        --open_streams;
      }
    }
  }
  int status = 0;
  if (timed_out || !ReapWithin(*pid, status, deadline - absl::Now())) {
    kill(*pid, SIGKILL);
    while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::DeadlineExceededError(absl::StrCat(
        program, " ", absl::StrJoin(args, " "), " did not finish within ",
        absl::FormatDuration(timeout), "; stderr: ", result.stderr_text));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace vlb::testing
