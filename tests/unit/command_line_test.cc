// The programs' command-line parser (programs/common/command_line.h): absl's
// flag syntax, with errors as statuses naming the argument, list flags that
// collect repeated values, and the --help text.
#include "common/command_line.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, test_name, "", "a string");
ABSL_FLAG(int64_t, test_count, 3, "an integer");
ABSL_FLAG(bool, test_switch, false, "a switch");
ABSL_FLAG(std::vector<std::string>, test_list, {}, "a list");
ABSL_FLAG(std::optional<int>, test_maybe, std::nullopt, "an optional");
ABSL_FLAG(std::string, test_long_help, "x",
          "a help text long enough to need wrapping, so that the help printer "
          "has to break it over several lines at word boundaries");

namespace vlb::programs {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<CommandLineRequest> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "program");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseFlagsInto(static_cast<int>(argv.size()), argv.data());
}

void ExpectRefused(const std::vector<std::string>& args,
                   const std::string& message) {
  const absl::StatusOr<CommandLineRequest> result = Parse(args);
  ASSERT_FALSE(result.ok()) << args.back();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(message));
}

class CommandLineTest : public ::testing::Test {
 private:
  absl::FlagSaver saver_;  // each test starts from the defaults
};

TEST_F(CommandLineTest, SetsFlagsInAbslSyntax) {
  ASSERT_EQ(*Parse({"--test_name=a", "-test_count=7", "--test_switch"}),
            CommandLineRequest::kRun);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_name), "a");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), 7);
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_switch));

  ASSERT_TRUE(Parse({"--test_name", "b", "--notest_switch"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_name), "b");
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_switch));

  ASSERT_TRUE(Parse({"--test_switch=false", "--test_maybe=4", "--"}).ok());
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_switch));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_maybe), 4);
}

TEST_F(CommandLineTest, AnythingButAListKeepsTheLastValue) {
  ASSERT_TRUE(Parse({"--test_count=1", "--test_count=2"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), 2);
}

TEST_F(CommandLineTest, ListFlagsCollectEveryValue) {
  ASSERT_TRUE(Parse({"--test_list=a", "--test_list=b,c", "--test_list="}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_list),
            (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(CommandLineTest, RefusesWhatIsNotAKnownFlagWithAGoodValue) {
  ExpectRefused({"--bogus=1"}, "unknown flag --bogus");
  ExpectRefused({"--nobogus"}, "unknown flag --nobogus");
  ExpectRefused({"--notest_count"}, "unknown flag --notest_count");
  ExpectRefused({"--test_count=x"}, "'x' specified for flag 'test_count'");
  ExpectRefused({"--test_switch=maybe"}, "flag 'test_switch'");
  ExpectRefused({"--notest_switch=1"}, "--notest_switch takes no value");
  ExpectRefused({"--test_name"}, "--test_name needs a value");
  // A forgotten value does not swallow the next flag.
  ExpectRefused({"--test_name", "--test_switch"}, "--test_name needs a value");
  ExpectRefused({"stray"}, "unexpected argument \"stray\"");
  ExpectRefused({"-"}, "unexpected argument \"-\"");
  ExpectRefused({"--", "after"}, "unexpected argument \"after\"");
  ExpectRefused({"--help=x"}, "--help takes no value");
}

TEST_F(CommandLineTest, StopsAtHelp) {
  EXPECT_EQ(*Parse({"--help", "--bogus"}), CommandLineRequest::kHelp);
  EXPECT_EQ(*Parse({"-h"}), CommandLineRequest::kHelp);
  EXPECT_EQ(*Parse({"--helpfull"}), CommandLineRequest::kHelpFull);
  // Up to --help, flags are applied and checked in order.
  EXPECT_FALSE(Parse({"--bogus", "--help"}).ok());
}

TEST(FlagsHelpTest, ListsTheProgramsFlagsWithTheirDefaults) {
  absl::SetProgramUsageMessage("Usage: program [flags]");
  const std::string help = FlagsHelp(/*include_library_flags=*/false);
  EXPECT_THAT(help, HasSubstr("Usage: program [flags]\n\nFlags:\n"));
  EXPECT_THAT(help, HasSubstr("  --test_count      an integer (default: 3)\n"));
  EXPECT_THAT(help, HasSubstr("  --test_name       a string\n"));
  // A switch's "false" default says nothing.
  EXPECT_THAT(help, HasSubstr("  --test_switch     a switch\n"));
  EXPECT_THAT(help,
              HasSubstr("  --test_long_help  a help text long enough to need "
                        "wrapping, so that the help\n"
                        "                    printer has"));
  EXPECT_THAT(help, HasSubstr("  --help            print this help"));
  // In name order.
  EXPECT_LT(help.find("--test_count"), help.find("--test_list"));
  EXPECT_LT(help.find("--test_list"), help.find("--test_maybe"));
  // gtest defines no absl flags, but the filter must not let one through.
  EXPECT_THAT(help, Not(HasSubstr("gtest")));
}

TEST_F(CommandLineTest, CollectsOperandsBetweenFlags) {
  std::vector<std::string> args = {"program", "routes", "--test_name=a",
                                   "get",     "-",      "--test_count",
                                   "5",       "--",     "--test_switch"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  std::vector<std::string> operands;
  ASSERT_EQ(*ParseFlagsAndOperandsInto(static_cast<int>(argv.size()),
                                       argv.data(), &operands),
            CommandLineRequest::kRun);
  EXPECT_THAT(operands,
              ::testing::ElementsAre("routes", "get", "-", "--test_switch"));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_name), "a");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), 5);
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_switch));  // after "--": an operand
  ExpectRefused({"routes"}, "unexpected argument \"routes\"");
}

TEST(FlagsHelpTest, ListsOnlyTheNamedFlagsInTheirOrder) {
  const std::string help =
      FlagsHelpFor("Usage: x\n", {"test_switch", "no_such_flag", "test_name"});
  EXPECT_THAT(help, HasSubstr("Usage: x\n\nFlags:\n"));
  const size_t switch_at = help.find("--test_switch");
  const size_t name_at = help.find("--test_name");
  ASSERT_NE(switch_at, std::string::npos);
  ASSERT_NE(name_at, std::string::npos);
  EXPECT_LT(switch_at, name_at);
  EXPECT_THAT(help, Not(HasSubstr("--test_count")));
  EXPECT_THAT(help, Not(HasSubstr("no_such_flag")));
  EXPECT_THAT(help, HasSubstr("--help"));
}

}  // namespace
}  // namespace vlb::programs
