#include "common/flags.h"

#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vlb::programs {

void FlagSet::Add(const std::string& name, FlagHandler handler, bool bare_ok) {
  flags_[name] = Flag{std::move(handler), bare_ok};
}

void FlagSet::AddString(const std::string& name, std::string* target) {
  Add(name, [target](absl::string_view value) {
    *target = std::string(value);
    return absl::OkStatus();
  });
}

void FlagSet::AddBool(const std::string& name, bool* target) {
  Add(
      name,
      [name, target](absl::string_view value) {
        if (value.empty() || value == "true" || value == "1") {
          *target = true;
        } else if (value == "false" || value == "0") {
          *target = false;
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              "--", name, ": \"", value, "\" is not true or false"));
        }
        return absl::OkStatus();
      },
      /*bare_ok=*/true);
}

void FlagSet::AddDouble(const std::string& name, double* target, double min,
                        double max) {
  Add(name, [name, target, min, max](absl::string_view value) {
    double parsed = 0;
    if (!absl::SimpleAtod(value, &parsed) || parsed < min || parsed > max) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": \"", value,
                                                     "\" is not a number in [",
                                                     min, ", ", max, "]"));
    }
    *target = parsed;
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> FlagSet::ParseInt(absl::string_view name,
                                          absl::string_view value, int64_t min,
                                          int64_t max) {
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": \"", value, "\" is not an integer"));
  }
  if (parsed < min || parsed > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, ": ", parsed, " is out of range [", min, ", ", max, "]"));
  }
  return parsed;
}

absl::Status FlagSet::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      return absl::OkStatus();
    }
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg,
                       "\"; flags take the form --name=value"));
    }
    const size_t eq = arg.find('=');
    const absl::string_view name =
        arg.substr(2, eq == absl::string_view::npos ? eq : eq - 2);
    const auto flag = flags_.find(name);
    if (flag == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (eq == absl::string_view::npos && !flag->second.bare_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(arg, " needs a value: write ", arg, "=VALUE"));
    }
    const absl::string_view value = eq == absl::string_view::npos
                                        ? absl::string_view()
                                        : arg.substr(eq + 1);
    if (absl::Status status = flag->second.handler(value); !status.ok()) {
      return status;
    }
    seen_.insert(std::string(name));
  }
  return absl::OkStatus();
}

void PrintLine(std::FILE* stream, absl::string_view line) {
  static std::mutex* const mu = new std::mutex;
  std::lock_guard<std::mutex> lock(*mu);
  std::fwrite(line.data(), 1, line.size(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
}

int UsageError(absl::string_view program, const absl::Status& status) {
  PrintLine(stderr, absl::StrCat(program, ": ", status.message(), "\n(run ",
                                 program, " --help for usage)"));
  return kExitUsage;
}

int PrintUsage(absl::string_view usage) {
  std::fwrite(usage.data(), 1, usage.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace vlb::programs
