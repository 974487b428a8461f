// vlbctl: the operator's tool. Reads and changes what vlb keeps in etcd
// (instances and route documents) through the public admin API, for people at a
// terminal (--output=table) and for scripts (--output=json, exit statuses).
//
//   vlbctl COMMAND [OPERANDS] [FLAGS]     flags may come anywhere
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/etcd_flags.h"
#include "vlbctl/command.h"
#include "vlbctl/explain.h"
#include "vlbctl/instances.h"
#include "vlbctl/output.h"
#include "vlbctl/routes.h"
#include "vlbctl/watch.h"

ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "deadline of each etcd request, per endpoint tried");

namespace vlb::vlbctl {
namespace {

constexpr char kProgram[] = "vlbctl";

// The command table; each command is in its own tools/vlbctl/ file.
std::vector<Command> Commands() {
  std::vector<Command> commands;
  commands.push_back(ListCommand());
  commands.push_back(WatchCommand());
  commands.push_back(DrainCommand());
  commands.push_back(UndrainCommand());
  commands.push_back(WeightCommand());
  commands.push_back(RoutesCommand());
  commands.push_back(ExplainCommand());
  return commands;
}

// The flags every command reads, listed in every --help.
const std::vector<std::string>& GlobalFlags() {
  static const auto* const flags = new std::vector<std::string>{
      "etcd",      "etcd_user", "etcd_password", "etcd_cacert",
      "etcd_cert", "etcd_key",  "timeout",       "output"};
  return *flags;
}

std::string CommandNames(const std::vector<Command>& commands) {
  std::vector<std::string> names;
  names.reserve(commands.size() + 1);
  for (const Command& command : commands) names.push_back(command.name);
  names.push_back("help");
  return absl::StrJoin(names, ", ");
}

std::string ToolUsage(const std::vector<Command>& commands) {
  std::string out =
      "Usage: vlbctl COMMAND [OPERANDS] [FLAGS]\n"
      "\n"
      "The operator's tool for vlb: reads and changes what vlb keeps in etcd.\n"
      "Flags may come before or after the operands; '-' and '_' are the same\n"
      "in flag names (--if-revision is --if_revision).\n"
      "\n"
      "Commands:\n";
  for (const Command& command : commands) {
    absl::StrAppend(
        &out, "  ", command.name,
        std::string(10 - std::min<size_t>(command.name.size(), 8), ' '),
        command.summary, "\n");
  }
  absl::StrAppend(&out,
                  "  help      help COMMAND: a command's help, as COMMAND "
                  "--help\n\n"
                  "Exit status: 0 done; 1 failed (the message on stderr names "
                  "what:\nthe key, the file, the etcd endpoint); 2 bad command "
                  "line.\n");
  return out;
}

const Command* Find(const std::vector<Command>& commands,
                    absl::string_view name) {
  for (const Command& command : commands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

int UnknownCommand(const std::vector<Command>& commands,
                   absl::string_view name) {
  return UsageError(kProgram,
                    absl::StrCat("unknown command \"", name,
                                 "\"; commands: ", CommandNames(commands)));
}

// --help of the tool (no command named) or of the command named first;
// the rest ("routes set --help") is the command's business, and its help
// covers it.
int Help(const std::vector<Command>& commands,
         const std::vector<std::string>& operands) {
  if (operands.empty() || operands[0] == "help") {
    PrintOut(programs::FlagsHelpFor(ToolUsage(commands), GlobalFlags()));
    return kExitOk;
  }
  const Command* command = Find(commands, operands[0]);
  if (command == nullptr) return UnknownCommand(commands, operands[0]);
  std::vector<std::string> flags = command->flags;
  flags.insert(flags.end(), GlobalFlags().begin(), GlobalFlags().end());
  PrintOut(programs::FlagsHelpFor(command->usage, flags));
  return kExitOk;
}

// absl flag names cannot hold '-'; the issue and many users write
// --if-revision, so the name part of every "--flag[=value]" gets '_'.
std::vector<std::string> WithUnderscoredFlagNames(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    const size_t start = arg.find_first_not_of('-');
    const size_t end = std::min(arg.find('='), arg.size());
    if (start == std::string::npos) continue;
    for (size_t j = start; j < end; ++j) {
      if (arg[j] == '-') arg[j] = '_';
    }
  }
  return args;
}

// The flags every command shares, as the command sees them.
absl::StatusOr<Invocation> InvocationFromFlags(
    std::vector<std::string> operands) {
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout: ", absl::FormatDuration(timeout), " is not positive"));
  }
  Invocation invocation;
  invocation.operands = std::move(operands);
  invocation.output = absl::GetFlag(FLAGS_output);
  invocation.etcd = programs::EtcdOptionsFromFlags();
  invocation.etcd.request_timeout = timeout;
  return invocation;
}

int Run(int argc, char** argv) {
  const std::vector<Command> commands = Commands();
  absl::SetProgramUsageMessage(ToolUsage(commands));  // for --helpfull
  std::vector<std::string> args = WithUnderscoredFlagNames(argc, argv);
  std::vector<char*> arg_pointers;
  arg_pointers.reserve(args.size());
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  std::vector<std::string> operands;
  absl::StatusOr<programs::CommandLineRequest> request =
      programs::ParseFlagsAndOperandsInto(static_cast<int>(arg_pointers.size()),
                                          arg_pointers.data(), &operands);
  if (!request.ok()) return UsageError(kProgram, request.status().message());
  if (*request == programs::CommandLineRequest::kHelpFull) {
    PrintOut(programs::FlagsHelp(/*include_library_flags=*/true));
    return kExitOk;
  }
  if (*request == programs::CommandLineRequest::kHelp) {
    return Help(commands, operands);
  }
  if (operands.empty()) {
    return UsageError(kProgram, absl::StrCat("no command given; commands: ",
                                             CommandNames(commands)));
  }
  if (operands[0] == "help") {
    return Help(commands, {operands.begin() + 1, operands.end()});
  }
  const Command* command = Find(commands, operands[0]);
  if (command == nullptr) return UnknownCommand(commands, operands[0]);
  absl::StatusOr<Invocation> invocation =
      InvocationFromFlags({operands.begin() + 1, operands.end()});
  if (!invocation.ok()) {
    return UsageError(kProgram, invocation.status().message());
  }
  return command->run(*invocation);
}

}  // namespace
}  // namespace vlb::vlbctl

int main(int argc, char** argv) { return vlb::vlbctl::Run(argc, argv); }
