// vlb_example_client: calls the example service (api.Api) through a channel
// that discovers instances in etcd and routes each call by its version, and
// prints one line per call so a person or a script can see which instance
// answered or why the call failed.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "common/etcd_flags.h"
#include "common/flags.h"
#include "grpcpp/grpcpp.h"
#include "vlb/etcd_options.h"
#include "vlb/grpc.h"

namespace vlb::examples {
namespace {

using programs::FlagSet;
using programs::PrintLine;

constexpr char kProgram[] = "vlb_example_client";
constexpr char kDefaultService[] = "hwholiday.srv.app";

// The --help text, around the shared etcd flags' lines.
constexpr char kUsageHead[] =
    "Usage: vlb_example_client [--target=etcd:///SERVICE |\n"
    "                           --etcd=HOST:PORT,... --service=SERVICE]\n"
    "                          [--version=V] [--calls=N] [--deadline_ms=N]\n"
    "                          [--wait_for_ready] [--header=NAME]\n"
    "                          [--default_version=V] [--fallback=V,...]\n"
    "                          [--child_policy=POLICY]\n"
    "                          [--etcd_user=NAME] [--etcd_password=PASSWORD]\n"
    "                          [--etcd_cacert=FILE] [--etcd_cert=FILE]\n"
    "                          [--etcd_key=FILE]\n"
    "\n"
    "Makes N unary ApiTest calls (input \"call-<n>\") over a vlb channel and\n"
    "prints one line per call on stdout:\n"
    "  OK <response output>        e.g. OK app-1 v1: call-1\n"
    "  ERR <CODE_NAME> <message>   e.g. ERR UNAVAILABLE no instance of ...\n"
    "\n"
    "  --target           gRPC target (default etcd:///hwholiday.srv.app, the\n"
    "                     etcd cluster of $VLB_ETCD_ENDPOINTS, else\n"
    "                     127.0.0.1:2379)\n"
    "  --etcd, --service  build the target etcd://<etcd>/<service> instead\n"
    "                     (--service alone: etcd:///<service>); https://\n"
    "                     endpoints are reached over TLS, and the --etcd_*\n"
    "                     flags below apply to every etcd: target\n"
    "  --version          version to ask for on each call, e.g. v1 or ^1.4;\n"
    "                     empty (default) sends none\n"
    "  --calls            number of calls, made one after another (default 1)\n"
    "  --deadline_ms      deadline of each call (default 2000)\n"
    "  --wait_for_ready   queue calls while no instance is reachable instead\n"
    "                     of failing them at once (until the deadline)\n"
    "  --header           metadata key carrying the version (default\n"
    "                     x-version)\n"
    "  --default_version  version for calls that send none (default: any)\n"
    "  --fallback         comma-separated versions tried in order when none\n"
    "                     matches the request; * means any (default: none)\n"
    "  --child_policy     how calls spread over matching instances:\n"
    "                     round_robin (default), weighted_round_robin, "
    "random\n";
constexpr char kUsageTail[] =
    "  --help             print this help\n"
    "\n"
    "Exit status: 0 when every call succeeded, 1 when any call failed (or\n"
    "the vlb plugins could not be registered), 2 on bad flags, including\n"
    "a target, version, header, policy or etcd setting that vlb refuses\n"
    "(such as an unreadable --etcd_cacert).\n";

struct Config {
  PluginOptions plugin;  // etcd settings of every etcd: target
  std::string target;
  std::string version;
  int64_t calls = 1;
  int64_t deadline_ms = 2000;
  bool wait_for_ready = false;
  VersionPolicyOptions policy;
  bool help = false;
};

absl::StatusOr<Config> ParseFlags(int argc, char** argv) {
  Config config;
  std::string service;
  FlagSet flags;
  flags.AddString("target", &config.target);
  programs::AddEtcdFlags(&flags, &config.plugin.etcd);
  flags.AddString("service", &service);
  flags.AddString("version", &config.version);
  flags.AddInt("calls", &config.calls, 0, 1000000);
  flags.AddInt("deadline_ms", &config.deadline_ms, 1, 24 * 3600 * 1000);
  flags.AddBool("wait_for_ready", &config.wait_for_ready);
  flags.AddString("header", &config.policy.header);
  flags.AddString("default_version", &config.policy.default_version);
  flags.Add("fallback", [&config](absl::string_view value) {
    std::vector<std::string> versions =
        absl::StrSplit(value, ',', absl::SkipWhitespace());
    config.policy.fallback = std::move(versions);
    return absl::OkStatus();
  });
  flags.AddString("child_policy", &config.policy.child_policy);
  if (absl::Status status = flags.Parse(argc, argv); !status.ok()) {
    return status;
  }
  config.help = flags.help();
  if (config.help) return config;

  if (flags.seen("target") && (flags.seen("etcd") || flags.seen("service"))) {
    return absl::InvalidArgumentError(
        "give either --target or --etcd/--service, not both");
  }
  if (config.policy.header.empty()) {
    return absl::InvalidArgumentError("--header: must not be empty");
  }
  if (flags.seen("target")) {
    if (config.target.empty()) {
      return absl::InvalidArgumentError("--target: must not be empty");
    }
    return config;
  }
  if (service.empty()) service = kDefaultService;
  std::string cluster;
  if (flags.seen("etcd")) {
    // The target names the cluster (and its parser judges the endpoints);
    // the plugin options keep the rest: auth, TLS.
    cluster = absl::StrJoin(config.plugin.etcd.endpoints, ",");
    config.plugin.etcd.endpoints.clear();
  }
  config.target = absl::StrCat("etcd://", cluster, "/", service);
  return config;
}

// gRPC's codes have the same numbers as absl's, whose names are the
// canonical upper-case ones (UNAVAILABLE, DEADLINE_EXCEEDED...).
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

int Run(int argc, char** argv) {
  absl::StatusOr<Config> config = ParseFlags(argc, argv);
  const std::string usage =
      absl::StrCat(kUsageHead, programs::kEtcdFlagsUsage, kUsageTail);
  if (std::optional<int> exit = programs::EarlyExit(kProgram, usage, config)) {
    return *exit;
  }

  // Before any channel exists: gRPC freezes its plugin registry on first use.
  if (absl::Status status = RegisterGrpcPlugins(config->plugin); !status.ok()) {
    // InvalidArgument: an etcd flag the library refuses (a TLS file...).
    if (absl::IsInvalidArgument(status)) {
      return programs::UsageError(kProgram, status);
    }
    PrintLine(stderr, absl::StrCat(kProgram, ": ", status.ToString()));
    return 1;
  }
  // A bad target or policy flag is refused here, before any call.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateChannel(
      config->target, grpc::InsecureChannelCredentials(), config->policy);
  if (!channel.ok()) return programs::UsageError(kProgram, channel.status());
  api::Api::Stub stub(*channel);

  bool all_ok = true;
  for (int64_t n = 1; n <= config->calls; ++n) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(
        absl::Now() + absl::Milliseconds(config->deadline_ms)));
    context.set_wait_for_ready(config->wait_for_ready);
    if (!config->version.empty()) {
      // The same --version every time: a bad one fails the first call,
      // before anything is sent.
      if (absl::Status status =
              SetVersion(&context, config->version, config->policy.header);
          !status.ok()) {
        return programs::UsageError(kProgram, status);
      }
    }
    api::Request request;
    request.set_input(absl::StrCat("call-", n));
    api::Response response;
    const grpc::Status status = stub.ApiTest(&context, request, &response);
    if (status.ok()) {
      PrintLine(stdout, absl::StrCat("OK ", response.output()));
    } else {
      all_ok = false;
      PrintLine(stdout, absl::StrCat("ERR ", CodeName(status.error_code()), " ",
                                     status.error_message()));
    }
  }
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace vlb::examples

int main(int argc, char** argv) { return vlb::examples::Run(argc, argv); }
