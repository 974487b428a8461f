// A small --name=value flag parser and output helpers shared by the
// command-line programs, so each program only declares its flags and its
// usage text.
#ifndef VLB_PROGRAMS_COMMON_FLAGS_H_
#define VLB_PROGRAMS_COMMON_FLAGS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vlb::programs {

// Exit status for bad command lines, as with most Unix tools, so scripts can
// tell a misuse from a failed run (1).
inline constexpr int kExitUsage = 2;

// Receives the text after '=' (empty for a bare boolean flag); a non-OK
// status becomes the usage error.
using FlagHandler = std::function<absl::Status(absl::string_view value)>;

class FlagSet {
 public:
  void AddString(const std::string& name, std::string* target);
  void AddBool(const std::string& name, bool* target);
  // Accepts integers in [min, max] only.
  template <typename Int>
  void AddInt(const std::string& name, Int* target, int64_t min, int64_t max) {
    Add(name, [name, target, min, max](absl::string_view value) {
      absl::StatusOr<int64_t> parsed = ParseInt(name, value, min, max);
      if (!parsed.ok()) return parsed.status();
      *target = static_cast<Int>(*parsed);
      return absl::OkStatus();
    });
  }
  // Accepts decimal numbers in [min, max] only.
  void AddDouble(const std::string& name, double* target, double min,
                 double max);
  // `bare_ok`: the flag may be given without "=value" (booleans).
  void Add(const std::string& name, FlagHandler handler, bool bare_ok = false);

  // Applies argv[1..] in order. Stops at --help / -h (then help() is true).
  // InvalidArgument names the offending argument.
  absl::Status Parse(int argc, char** argv);

  bool help() const { return help_; }
  // Whether --name appeared on the command line.
  bool seen(const std::string& name) const { return seen_.count(name) > 0; }

  static absl::StatusOr<int64_t> ParseInt(absl::string_view name,
                                          absl::string_view value, int64_t min,
                                          int64_t max);

 private:
  struct Flag {
    FlagHandler handler;
    bool bare_ok = false;
  };
  std::map<std::string, Flag, std::less<>> flags_;
  std::set<std::string> seen_;
  bool help_ = false;
};

// Writes `line` and a newline as one flushed write, safe from any thread:
// readers of a pipe (scripts/demo, tests) see each line when it happens and
// lines from different threads never interleave.
void PrintLine(std::FILE* stream, absl::string_view line);

// Prints "<program>: <message>" and a pointer to --help on stderr; returns
// kExitUsage for `return UsageError(...)` from main.
int UsageError(absl::string_view program, const absl::Status& status);

// Prints `usage` on stdout, where --help output belongs (it is no error);
// returns 0 for `return PrintUsage(...)` from main.
int PrintUsage(absl::string_view usage);

// Ends command-line handling the same way in every program, given the result
// of the program's own parser (a Config with `bool help`): the status main()
// must exit with at once, after printing the usage error or, for --help, the
// usage; nullopt when the program should run.
template <typename Config>
std::optional<int> EarlyExit(absl::string_view program, absl::string_view usage,
                             const absl::StatusOr<Config>& config) {
  if (!config.ok()) return UsageError(program, config.status());
  if (config->help) return PrintUsage(usage);
  return std::nullopt;
}

}  // namespace vlb::programs

#endif  // VLB_PROGRAMS_COMMON_FLAGS_H_
