// What a vlbctl command is: a name, its help, the flags it reads and the
// function that runs it. The table of commands is in tools/vlbctl.cc.
#ifndef VLB_TOOLS_VLBCTL_COMMAND_H_
#define VLB_TOOLS_VLBCTL_COMMAND_H_

#include <string>
#include <vector>

#include "vlb/etcd_options.h"

namespace vlb::vlbctl {

// Exit statuses; a bad command line exits programs::kExitUsage (2).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;

enum class OutputFormat { kTable, kJson };

// What a command is run with, once the flags are parsed.
struct Invocation {
  // The operands after the command's name ("get", "SERVICE", "FILE"...).
  std::vector<std::string> operands;
  OutputFormat output = OutputFormat::kTable;
  EtcdOptions etcd;  // from the shared etcd flags and --timeout
};

struct Command {
  std::string name;     // "routes"
  std::string summary;  // one line for `vlbctl --help`
  std::string usage;    // the start of `vlbctl <name> --help`
  // The flags the command reads besides the global ones, for its --help.
  std::vector<std::string> flags;
  // Returns the exit status: kExitOk, kExitFailure or kExitUsage.
  int (*run)(const Invocation& invocation) = nullptr;
};

}  // namespace vlb::vlbctl

#endif  // VLB_TOOLS_VLBCTL_COMMAND_H_
