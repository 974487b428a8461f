// vlb_example_server: one instance of the example service (api.Api), which
// registers itself in etcd with vlb::Registrar so that clients built with
// vlb::CreateChannel find it and route to it by version.
//
// Each answer names the instance and its version ("<id> <version>: <input>")
// so a client can show which instance served each call.
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "common/etcd_flags.h"
#include "common/flags.h"
#include "common/registrar_setup.h"
#include "common/stop_signals.h"
#include "grpcpp/grpcpp.h"
#include "vlb/registrar.h"

namespace vlb::examples {
namespace {

using programs::FlagSet;
using programs::PrintLine;
using programs::UsageError;

constexpr char kProgram[] = "vlb_example_server";

// Long enough for in-flight example calls to finish, short enough that a
// supervisor's SIGTERM-then-SIGKILL grace period is never the one that ends
// the process.
constexpr absl::Duration kShutdownGrace = absl::Seconds(2);

// The --help text, around the shared etcd flags' lines.
constexpr char kUsageHead[] =
    "Usage: vlb_example_server --version=V [--service=NAME]\n"
    "                          [--etcd=HOST:PORT,...] [--listen=HOST:PORT]\n"
    "                          [--id=ID] [--weight=N] [--ttl_seconds=N]\n"
    "                          [--etcd_user=NAME] [--etcd_password=PASSWORD]\n"
    "                          [--etcd_cacert=FILE] [--etcd_cert=FILE]\n"
    "                          [--etcd_key=FILE]\n"
    "\n"
    "Serves the example service api.Api (ApiTest answers\n"
    "\"<id> <version>: <input>\") and registers this instance in etcd until\n"
    "SIGINT or SIGTERM. On a signal it first unregisters (so clients stop\n"
    "choosing it), then lets calls in flight finish, and exits 0.\n"
    "Status lines go to stderr; the first is\n"
    "\"serving <id> version <v> at <host:port>\".\n"
    "\n"
    "  --version      version this instance announces, e.g. v1 (required)\n"
    "  --service      dotted service name (default hwholiday.srv.app)\n"
    "  --etcd         comma-separated etcd endpoints (default:\n"
    "                 $VLB_ETCD_ENDPOINTS, else 127.0.0.1:2379); https://\n"
    "                 ones are reached over TLS\n";
constexpr char kUsageTail[] =
    "  --listen       address to serve on (default 127.0.0.1:0); port 0\n"
    "                 picks a free port, and the port actually bound is the\n"
    "                 one registered\n"
    "  --id           instance id (default: <last name part>-<uuid>)\n"
    "  --weight       balancing weight in [0, 10000] (default 1)\n"
    "  --ttl_seconds  lease TTL in whole seconds, >= 2 (default 10)\n"
    "  --help         print this help\n"
    "\n"
    "Exit status: 0 after a signal, 1 when serving fails, 2 on bad flags.\n";

struct Config {
  RegistrarOptions registrar;
  std::string listen = "127.0.0.1:0";
  bool help = false;
};

absl::StatusOr<Config> ParseFlags(int argc, char** argv) {
  Config config;
  RegistrarOptions& options = config.registrar;
  options.service_name = "hwholiday.srv.app";
  FlagSet flags;
  programs::AddRegistrarFlags(&flags, &options);
  flags.AddString("listen", &config.listen);
  if (absl::Status status = flags.Parse(argc, argv); !status.ok()) {
    return status;
  }
  config.help = flags.help();
  if (config.help) return config;
  if (options.version.empty()) {
    return absl::InvalidArgumentError(
        "--version is required, e.g. --version=v1");
  }
  return config;
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

int Run(int argc, char** argv) {
  absl::StatusOr<Config> config = ParseFlags(argc, argv);
  const std::string usage =
      absl::StrCat(kUsageHead, programs::kEtcdFlagsUsage, kUsageTail);
  if (std::optional<int> exit = programs::EarlyExit(kProgram, usage, config)) {
    return *exit;
  }
  absl::StatusOr<std::string> host = ListenHost(config->listen);
  if (!host.ok()) return UsageError(kProgram, host.status());

  // Before gRPC or the registrar starts a thread: threads inherit the mask.
  programs::BlockStopSignals();

  ApiService service(config->registrar.version);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config->listen, grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    PrintLine(stderr,
              absl::StrCat(kProgram, ": cannot listen on ", config->listen));
    return 1;
  }
  config->registrar.address = absl::StrCat(*host, ":", port);

  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      programs::CreatePrintingRegistrar(config->registrar, stderr,
                                        "registrar: ");
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
  PrintLine(stderr, absl::StrCat("got signal ", signal_number,
                                 ": unregistering, then shutting down"));
  // Unregister first: clients watching etcd drop this instance and route
  // new calls elsewhere while the server still answers the calls in flight.
  (*registrar)->Stop();
  server->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
  PrintLine(stderr, "shut down; exiting");
  return 0;
}

}  // namespace
}  // namespace vlb::examples

int main(int argc, char** argv) { return vlb::examples::Run(argc, argv); }
