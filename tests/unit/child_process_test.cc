#include "child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::testing {
namespace {

using ::testing::HasSubstr;

TEST(RunCommandTest, CapturesStdoutStderrAndExitCode) {
  absl::StatusOr<CommandResult> result = RunCommand(
      "sh", {"-c", "echo out; echo err >&2; exit 3"}, {}, absl::Seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->stdout_text, "out\n");
  EXPECT_EQ(result->stderr_text, "err\n");
}

TEST(RunCommandTest, PassesEnvironment) {
  absl::StatusOr<CommandResult> result =
      RunCommand("sh", {"-c", "printf %s \"$VLB_TEST_VAR\""},
                 {{"VLB_TEST_VAR", "hello world"}}, absl::Seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_text, "hello world");
}

TEST(RunCommandTest, CapturesLargeOutput) {
  absl::StatusOr<CommandResult> result = RunCommand(
      "sh", {"-c", "head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2"},
      {}, absl::Seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text.size(), 1000000u);
  EXPECT_EQ(result->stderr_text.size(), 300000u);
}

TEST(RunCommandTest, TimesOutAndKills) {
  absl::Time start = absl::Now();
  absl::StatusOr<CommandResult> result =
      RunCommand("sleep", {"30"}, {}, absl::Milliseconds(200));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(RunCommandTest, MissingProgramIsNotFound) {
  absl::StatusOr<CommandResult> result =
      RunCommand("vlb-no-such-program", {}, {}, absl::Seconds(1));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
}

TEST(ChildProcessTest, ReportsExecFailure) {
  // A file that exists and is executable but is not a valid program: exec
  // itself fails, which the spawn must report.
  std::string path = absl::StrCat(::testing::TempDir(), "/vlb_not_a_program");
  {
    std::ofstream file(path);
    file << "\x7f"
         << "ELF garbage";
  }
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  ChildProcess::Options options;
  options.program = path;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(options);
  EXPECT_FALSE(child.ok());
  EXPECT_THAT(child.status().message(), HasSubstr("exec"));
  std::remove(path.c_str());
}

TEST(ChildProcessTest, WaitReturnsExitStatus) {
  ChildProcess::Options options;
  options.program = "sh";
  options.args = {"-c", "exit 5"};
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_GT((*child)->pid(), 0);
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 5);
  EXPECT_FALSE((*child)->Running());
}

TEST(ChildProcessTest, WaitTimesOutThenKillWorks) {
  ChildProcess::Options options;
  options.program = "sleep";
  options.args = {"30"};
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE((*child)->Running());
  EXPECT_EQ((*child)->Wait(absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE((*child)->Kill(SIGKILL).ok());
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  // Signalling a reaped child is a harmless no-op.
  EXPECT_TRUE((*child)->Kill(SIGTERM).ok());
}

TEST(ChildProcessTest, TerminateEscalatesToSigkill) {
  ChildProcess::Options options;
  options.program = "sh";
  // Ignores SIGTERM; `exec sleep` would lose the trap, so sleep in a loop.
  options.args = {"-c", "trap '' TERM; while true; do sleep 0.05; done"};
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  // Give the shell time to install its trap; without it the test would pass
  // through SIGTERM and not exercise the escalation.
  absl::SleepFor(absl::Milliseconds(200));
  int status = (*child)->Terminate(absl::Milliseconds(200));
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(ChildProcessTest, WritesOutputToFile) {
  std::string path = absl::StrCat(::testing::TempDir(), "/vlb_child_output");
  std::remove(path.c_str());
  ChildProcess::Options options;
  options.program = "sh";
  options.args = {"-c", "echo to-stdout; echo to-stderr >&2"};
  options.output_path = path;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->Wait(absl::Seconds(10)).ok());
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  EXPECT_EQ(contents.str(), "to-stdout\nto-stderr\n");
  std::remove(path.c_str());
}

TEST(ChildProcessTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    ChildProcess::Options options;
    options.program = "sleep";
    options.args = {"30"};
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Spawn(options);
    ASSERT_TRUE(child.ok()) << child.status();
    pid = (*child)->pid();
  }
  // Reaped: the pid no longer names a child of ours (not even a zombie).
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace vlb::testing
