// vlb_register: registers one service instance in etcd and keeps it
// registered until SIGINT or SIGTERM, printing one line per registrar event.
//
// Useful by hand (announce a test backend without writing code) and for
// crash tests, which SIGKILL it to check that the lease, not the process,
// keeps the key alive.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/etcd_flags.h"
#include "common/flags.h"
#include "common/registrar_setup.h"
#include "common/stop_signals.h"
#include "vlb/registrar.h"

namespace vlb {
namespace {

constexpr char kProgram[] = "vlb_register";

// The --help text, around the shared etcd flags' lines.
constexpr char kUsageHead[] =
    "Usage: vlb_register --service=NAME --version=V --address=HOST:PORT\n"
    "                    [--etcd=HOST:PORT,...] [--id=ID] [--weight=N]\n"
    "                    [--ttl_seconds=N] [--meta=KEY=VALUE]...\n"
    "                    [--etcd_user=NAME] [--etcd_password=PASSWORD]\n"
    "                    [--etcd_cacert=FILE] [--etcd_cert=FILE]\n"
    "                    [--etcd_key=FILE]\n"
    "\n"
    "Registers one instance of a service in etcd under a kept-alive lease and\n"
    "keeps it registered (healing lost leases and deleted keys) until SIGINT\n"
    "or SIGTERM, then revokes the lease so the key disappears at once.\n"
    "Prints one line per event on stdout.\n"
    "\n"
    "  --etcd         comma-separated etcd endpoints (default:\n"
    "                 $VLB_ETCD_ENDPOINTS, else 127.0.0.1:2379); https://\n"
    "                 ones are reached over TLS\n";
constexpr char kUsageTail[] =
    "  --service      dotted service name, e.g. hwholiday.srv.app\n"
    "  --id           instance id (default: <last name part>-<uuid>)\n"
    "  --version      instance version, e.g. v1\n"
    "  --address      host:port clients dial\n"
    "  --weight       balancing weight in [0, 10000] (default 1)\n"
    "  --ttl_seconds  lease TTL in whole seconds, >= 2 (default 10)\n"
    "  --meta         KEY=VALUE metadata entry; repeatable\n"
    "  --help         print this help\n";

struct Config {
  RegistrarOptions options;
  bool help = false;
};

absl::StatusOr<Config> ParseFlags(int argc, char** argv) {
  Config config;
  RegistrarOptions& options = config.options;
  programs::FlagSet flags;
  programs::AddRegistrarFlags(&flags, &options);
  flags.AddString("address", &options.address);
  flags.Add("meta", [&options](absl::string_view value) {
    const size_t eq = value.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--meta: \"", value, "\" is not KEY=VALUE"));
    }
    options.metadata[std::string(value.substr(0, eq))] =
        std::string(value.substr(eq + 1));
    return absl::OkStatus();
  });
  if (absl::Status status = flags.Parse(argc, argv); !status.ok()) {
    return status;
  }
  config.help = flags.help();
  return config;
}

int Run(int argc, char** argv) {
  absl::StatusOr<Config> config = ParseFlags(argc, argv);
  const std::string usage =
      absl::StrCat(kUsageHead, programs::kEtcdFlagsUsage, kUsageTail);
  if (std::optional<int> exit = programs::EarlyExit(kProgram, usage, config)) {
    return *exit;
  }

  // Before gRPC or the registrar starts a thread: threads inherit the mask.
  programs::BlockStopSignals();
  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      programs::CreatePrintingRegistrar(std::move(config->options), stdout, "");
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
