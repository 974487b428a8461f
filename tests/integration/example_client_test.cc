// The example client refuses bad flags with exit status 2 and the reason,
// as its --help promises, instead of crashing in gRPC (an unsendable
// --version or --header aborted it) or making calls that can only fail
// (a --child_policy or target the channel refuses).
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
using ::vlb::testing::CommandResult;
using ::vlb::testing::RunCommand;

// No etcd and no server: every case is refused before a call is made (an
// unreachable address, so that a wrongly made call fails instead of hanging).
constexpr char kNowhere[] = "--target=ipv4:127.0.0.1:1";

CommandResult RunClient(std::vector<std::string> args) {
  args.push_back("--deadline_ms=500");
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
  EXPECT_THAT(result.stderr_text, HasSubstr("vlb_example_client: " + message));
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

TEST(ExampleClientTest, GoodFlagsMakeTheCalls) {
  // Nothing listens there: the call is made and fails, exit 1.
  const CommandResult result = RunClient({kNowhere, "--version=^1.4"});
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_THAT(result.stdout_text, HasSubstr("ERR "));
}

}  // namespace
}  // namespace vlb
