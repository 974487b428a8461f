// RegisterGrpcPlugins(): version checks and registration with gRPC's
// CoreConfiguration.
//
// Registration also runs from a static initializer in this file (linked in
// whenever a program calls RegisterGrpcPlugins), so that it precedes any
// channel the program creates; the explicit call then only stores options
// and reports problems.
#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include <atomic>
#include <cstdlib>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "balancer/version.h"
#include "common/process_identity.h"
#include "etcd/public_options.h"
#include "grpc_adapter/core.h"
#include "grpc_adapter/etcd_resolver.h"
#include "grpc_adapter/plugin_state.h"
#include "grpc_adapter/version_check.h"
#include "grpc_adapter/vlb_policy.h"
#include "grpcpp/grpcpp.h"

// CoreConfiguration keeps "already built" in a private static member; it
// is the only reliable sign that registering now would abort the process.
// libgrpc exports it (checked for 1.51.1; see version_check.h).
extern std::atomic<grpc_core::CoreConfiguration*> vlb_grpc_core_config __asm__(
    "_ZN9grpc_core17CoreConfiguration7config_E");

namespace vlb {
namespace grpc_adapter {
namespace {

// Constant-initialized, so that the static initializer below can use it
// whatever the order of initialization.
ABSL_CONST_INIT absl::Mutex state_mu(absl::kConstInit);

PluginOptions& Options() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu) {
  static auto* options = new PluginOptions;  // leaked: read at exit too
  return *options;
}

// Outcome of the registration attempt.
enum class Registration { kNotYet, kDone, kRefused };
Registration& RegistrationState() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu) {
  static Registration state = Registration::kNotYet;
  return state;
}

absl::Status RegisterLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu) {
  Registration& state = RegistrationState();
  if (state == Registration::kDone) return absl::OkStatus();
  absl::Status versions =
      CheckGrpcVersions(grpc_version_string(), grpc::Version());
  if (!versions.ok()) {
    state = Registration::kRefused;
    return versions;
  }
  if (vlb_grpc_core_config.load(std::memory_order_acquire) != nullptr) {
    return absl::FailedPreconditionError(
        "vlb::RegisterGrpcPlugins() was called after gRPC built its "
        "configuration (a channel, server or service config was created "
        "first); call it at the start of main(), before any gRPC object");
  }
  grpc_core::CoreConfiguration::RegisterBuilder(
      [](grpc_core::CoreConfiguration::Builder* builder) {
        RegisterEtcdResolver(builder);
        RegisterVlbPolicies(builder);
      });
  state = Registration::kDone;
  return absl::OkStatus();
}

// What the resolver will do with `etcd` for every "etcd:" target, done once
// now so that a bad option (an unreadable TLS file...) is the caller's
// error rather than a log line per channel. The endpoints are checked only
// when given: targets may name their own.
absl::Status CheckEtcdOptions(EtcdOptions etcd) {
  if (etcd.endpoints.empty()) etcd.endpoints = {"127.0.0.1:2379"};
  absl::StatusOr<etcd::ClientOptions> client = internal::MakeClientOptions(
      etcd, absl::Milliseconds(100), absl::Seconds(5));
  if (!client.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vlb::RegisterGrpcPlugins: PluginOptions.", client.status().message()));
  }
  return absl::OkStatus();
}

// Route documents and caller identity, checked once so that a typo is the
// caller's error rather than rules that silently never apply.
absl::Status CheckRoutingOptions(const PluginOptions& options) {
  const std::string& root = options.routes_root;
  if (!root.empty() && (root.front() != '/' || root.back() != '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vlb::RegisterGrpcPlugins: PluginOptions.routes_root: \"", root,
        "\" must start and end with '/' (or be empty to ignore route "
        "documents)"));
  }
  const std::string& version = options.caller_version;
  if (!version.empty() && !internal::ParseSemVer(version).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vlb::RegisterGrpcPlugins: PluginOptions.caller_version: \"", version,
        "\" is not a version (e.g. 2.1.0)"));
  }
  return absl::OkStatus();
}

// Runs before main() in every program that links this file.
const bool registered_at_startup = [] {
  absl::MutexLock lock(&state_mu);
  absl::Status status = RegisterLocked();
  // Reported again, with context, by RegisterGrpcPlugins(); a silent
  // failure here would only surface as "unknown scheme etcd".
  if (!status.ok()) {
    gpr_log(GPR_ERROR, "vlb: %s", std::string(status.message()).c_str());
  }
  return status.ok();
}();

}  // namespace

PluginOptions CurrentPluginOptions() {
  absl::MutexLock lock(&state_mu);
  return Options();
}

internal::CallerIdentity CurrentCaller() {
  const PluginOptions options = CurrentPluginOptions();
  internal::CallerIdentity caller{options.caller_service,
                                  options.caller_version};
  // Read per call of this function (once per policy update), never on the
  // pick path. NOLINTNEXTLINE(concurrency-mt-unsafe): nothing calls setenv.
  if (const char* s = std::getenv("VLB_CALLER_SERVICE");
      caller.service.empty() && s != nullptr) {
    caller.service = s;
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): as above.
  if (const char* v = std::getenv("VLB_CALLER_VERSION");
      caller.version.empty() && v != nullptr) {
    caller.version = v;
  }
  // What is still missing comes from the first registrar, the natural
  // default; its version only when the declared service (if any) is the
  // registrar's, so one process's two identities are never mixed.
  internal::RegisteredIdentity registered =
      internal::CurrentRegisteredIdentity();
  if (caller.service.empty()) caller.service = registered.service;
  if (caller.version.empty() && caller.service == registered.service) {
    caller.version = std::move(registered.version);
  }
  return caller;
}

}  // namespace grpc_adapter

absl::Status RegisterGrpcPlugins(const PluginOptions& options) {
  (void)grpc_adapter::registered_at_startup;
  if (absl::Status status = grpc_adapter::CheckEtcdOptions(options.etcd);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = grpc_adapter::CheckRoutingOptions(options);
      !status.ok()) {
    return status;
  }
  absl::MutexLock lock(&grpc_adapter::state_mu);
  grpc_adapter::Options() = options;
  return grpc_adapter::RegisterLocked();
}

}  // namespace vlb
