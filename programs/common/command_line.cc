#include "common/command_line.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/print_line.h"

namespace vlb::programs {
namespace {

struct NamedFlag {
  absl::CommandLineFlag* flag = nullptr;
  bool negated = false;  // --nofoo for the boolean flag foo
};

// absl's lookup: the flag `name`, else "no<bool flag>".
NamedFlag FindFlag(absl::string_view name) {
  if (absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name)) {
    return {flag, false};
  }
  if (absl::ConsumePrefix(&name, "no")) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag != nullptr && flag->IsOfType<bool>()) return {flag, true};
  }
  return {};
}

std::optional<CommandLineRequest> HelpRequest(absl::string_view name) {
  if (name == "help" || name == "h") return CommandLineRequest::kHelp;
  if (name == "helpfull") return CommandLineRequest::kHelpFull;
  return std::nullopt;
}

absl::Status Unexpected(absl::string_view arg) {
  return absl::InvalidArgumentError(absl::StrCat(
      "unexpected argument \"", arg, "\"; flags take the form --name=value"));
}

std::string ProgramName(int argc, char** argv) {
  if (argc < 1 || argv[0] == nullptr) return "program";
  const absl::string_view path = argv[0];
  const size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path
                                                      : path.substr(slash + 1));
}

// Walks argv once, setting each flag as it comes.
class ArgvParser {
 public:
  // `operands` null: arguments that are not flags are refused.
  ArgvParser(int argc, char** argv, std::vector<std::string>* operands)
      : argc_(argc), argv_(argv), operands_(operands) {}

  absl::StatusOr<CommandLineRequest> Run();

 private:
  // One "-name[=value]" or "--name[=value]" argument (already consumed);
  // a value in the next argument is consumed too.
  absl::StatusOr<CommandLineRequest> ParseFlagArgument(absl::string_view arg);
  absl::StatusOr<std::string> ValueOf(const NamedFlag& named,
                                      absl::string_view name,
                                      std::optional<absl::string_view> given);
  absl::Status Set(absl::CommandLineFlag& flag, std::string value);

  const int argc_;
  char** const argv_;
  std::vector<std::string>* const operands_;
  int next_ = 1;
  // Everything given so far to each list flag, joined with ','.
  std::map<std::string, std::string, std::less<>> lists_;
};

absl::StatusOr<CommandLineRequest> ArgvParser::Run() {
  while (next_ < argc_) {
    const absl::string_view arg = argv_[next_++];
    if (arg == "--") {  // the end of the flags, as in absl and getopt
      if (next_ < argc_ && operands_ == nullptr)
        return Unexpected(argv_[next_]);
      while (next_ < argc_) operands_->emplace_back(argv_[next_++]);
      break;
    }
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      if (operands_ == nullptr) return Unexpected(arg);
      operands_->emplace_back(arg);
      continue;
    }
    absl::StatusOr<CommandLineRequest> request = ParseFlagArgument(arg);
    if (!request.ok() || *request != CommandLineRequest::kRun) return request;
  }
  return CommandLineRequest::kRun;
}

absl::StatusOr<CommandLineRequest> ArgvParser::ParseFlagArgument(
    absl::string_view arg) {
  absl::ConsumePrefix(&arg, "-");
  absl::ConsumePrefix(&arg, "-");
  const size_t eq = arg.find('=');
  const absl::string_view name = arg.substr(0, eq);
  std::optional<absl::string_view> given;
  if (eq != absl::string_view::npos) given = arg.substr(eq + 1);
  if (std::optional<CommandLineRequest> help = HelpRequest(name)) {
    if (given.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " takes no value"));
    }
    return *help;
  }
  const NamedFlag named = FindFlag(name);
  if (named.flag == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
  }
  absl::StatusOr<std::string> value = ValueOf(named, name, given);
  if (!value.ok()) return value.status();
  if (absl::Status set = Set(*named.flag, *std::move(value)); !set.ok()) {
    return set;
  }
  return CommandLineRequest::kRun;
}

absl::StatusOr<std::string> ArgvParser::ValueOf(
    const NamedFlag& named, absl::string_view name,
    std::optional<absl::string_view> given) {
  if (named.flag->IsOfType<bool>()) {
    if (!named.negated) return std::string(given.value_or("true"));
    if (given.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " takes no value"));
    }
    return std::string("false");
  }
  if (given.has_value()) return std::string(*given);
  // absl's "--name value" form. A value that looks like a flag is more
  // likely a forgotten value than meant, so it needs "--name=-x".
  if (next_ < argc_ && !absl::StartsWith(argv_[next_], "-")) {
    return std::string(argv_[next_++]);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " needs a value: write --", name, "=VALUE"));
}

absl::Status ArgvParser::Set(absl::CommandLineFlag& flag, std::string value) {
  if (flag.IsOfType<std::vector<std::string>>()) {
    std::string& so_far = lists_[std::string(flag.Name())];
    if (!so_far.empty() && !value.empty()) so_far += ',';
    so_far += value;
    value = so_far;
  }
  std::string error;
  if (!flag.ParseFrom(value, &error)) {
    return absl::InvalidArgumentError(error);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CommandLineRequest> ParseFlagsInto(int argc, char** argv) {
  return ArgvParser(argc, argv, nullptr).Run();
}

absl::StatusOr<CommandLineRequest> ParseFlagsAndOperandsInto(
    int argc, char** argv, std::vector<std::string>* operands) {
  return ArgvParser(argc, argv, operands).Run();
}

void ParseCommandLineOrExit(int argc, char** argv) {
  const absl::StatusOr<CommandLineRequest> request = ParseFlagsInto(argc, argv);
  if (!request.ok()) {
    std::exit(UsageError(ProgramName(argc, argv), request.status()));
  }
  if (*request == CommandLineRequest::kRun) return;
  const std::string help = FlagsHelp(*request == CommandLineRequest::kHelpFull);
  std::fwrite(help.data(), 1, help.size(), stdout);
  std::fflush(stdout);
  std::exit(0);
}

int UsageError(absl::string_view program, const absl::Status& status) {
  PrintLine(stderr, absl::StrCat(program, ": error: ", status.message(),
                                 "\n(run ", program, " --help for usage)"));
  return kExitUsage;
}

}  // namespace vlb::programs
