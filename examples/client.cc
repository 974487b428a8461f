// vlb_example_client: calls the example service (api.Api) through a channel
// that discovers instances in etcd and routes each call by its version, and
// prints one line per call so a person or a script can see which instance
// answered or why the call failed.
#include <algorithm>
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
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api.grpc.pb.h"
#include "common/command_line.h"
#include "common/etcd_flags.h"
#include "common/print_line.h"
#include "grpcpp/grpcpp.h"
#include "vlb/etcd_options.h"
#include "vlb/grpc.h"

// The etcd connection flags (--etcd, --etcd_user, --etcd_cacert...) come
// from common/etcd_flags.cc, shared by all the programs.
ABSL_FLAG(std::string, target, "",
          "gRPC target to call, e.g. etcd:///hwholiday.srv.app (default: "
          "etcd://<--etcd>/<--service>, which without --etcd means the etcd "
          "cluster of $VLB_ETCD_ENDPOINTS, else 127.0.0.1:2379); the --etcd_* "
          "flags apply to every etcd: target");
ABSL_FLAG(std::string, service, "",
          "dotted service name, for the default target (default: "
          "hwholiday.srv.app)");
ABSL_FLAG(std::string, version, "",
          "version to ask for on each call, e.g. v1 or ^1.4; empty sends none");
ABSL_FLAG(int64_t, calls, 1,
          "number of calls, made one after another, in [0, 1000000]");
ABSL_FLAG(int64_t, interval_ms, 0,
          "pause between calls in milliseconds, in [0, 60000]");
ABSL_FLAG(std::string, lane, "",
          "send the calls in this lane (vlb::SetLane, header x-lane; README "
          "\"Lanes\")");
ABSL_FLAG(int64_t, deadline_ms, 2000,
          "deadline of each call in milliseconds, in [1, 86400000]");
ABSL_FLAG(bool, wait_for_ready, false,
          "queue calls while no instance is reachable instead of failing "
          "them at once (until the deadline)");
ABSL_FLAG(std::string, header, vlb::kDefaultVersionHeader,
          "metadata key carrying the version");
ABSL_FLAG(std::string, default_version, "",
          "version for calls that send none (default: any)");
ABSL_FLAG(std::vector<std::string>, fallback, {},
          "comma-separated versions tried in order when none matches the "
          "request; * means any (default: none)");
ABSL_FLAG(std::vector<std::string>, metadata, {},
          "comma-separated KEY=VALUE metadata entries sent with each call, "
          "e.g. x-user-id=42 for a route document's sticky split or header "
          "rule (default: none)");
ABSL_FLAG(std::string, child_policy, "round_robin",
          "how calls spread over matching instances: round_robin, "
          "weighted_round_robin or random");

namespace vlb::examples {
namespace {

using programs::PrintLine;

constexpr char kProgram[] = "vlb_example_client";
constexpr char kDefaultService[] = "hwholiday.srv.app";

// The start of --help, which then lists the flags.
constexpr char kUsage[] =
    "Usage: vlb_example_client [--target=TARGET |\n"
    "                           --etcd=HOST:PORT,... --service=SERVICE]\n"
    "                          [--version=V] [--calls=N] [other flags below]\n"
    "\n"
    "Makes N unary ApiTest calls (input \"call-<n>\") over a vlb channel and\n"
    "prints one line per call on stdout:\n"
    "  OK <response output>        e.g. OK app-1 v1: call-1\n"
    "  ERR <CODE_NAME> <message>   e.g. ERR UNAVAILABLE no instance of ...\n"
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
  absl::Duration interval;
  std::string lane;
  absl::Duration deadline;
  bool wait_for_ready = false;
  std::vector<std::pair<std::string, std::string>> metadata;
  VersionPolicyOptions policy;
};

// --metadata's entries. Keys must be what gRPC accepts for text metadata
// (lower-case [0-9a-z_.-]) and values printable ASCII: gRPC aborts the
// process on anything else when the call starts.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
MetadataFromFlags() {
  std::vector<std::pair<std::string, std::string>> entries;
  for (const std::string& entry : absl::GetFlag(FLAGS_metadata)) {
    const size_t eq = entry.find('=');
    const std::string key = entry.substr(0, eq);
    const bool key_ok =
        eq != std::string::npos && !key.empty() &&
        key.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz_.-") ==
            std::string::npos;
    const std::string value = key_ok ? entry.substr(eq + 1) : "";
    const bool value_ok = std::all_of(value.begin(), value.end(), [](char c) {
      return c >= 0x20 && c <= 0x7e;
    });
    if (!key_ok || !value_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--metadata: \"", entry,
          "\" is not KEY=VALUE with a lower-case key of [0-9a-z_.-] and a "
          "printable value"));
    }
    entries.emplace_back(key, value);
  }
  return entries;
}

// --target, or the etcd: target that --etcd and --service describe. In the
// latter case the target names the cluster (and its parser judges the
// endpoints), so `etcd` keeps only the rest: auth, TLS.
absl::StatusOr<std::string> TargetFromFlags(EtcdOptions* etcd) {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string service = absl::GetFlag(FLAGS_service);
  const bool etcd_given = !absl::GetFlag(FLAGS_etcd).list.empty();
  if (!target.empty()) {
    if (etcd_given || !service.empty()) {
      return absl::InvalidArgumentError(
          "give either --target or --etcd/--service, not both");
    }
    return target;
  }
  std::string cluster;
  if (etcd_given) {
    cluster = absl::StrJoin(etcd->endpoints, ",");
    etcd->endpoints.clear();
  }
  return absl::StrCat("etcd://", cluster, "/",
                      service.empty() ? kDefaultService : service);
}

// The flags' values, with the checks their types cannot express; vlb checks
// the rest (target, version, policy, etcd settings) when it gets them.
absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  config.plugin.etcd = programs::EtcdOptionsFromFlags();
  config.version = absl::GetFlag(FLAGS_version);
  config.calls = absl::GetFlag(FLAGS_calls);
  const int64_t interval_ms = absl::GetFlag(FLAGS_interval_ms);
  config.interval = absl::Milliseconds(interval_ms);
  config.lane = absl::GetFlag(FLAGS_lane);
  const int64_t deadline_ms = absl::GetFlag(FLAGS_deadline_ms);
  config.deadline = absl::Milliseconds(deadline_ms);
  config.wait_for_ready = absl::GetFlag(FLAGS_wait_for_ready);
  config.policy.header = absl::GetFlag(FLAGS_header);
  config.policy.default_version = absl::GetFlag(FLAGS_default_version);
  config.policy.fallback = absl::GetFlag(FLAGS_fallback);
  config.policy.child_policy = absl::GetFlag(FLAGS_child_policy);
  if (absl::Status status =
          programs::CheckFlagRange<int64_t>("calls", config.calls, 0, 1000000);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = programs::CheckFlagRange<int64_t>(
          "deadline_ms", deadline_ms, 1, int64_t{24} * 3600 * 1000);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = programs::CheckFlagRange<int64_t>(
          "interval_ms", interval_ms, 0, 60000);
      !status.ok()) {
    return status;
  }
  if (config.policy.header.empty()) {
    return absl::InvalidArgumentError("--header: must not be empty");
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> metadata =
      MetadataFromFlags();
  if (!metadata.ok()) return metadata.status();
  config.metadata = *std::move(metadata);
  absl::StatusOr<std::string> target = TargetFromFlags(&config.plugin.etcd);
  if (!target.ok()) return target.status();
  config.target = *std::move(target);
  return config;
}

// gRPC's codes have the same numbers as absl's, whose names are the
// canonical upper-case ones (UNAVAILABLE, DEADLINE_EXCEEDED...).
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // absl::ParseCommandLine(argc, argv) would do as well: the same flags in
  // the same syntax. This wrapper only keeps the promise of the exit status
  // above (absl 20220623 exits 1 on bad flags and after --help).
  programs::ParseCommandLineOrExit(argc, argv);
  absl::StatusOr<Config> config = ConfigFromFlags();
  if (!config.ok()) return programs::UsageError(kProgram, config.status());

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
    if (n > 1) absl::SleepFor(config->interval);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + config->deadline));
    context.set_wait_for_ready(config->wait_for_ready);
    for (const auto& [key, value] : config->metadata) {
      context.AddMetadata(key, value);
    }
    if (!config->lane.empty()) {
      if (absl::Status status = SetLane(&context, config->lane); !status.ok()) {
        return programs::UsageError(kProgram, status);
      }
    }
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
