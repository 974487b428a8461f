// vlb_register: registers one service instance in etcd and keeps it
// registered until SIGINT or SIGTERM, printing one line per registrar event.
//
// Useful by hand (announce a test backend without writing code) and for
// crash tests, which SIGKILL it to check that the lease, not the process,
// keeps the key alive.
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vlb/registrar.h"

namespace vlb {
namespace {

constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "Usage: vlb_register --service=NAME --version=V --address=HOST:PORT\n"
    "                    [--etcd=HOST:PORT,...] [--id=ID] [--weight=N]\n"
    "                    [--ttl_seconds=N] [--meta=KEY=VALUE]...\n"
    "\n"
    "Registers one instance of a service in etcd under a kept-alive lease and\n"
    "keeps it registered (healing lost leases and deleted keys) until SIGINT\n"
    "or SIGTERM, then revokes the lease so the key disappears at once.\n"
    "Prints one line per event on stdout.\n"
    "\n"
    "  --etcd         comma-separated etcd endpoints (default:\n"
    "                 $VLB_ETCD_ENDPOINTS, else 127.0.0.1:2379)\n"
    "  --service      dotted service name, e.g. hwholiday.srv.app\n"
    "  --id           instance id (default: <last name part>-<uuid>)\n"
    "  --version      instance version, e.g. v1\n"
    "  --address      host:port clients dial\n"
    "  --weight       balancing weight in [0, 10000] (default 1)\n"
    "  --ttl_seconds  lease TTL in whole seconds, >= 2 (default 10)\n"
    "  --meta         KEY=VALUE metadata entry; repeatable\n"
    "  --help         print this help\n";

// The outcome of argument parsing: options to run with, or an exit.
struct ParsedArgs {
  RegistrarOptions options;
  bool help = false;
};

absl::Status UsageError(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<int64_t> ParseInteger(absl::string_view flag,
                                     absl::string_view value) {
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed)) {
    return UsageError(
        absl::StrCat("--", flag, ": \"", value, "\" is not an integer"));
  }
  return parsed;
}

absl::StatusOr<ParsedArgs> ParseArgs(int argc, char** argv) {
  ParsedArgs parsed;
  RegistrarOptions& options = parsed.options;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      return parsed;
    }
    if (!absl::StartsWith(arg, "--")) {
      return UsageError(absl::StrCat("unexpected argument \"", arg,
                                     "\"; flags take the form --name=value"));
    }
    const size_t eq = arg.find('=');
    if (eq == absl::string_view::npos) {
      return UsageError(
          absl::StrCat(arg, " needs a value: write ", arg, "=VALUE"));
    }
    const absl::string_view name = arg.substr(2, eq - 2);
    const absl::string_view value = arg.substr(eq + 1);
    if (name == "etcd") {
      options.etcd.endpoints = ParseEndpointList(std::string(value));
      if (options.etcd.endpoints.empty()) {
        return UsageError("--etcd: no endpoint given");
      }
    } else if (name == "service") {
      options.service_name = std::string(value);
    } else if (name == "id") {
      if (value.empty()) return UsageError("--id: must not be empty");
      options.instance_id = std::string(value);
    } else if (name == "version") {
      options.version = std::string(value);
    } else if (name == "address") {
      options.address = std::string(value);
    } else if (name == "weight") {
      absl::StatusOr<int64_t> weight = ParseInteger(name, value);
      if (!weight.ok()) return weight.status();
      // Range beyond uint32 is checked here; the registrar checks the rest
      // so that its message stays the single source of truth.
      if (*weight < 0 || *weight > std::numeric_limits<uint32_t>::max()) {
        return UsageError(absl::StrCat("weight: ", *weight,
                                       " is out of range [", kMinWeight, ", ",
                                       kMaxWeight, "]"));
      }
      options.weight = static_cast<uint32_t>(*weight);
    } else if (name == "ttl_seconds") {
      absl::StatusOr<int64_t> ttl = ParseInteger(name, value);
      if (!ttl.ok()) return ttl.status();
      options.ttl = absl::Seconds(*ttl);
    } else if (name == "meta") {
      const size_t meta_eq = value.find('=');
      if (meta_eq == absl::string_view::npos) {
        return UsageError(
            absl::StrCat("--meta: \"", value, "\" is not KEY=VALUE"));
      }
      options.metadata[std::string(value.substr(0, meta_eq))] =
          std::string(value.substr(meta_eq + 1));
    } else {
      return UsageError(absl::StrCat("unknown flag --", name, "; see --help"));
    }
  }
  return parsed;
}

// Each event is one flushed line so that a reader of a pipe or file (a test,
// a supervisor) sees it as soon as it happens.
void PrintLine(const std::string& line) {
  static std::mutex* const mu = new std::mutex;
  std::lock_guard<std::mutex> lock(*mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int Run(int argc, char** argv) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "vlb_register: %s\n",
                 parsed.status().ToString().c_str());
    return kExitUsage;
  }
  if (parsed->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }

  // Blocked before the registrar starts its threads, which inherit the mask,
  // so the signals reach only sigwait() below and not some gRPC thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Events only start with Start(), after this is set.
  const Registrar* registrar_for_events = nullptr;
  auto on_event = [&registrar_for_events](RegistrarEvent event,
                                          const absl::Status& detail) {
    std::string line = RegistrarEventName(event);
    switch (event) {
      case RegistrarEvent::kRegistered:
      case RegistrarEvent::kReRegistered:
        absl::StrAppend(&line, " ", registrar_for_events->key(),
                        " lease=", registrar_for_events->lease_id());
        break;
      case RegistrarEvent::kLost:
      case RegistrarEvent::kConflict:
        absl::StrAppend(&line, ": ", detail.ToString());
        break;
      case RegistrarEvent::kStopped:
        if (!detail.ok()) absl::StrAppend(&line, ": ", detail.ToString());
        break;
    }
    PrintLine(line);
  };

  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      Registrar::Create(std::move(parsed->options), on_event);
  if (!registrar.ok()) {
    std::fprintf(stderr, "vlb_register: %s\n",
                 registrar.status().ToString().c_str());
    return kExitUsage;
  }
  registrar_for_events = registrar->get();

  // A failed first attempt is not fatal: the registrar keeps trying in the
  // background, which is what a long-running announcer should do.
  if (absl::Status started = (*registrar)->Start(); !started.ok()) {
    std::fprintf(stderr, "vlb_register: not registered yet: %s\n",
                 started.ToString().c_str());
  }

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  (*registrar)->Stop();
  return 0;
}

}  // namespace
}  // namespace vlb

int main(int argc, char** argv) { return vlb::Run(argc, argv); }
