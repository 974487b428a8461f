// Command-line parsing for the programs: the flags are plain Abseil flags
// (ABSL_FLAG in the file that uses them, absl::SetProgramUsageMessage for the
// --help text), parsed in absl's own syntax by ParseCommandLineOrExit, which
// differs from absl::ParseCommandLine only where our --help texts promise
// more than absl 20220623 does:
//  - a bad command line (unknown flag, bad value, missing value, stray
//    argument) prints "<program>: error: <what>" and a pointer to --help on
//    stderr and exits 2, as most Unix tools do, so that scripts can tell a
//    misuse from a failed run (absl exits 1 for both);
//  - --help (or -h) prints the usage message and the program's flags on
//    stdout and exits 0 (absl exits 1); --helpfull also lists flags that
//    linked libraries define (absl's own, for instance);
//  - a list flag (std::vector<std::string>) given more than once collects
//    every value, as if they were joined with ','; any other flag given
//    twice keeps the last value, as in absl;
//  - a value that starts with '-' needs the --name=value form, so that a
//    forgotten value does not swallow the next flag;
//  - absl's --flagfile, --fromenv, --tryfromenv and --undefok do not exist
//    (absl::flags_parse, which defines them, is not linked).
//
// Thread-compatible: call from main() before any thread reads a flag.
#ifndef VLB_PROGRAMS_COMMON_COMMAND_LINE_H_
#define VLB_PROGRAMS_COMMON_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace vlb::programs {

// Exit status for bad command lines (a failed run exits 1).
inline constexpr int kExitUsage = 2;

// Parses argv[1..] into the program's flags (see the file comment) and
// returns only when the program should run: exits 2 after a usage error and
// 0 after --help.
void ParseCommandLineOrExit(int argc, char** argv);

// What a command line asks for once its flags are set.
enum class CommandLineRequest { kRun, kHelp, kHelpFull };

// The work of ParseCommandLineOrExit without the printing and exiting:
// sets the flags named in argv[1..], in order, up to the first --help;
// InvalidArgument names the offending argument or flag.
absl::StatusOr<CommandLineRequest> ParseFlagsInto(int argc, char** argv);

// The same for programs with operands (vlbctl's "routes get SERVICE"):
// arguments that are not flags ("-" included, and all after "--") are
// appended to `operands`, in order, instead of being refused. Flags and
// operands may be mixed.
absl::StatusOr<CommandLineRequest> ParseFlagsAndOperandsInto(
    int argc, char** argv, std::vector<std::string>* operands);

// The --help text: absl::ProgramUsageMessage(), then one entry per flag in
// name order with its help text and its default (when not empty). Only the
// program's flags, unless `include_library_flags` (--helpfull).
std::string FlagsHelp(bool include_library_flags);

// A --help text for one part of a program (a vlbctl command): `usage`, then
// the entries of the flags named in `flag_names` that exist, in that order,
// and --help.
std::string FlagsHelpFor(absl::string_view usage,
                         const std::vector<std::string>& flag_names);

// Prints "<program>: error: <message>" and a pointer to --help on stderr;
// returns kExitUsage for `return UsageError(...)` from main.
int UsageError(absl::string_view program, const absl::Status& status);

// OK when min <= value <= max; otherwise InvalidArgument naming --name, for
// checks that a flag's type cannot express.
template <typename T>
absl::Status CheckFlagRange(absl::string_view name, T value, T min, T max) {
  if (min <= value && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--", name, ": ", value, " is out of range [", min, ", ", max, "]"));
}

}  // namespace vlb::programs

#endif  // VLB_PROGRAMS_COMMON_COMMAND_LINE_H_
