// The example programs' command lines. The client refuses bad flags with
// exit status 2 and the reason, as its --help promises, instead of crashing
// in gRPC (an unsendable --version or --header aborted it) or making calls
// that can only fail (a --child_policy or target the channel refuses). Both
// examples refuse unknown flags, bad values and stray arguments the same
// way, and --help lists their flags.
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::vlb::testing::CommandResult;
using ::vlb::testing::RunCommand;

// No etcd and no server: every case is refused before a call is made (an
// unreachable address, so that a wrongly made call fails instead of hanging).
constexpr char kNowhere[] = "--target=ipv4:127.0.0.1:1";

CommandResult RunClient(std::vector<std::string> args) {
  // First, so that a test's own --deadline_ms wins (the last value does).
  args.insert(args.begin(), "--deadline_ms=500");
  absl::StatusOr<CommandResult> result =
      RunCommand(VLB_EXAMPLE_CLIENT_BIN, args,
                 {{"VLB_ETCD_ENDPOINTS", "127.0.0.1:1"}}, absl::Seconds(30));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : CommandResult{};
}

void ExpectUsageError(const std::vector<std::string>& args,
                      const std::string& message) {
  const CommandResult result = RunClient(args);
  EXPECT_EQ(result.exit_code, 2) << result.stderr_text;
  EXPECT_THAT(result.stderr_text,
              HasSubstr("vlb_example_client: error: " + message));
  EXPECT_THAT(result.stderr_text,
              HasSubstr("(run vlb_example_client --help for usage)"));
  EXPECT_THAT(result.stdout_text, IsEmpty()) << "a call was made";
}

TEST(ExampleClientTest, BadVersionExitsTwo) {
  ExpectUsageError({kNowhere, "--version=v1\n"},
                   "vlb::SetVersion: version: \"v1\\n\" cannot be sent as "
                   "metadata");
  ExpectUsageError({kNowhere, "--version=v1\xc3\xa9"},
                   "vlb::SetVersion: version: \"v1\\xc3\\xa9\" cannot be sent");
  ExpectUsageError({kNowhere, "--version=\x01"},
                   "vlb::SetVersion: version: \"\\x01\" cannot be sent");
}

TEST(ExampleClientTest, BadHeaderExitsTwo) {
  ExpectUsageError({kNowhere, "--version=v1", "--header=Bad Header"},
                   "VersionPolicyOptions.header: \"Bad Header\" is not a valid "
                   "header name");
  ExpectUsageError({kNowhere, "--version=v1", "--header=grpc-version"},
                   "VersionPolicyOptions.header: \"grpc-version\" is reserved");
}

TEST(ExampleClientTest, BadPolicyOptionsExitTwo) {
  ExpectUsageError({kNowhere, "--child_policy=bogus"},
                   "VersionPolicyOptions.child_policy: \"bogus\" is not one "
                   "of round_robin, weighted_round_robin, random");
  ExpectUsageError({kNowhere, "--fallback=v2,^"},
                   "VersionPolicyOptions.fallback[1]: invalid version "
                   "request \"^\"");
  ExpectUsageError({kNowhere, "--default_version=1..2"},
                   "VersionPolicyOptions.default_version: invalid version "
                   "request \"1..2\"");
}

TEST(ExampleClientTest, BadEtcdTargetExitsTwo) {
  ExpectUsageError({"--target=etcd://127.0.0.1:notaport/app"},
                   "etcd target \"etcd://127.0.0.1:notaport/app\": endpoint: ");
  ExpectUsageError({"--service=bad service"},
                   "etcd target \"etcd:///bad service\": service: ");
  ExpectUsageError({"--etcd=127.0.0.1", "--service=app"},
                   "etcd target \"etcd://127.0.0.1/app\": endpoint: ");
}

TEST(ExampleClientTest, BadCommandLineExitsTwo) {
  ExpectUsageError({kNowhere, "--bogus=1"}, "unknown flag --bogus");
  ExpectUsageError({kNowhere, "--calls=x"},
                   "Illegal value 'x' specified for flag 'calls'");
  ExpectUsageError({kNowhere, "--calls=1000001"},
                   "--calls: 1000001 is out of range [0, 1000000]");
  ExpectUsageError({kNowhere, "--deadline_ms=0"},
                   "--deadline_ms: 0 is out of range [1, 86400000]");
  ExpectUsageError({kNowhere, "--wait_for_ready=maybe"},
                   "Illegal value 'maybe' specified for flag 'wait_for_ready'");
  ExpectUsageError(
      {"--etcd="},
      "Illegal value '' specified for flag 'etcd'; no endpoint given");
  ExpectUsageError({kNowhere, "--service=app"},
                   "give either --target or --etcd/--service, not both");
  ExpectUsageError({kNowhere, "--header="}, "--header: must not be empty");
  ExpectUsageError({kNowhere, "stray"}, "unexpected argument \"stray\"");
  ExpectUsageError({kNowhere, "--version"}, "--version needs a value");
}

TEST(ExampleClientTest, HelpListsTheFlagsAndExitsZero) {
  const CommandResult result = RunClient({"--help"});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_THAT(result.stdout_text, HasSubstr("Usage: vlb_example_client"));
  for (const char* flag :
       {"--target ", "--service ", "--version ", "--calls ", "--deadline_ms ",
        "--wait_for_ready ", "--header ", "--default_version ", "--fallback ",
        "--child_policy ", "--etcd ", "--etcd_cacert ", "--etcd_password "}) {
    EXPECT_THAT(result.stdout_text, HasSubstr(flag));
  }
  EXPECT_THAT(result.stdout_text, HasSubstr("(default: x-version)"));
  EXPECT_THAT(result.stderr_text, IsEmpty());
}

// The server is refused before it listens or registers: no etcd needed.
TEST(ExampleServerTest, BadCommandLineExitsTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--version=v1", "--bogus"}, "unknown flag --bogus"},
           {{"--version=v1", "--weight=-1"},
            "Illegal value '-1' specified for flag 'weight'"},
           {{"--version=v1", "--ttl_seconds=x"},
            "Illegal value 'x' specified for flag 'ttl_seconds'"},
           {{"--version=v1", "--listen=127.0.0.1"}, "--listen: "},
           {{"--version=v1", "stray"}, "unexpected argument \"stray\""},
           {{"--service=a.b"}, "--version is required"}}) {
    absl::StatusOr<CommandResult> result =
        RunCommand(VLB_EXAMPLE_SERVER_BIN, c.args,
                   {{"VLB_ETCD_ENDPOINTS", "127.0.0.1:1"}}, absl::Seconds(30));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->exit_code, 2) << c.message;
    EXPECT_THAT(result->stderr_text,
                HasSubstr("vlb_example_server: error: " + c.message));
    EXPECT_THAT(result->stderr_text, Not(HasSubstr("serving")));
  }
}

TEST(ExampleServerTest, HelpListsTheFlagsAndExitsZero) {
  absl::StatusOr<CommandResult> result =
      RunCommand(VLB_EXAMPLE_SERVER_BIN, {"--help"}, {}, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
  EXPECT_THAT(result->stdout_text, HasSubstr("Usage: vlb_example_server"));
  for (const char* flag :
       {"--version ", "--service ", "--listen ", "--id ", "--weight ",
        "--ttl_seconds ", "--etcd ", "--etcd_user ", "--etcd_key "}) {
    EXPECT_THAT(result->stdout_text, HasSubstr(flag));
  }
  EXPECT_THAT(result->stdout_text, HasSubstr("(default: hwholiday.srv.app)"));
}

TEST(ExampleClientTest, GoodFlagsMakeTheCalls) {
  // Nothing listens there: the call is made and fails, exit 1.
  const CommandResult result = RunClient({kNowhere, "--version=^1.4"});
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_THAT(result.stdout_text, HasSubstr("ERR "));
}

}  // namespace
}  // namespace vlb
