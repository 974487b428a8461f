// vlb_register: registers one service instance in etcd and keeps it
// registered until SIGINT or SIGTERM, printing one line per registrar event.
//
// Useful by hand (announce a test backend without writing code) and for
// crash tests, which SIGKILL it to check that the lease, not the process,
// keeps the key alive.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/etcd_flags.h"
#include "common/print_line.h"
#include "common/registrar_setup.h"
#include "common/stop_signals.h"
#include "vlb/registrar.h"

// The etcd connection flags (--etcd, --etcd_user, --etcd_cacert...) come
// from common/etcd_flags.cc, shared by all the programs.
ABSL_FLAG(std::string, service, "",
          "dotted service name, e.g. hwholiday.srv.app");
ABSL_FLAG(std::string, id, "",
          "instance id (default: <last name part>-<uuid>)");
ABSL_FLAG(std::string, version, "", "instance version, e.g. v1");
ABSL_FLAG(std::string, address, "", "host:port clients dial");
ABSL_FLAG(uint32_t, weight, vlb::kDefaultWeight,
          "balancing weight in [0, 10000]");
ABSL_FLAG(std::string, lane, "",
          "the instance's lane (README \"Lanes\"): 1-63 of [a-z0-9-]; "
          "empty: the baseline");
ABSL_FLAG(int64_t, ttl_seconds, 10, "lease TTL in whole seconds, >= 2");
ABSL_FLAG(std::vector<std::string>, meta, {},
          "comma-separated KEY=VALUE metadata entries; repeatable");

namespace vlb {
namespace {

constexpr char kProgram[] = "vlb_register";

// The start of --help, which then lists the flags.
constexpr char kUsage[] =
    "Usage: vlb_register --service=NAME --version=V --address=HOST:PORT\n"
    "                    [--etcd=HOST:PORT,...] [other flags below]\n"
    "\n"
    "Registers one instance of a service in etcd under a kept-alive lease and\n"
    "keeps it registered (healing lost leases and deleted keys) until SIGINT\n"
    "or SIGTERM, then revokes the lease so the key disappears at once.\n"
    "Prints one line per event on stdout.\n"
    "\n"
    "Exit status: 0 after a signal, 2 on bad flags (including values the\n"
    "registrar refuses).\n";

// The registration the flags describe. Registrar::Create checks the values,
// so that its messages stay the single source of truth; only what it cannot
// see (a --meta entry without '=') is refused here.
absl::StatusOr<RegistrarOptions> RegistrarOptionsFromFlags() {
  RegistrarOptions options;
  options.etcd = programs::EtcdOptionsFromFlags();
  options.service_name = absl::GetFlag(FLAGS_service);
  options.instance_id = absl::GetFlag(FLAGS_id);
  options.version = absl::GetFlag(FLAGS_version);
  options.address = absl::GetFlag(FLAGS_address);
  options.weight = absl::GetFlag(FLAGS_weight);
  options.lane = absl::GetFlag(FLAGS_lane);
  options.ttl = absl::Seconds(absl::GetFlag(FLAGS_ttl_seconds));
  for (absl::string_view entry : absl::GetFlag(FLAGS_meta)) {
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--meta: \"", entry, "\" is not KEY=VALUE"));
    }
    options.metadata[std::string(entry.substr(0, eq))] =
        std::string(entry.substr(eq + 1));
  }
  return options;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  programs::ParseCommandLineOrExit(argc, argv);
  absl::StatusOr<RegistrarOptions> options = RegistrarOptionsFromFlags();
  if (!options.ok()) return programs::UsageError(kProgram, options.status());

  // Before gRPC or the registrar starts a thread: threads inherit the mask.
  programs::BlockStopSignals();
  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      programs::CreatePrintingRegistrar(*std::move(options), stdout, "");
  if (!registrar.ok()) {
    return programs::UsageError(kProgram, registrar.status());
  }

  // A failed first attempt is not fatal: the registrar keeps trying in the
  // background, which is what a long-running announcer should do.
  if (absl::Status started = (*registrar)->Start(); !started.ok()) {
    programs::PrintLine(
        stderr,
        absl::StrCat(kProgram, ": not registered yet: ", started.ToString()));
  }

  programs::WaitForStopSignal();
  (*registrar)->Stop();
  return 0;
}

}  // namespace
}  // namespace vlb

int main(int argc, char** argv) { return vlb::Run(argc, argv); }
