// vlb_example_server: one instance of the example service (api.Api), which
// registers itself in etcd with vlb::Registrar so that clients built with
// vlb::CreateChannel find it and route to it by version.
//
// Each answer names the instance and its version ("<id> <version>: <input>")
// so a client can show which instance served each call.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "common/command_line.h"
#include "common/etcd_flags.h"
#include "common/print_line.h"
#include "common/registrar_setup.h"
#include "common/stop_signals.h"
#include "grpcpp/grpcpp.h"
#include "vlb/registrar.h"

// The etcd connection flags (--etcd, --etcd_user, --etcd_cacert...) come
// from common/etcd_flags.cc, shared by all the programs.
ABSL_FLAG(std::string, version, "",
          "version this instance announces, e.g. v1 (required)");
ABSL_FLAG(std::string, service, "hwholiday.srv.app", "dotted service name");
ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "address to serve on; port 0 picks a free port, and the port "
          "actually bound is the one registered");
ABSL_FLAG(std::string, id, "",
          "instance id (default: <last name part>-<uuid>)");
ABSL_FLAG(uint32_t, weight, vlb::kDefaultWeight,
          "balancing weight in [0, 10000]");
ABSL_FLAG(int64_t, ttl_seconds, 10, "lease TTL in whole seconds, >= 2");
ABSL_FLAG(std::string, lane, "",
          "lane this instance serves (1-63 of [a-z0-9-]; empty: baseline)");
ABSL_FLAG(int64_t, drain_grace_ms, 2000,
          "on SIGINT/SIGTERM, how long the record stays drained (clients "
          "move new calls away) before it is revoked; 0 revokes at once");

namespace vlb::examples {
namespace {

using programs::PrintLine;
using programs::UsageError;

constexpr char kProgram[] = "vlb_example_server";

// Long enough for in-flight example calls to finish, short enough that a
// supervisor's SIGTERM-then-SIGKILL grace period (beyond --drain_grace_ms)
// is never the one that ends the process.
constexpr absl::Duration kShutdownGrace = absl::Seconds(2);

// The start of --help, which then lists the flags.
constexpr char kUsage[] =
    "Usage: vlb_example_server --version=V [--service=NAME]\n"
    "                          [--etcd=HOST:PORT,...] [--listen=HOST:PORT]\n"
    "                          [other flags below]\n"
    "\n"
    "Serves the example service api.Api (ApiTest answers\n"
    "\"<id> <version>: <input>\") and registers this instance in etcd until\n"
    "SIGINT or SIGTERM. On a signal it first drains (clients send new calls\n"
    "to other instances) for --drain_grace_ms, then unregisters, then lets\n"
    "calls in flight finish, and exits 0.\n"
    "Status lines go to stderr; the first is\n"
    "\"serving <id> version <v> at <host:port>\".\n"
    "\n"
    "Exit status: 0 after a signal, 1 when serving fails, 2 on bad flags.\n";

// The registration the flags describe, less the address (known once the
// server listens). Registrar::Create checks the values, so that its
// messages stay the single source of truth; only a missing --version is
// refused here, to say which flag is missing.
absl::StatusOr<RegistrarOptions> RegistrarOptionsFromFlags() {
  RegistrarOptions options;
  options.etcd = programs::EtcdOptionsFromFlags();
  options.service_name = absl::GetFlag(FLAGS_service);
  options.instance_id = absl::GetFlag(FLAGS_id);
  options.version = absl::GetFlag(FLAGS_version);
  options.weight = absl::GetFlag(FLAGS_weight);
  options.ttl = absl::Seconds(absl::GetFlag(FLAGS_ttl_seconds));
  options.lane = absl::GetFlag(FLAGS_lane);
  options.drain_grace = absl::Milliseconds(absl::GetFlag(FLAGS_drain_grace_ms));
  if (options.version.empty()) {
    return absl::InvalidArgumentError(
        "--version is required, e.g. --version=v1");
  }
  return options;
}

// Splits "host:port" / "[v6]:port" at the last ':'; the host keeps its
// brackets because the registered address needs them too.
absl::StatusOr<std::string> ListenHost(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: \"", listen,
                     "\" is not HOST:PORT (port 0-65535; 0 = any free port)"));
  }
  return std::string(listen.substr(0, colon));
}

class ApiService final : public api::Api::Service {
 public:
  explicit ApiService(std::string version) : version_(std::move(version)) {}

  // The id is known only once the registrar exists, which needs the bound
  // port, which needs the server started: so it is filled in afterwards.
  void set_instance_id(std::string id) {
    std::lock_guard<std::mutex> lock(mu_);
    instance_id_ = std::move(id);
  }

  grpc::Status ApiTest(grpc::ServerContext* /*context*/,
                       const api::Request* request,
                       api::Response* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    response->set_output(
        absl::StrCat(instance_id_, " ", version_, ": ", request->input()));
    return grpc::Status::OK;
  }

 private:
  const std::string version_;
  std::mutex mu_;
  std::string instance_id_;
};

// Drain, wait `grace`, unregister (Registrar::Shutdown); with no grace,
// unregister at once. Either way clients watching etcd move new calls
// elsewhere while the server still answers the calls in flight; the drain
// lets them do it before the instance vanishes, so no call races its
// removal.
void StopRegistering(int signal_number, absl::Duration grace,
                     Registrar* registrar) {
  if (grace <= absl::ZeroDuration()) {
    PrintLine(stderr, absl::StrCat("got signal ", signal_number,
                                   ": unregistering, then shutting down"));
    registrar->Stop();
    return;
  }
  PrintLine(stderr, absl::StrCat("got signal ", signal_number,
                                 ": draining for ", absl::FormatDuration(grace),
                                 ", then unregistering and shutting down"));
  if (absl::Status drained = registrar->Shutdown(grace); !drained.ok()) {
    PrintLine(stderr, absl::StrCat("drain failed (unregistered at once): ",
                                   drained.ToString()));
  }
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // absl::ParseCommandLine(argc, argv) would do as well: the same flags in
  // the same syntax. This wrapper only keeps the promise of the exit status
  // above (absl 20220623 exits 1 on bad flags and after --help).
  programs::ParseCommandLineOrExit(argc, argv);
  absl::StatusOr<RegistrarOptions> options = RegistrarOptionsFromFlags();
  if (!options.ok()) return UsageError(kProgram, options.status());
  const std::string listen = absl::GetFlag(FLAGS_listen);
  absl::StatusOr<std::string> host = ListenHost(listen);
  if (!host.ok()) return UsageError(kProgram, host.status());

  // Before gRPC or the registrar starts a thread: threads inherit the mask.
  programs::BlockStopSignals();

  ApiService service(options->version);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    PrintLine(stderr, absl::StrCat(kProgram, ": cannot listen on ", listen));
    return 1;
  }
  options->address = absl::StrCat(*host, ":", port);

  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      programs::CreatePrintingRegistrar(*options, stderr, "registrar: ");
  if (!registrar.ok()) {
    server->Shutdown();
    return UsageError(kProgram, registrar.status());
  }
  const ServiceInstance instance = (*registrar)->instance();
  service.set_instance_id(instance.id);
  PrintLine(stderr, absl::StrCat("serving ", instance.id, " version ",
                                 instance.version, " at ", instance.address));

  // Not fatal: the registrar keeps trying in the background, and the
  // instance becomes visible to clients once etcd is reachable.
  if (absl::Status started = (*registrar)->Start(); !started.ok()) {
    PrintLine(stderr, absl::StrCat("not registered yet (retrying): ",
                                   started.ToString()));
  }

  const int signal_number = programs::WaitForStopSignal();
  StopRegistering(signal_number, options->drain_grace, registrar->get());
  server->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
  PrintLine(stderr, "shut down; exiting");
  return 0;
}

}  // namespace
}  // namespace vlb::examples

int main(int argc, char** argv) { return vlb::examples::Run(argc, argv); }
