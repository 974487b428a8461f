// Discovery through etcd and version-aware balancing for gRPC C++ channels.
//
//   vlb::RegisterGrpcPlugins();                       // once, at start-up
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       vlb::CreateChannel("etcd:///hwholiday.srv.app",
//                          grpc::InsecureChannelCredentials());
//   if (!channel.ok()) { /* InvalidArgument: bad target or options */ }
//   api::Api::Stub stub(*channel);
//   grpc::ClientContext context;
//   absl::Status set = vlb::SetVersion(&context, "v1");  // or "^1.4"...
//   if (!set.ok()) { /* InvalidArgument: not sendable as metadata */ }
//   stub.ApiTest(&context, request, &response);
//
// Targets: "etcd:///<service>" uses the etcd cluster from the init options
// ($VLB_ETCD_ENDPOINTS, else 127.0.0.1:2379); "etcd://<host:port,...>/
// <service>" names the cluster. One etcd connection and one watch stream
// per cluster are shared by every channel in the process.
//
// Load-balancing policies (select them in the service config; their names
// are constants in vlb/policy_names.h):
//   vlb_version               routes each call by its version header
//   vlb_weighted_round_robin  static weights from the registry
//   vlb_random                uniform random
#ifndef VLB_GRPC_H_
#define VLB_GRPC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "vlb/etcd_options.h"
#include "vlb/policy_names.h"

namespace vlb {

struct PluginOptions {
  // The cluster used by "etcd:///<service>" targets. Its other settings
  // (request timeout, username/password, TLS) apply to every "etcd:" target,
  // also to "etcd://<host:port,...>/<service>", which names only endpoints.
  EtcdOptions etcd;
  // When etcd comes back with less than it had (wiped, or restored from an
  // older backup), the instances it lost stay in use this long while their
  // registrars write them again; then the client follows etcd. About the
  // registrars' lease TTL. Deletions seen by the watch apply at once.
  absl::Duration data_loss_grace = absl::Seconds(10);
  // Opt-in: a directory where each resolved service's last known instances
  // are kept (<dir>/<service>.json, replaced atomically, at most once a
  // second), read back by a process that starts while no etcd member
  // answers. Never preferred to a live etcd. Empty: no copy.
  std::string snapshot_dir;
  // Where route documents live: the document of service S is the key
  // <routes_root>S (README "Route documents"). Each channel watches its
  // service's document and applies it over its local config. Empty: route
  // documents are ignored. Must end with '/'.
  std::string routes_root = "/vlb/routes/";
  // Who this process is, for route rules with callerService/callerVersion
  // ("gateway v2 may only talk to app v3"). Empty: from the environment
  // variables VLB_CALLER_SERVICE and VLB_CALLER_VERSION, else no caller
  // rule applies to this process.
  std::string caller_service;
  std::string caller_version;
};

// Registers the "etcd" resolver and the vlb_* policies with gRPC. Call it
// once before the process creates its first gRPC channel or server (gRPC
// freezes its registry then). Later calls are no-ops that return OK if the
// first succeeded. Fails with FailedPrecondition when:
//   - the gRPC library at run time is not the version vlb was built
//     against (the plugin uses gRPC core internals; rebuild vlb), or
//   - gRPC was already initialized by a channel or server (call earlier).
// Fails with InvalidArgument, naming the field (and the file), and keeps
// the options of earlier calls, when `options.etcd` is unusable: a TLS file
// that cannot be read or holds no certificate or key, a key that does not
// match its certificate, a bad endpoint, a username without password.
// Reads the TLS files (and every channel's etcd client reads them again).
absl::Status RegisterGrpcPlugins(const PluginOptions& options = {});

// Asks for `version` on this call: adds the metadata entry `header`:
// `version`. The value may be an exact version or a range; see README
// "Version requests". Call it at most once per context (two entries make
// one malformed request).
//
// Returns InvalidArgument, naming the problem and quoting the input, and
// adds nothing to `context`, when the entry could not be sent (gRPC would
// abort the process when the call starts):
//   - `version` is empty or blank, longer than 256 bytes, or has a byte
//     outside printable ASCII (0x20-0x7E: no newline, no control character,
//     no UTF-8 such as "v1\xc3\xa9");
//   - `header` is not a metadata key that can carry a version: empty,
//     characters outside [0-9a-z_.-], a pseudo-header (":path"), a "grpc-"
//     or "-bin" name, or a header gRPC or HTTP/2 reserves ("te", "host",
//     "content-type"...). Upper case is lowered ("X-Version" is
//     "x-version"), as the policy config does.
// The request's grammar is not checked here: a malformed request ("1..2")
// fails the call (see README). Thread-compatible, like `context`; cheap (one
// pass over each string, one copy of each into the context).
[[nodiscard]] absl::Status SetVersion(
    grpc::ClientContext* context, absl::string_view version,
    absl::string_view header = kDefaultVersionHeader);

// Sends this call in lane `lane` (README "Lanes"): adds the metadata entry
// `header`: `lane`. Returns InvalidArgument, and adds nothing, when `lane`
// is not a lane name (vlb::ValidateLane: 1 to 63 of [a-z0-9-]) or `header`
// is not a usable metadata key (the rules of SetVersion). A server passing
// the lane on uses vlb::PropagateRoutingHeaders instead. Thread-compatible,
// like `context`.
[[nodiscard]] absl::Status SetLane(
    grpc::ClientContext* context, absl::string_view lane,
    absl::string_view header = kDefaultLaneHeader);

// Settings of the vlb_version policy; see README "Service config". Every
// field is used as it is: an empty header or child_policy is an error, not
// the default.
struct VersionPolicyOptions {
  std::string header = kDefaultVersionHeader;  // lowered, as in SetVersion
  std::string default_version;        // empty: calls without a version may
                                      // use every instance
  std::vector<std::string> fallback;  // tried in order; "*" = any
  std::string child_policy = "round_robin";  // or weighted_round_robin,
                                             // random
  // The metadata key of a call's lane, and the lanes whose calls never fall
  // back to the baseline (README "Lanes").
  std::string lane_header = kDefaultLaneHeader;
  std::vector<std::string> strict_lanes;
};

// The service config JSON selecting vlb_version with `options`. It is not
// checked here; the policy refuses invalid options (CreateChannel says why).
std::string VersionServiceConfig(const VersionPolicyOptions& options = {});

// grpc::CreateCustomChannel with VersionServiceConfig(options) as the
// default service config, after checking what gRPC would only log and turn
// into calls failing with "Failed to create secure client channel".
// Returns InvalidArgument naming the problem, and creates nothing, when
//   - `options` has a value the vlb_version policy refuses (the same check
//     as the service config's), e.g. `VersionPolicyOptions.child_policy:
//     "bogus" is not one of round_robin, weighted_round_robin, random`;
//   - `target` is an "etcd:" target the etcd resolver refuses (bad service
//     name, bad or empty endpoint list, a query or fragment), e.g.
//     `etcd target "etcd://h:0/app": endpoint: ...`.
// Other targets ("dns:///x", "ipv4:127.0.0.1:1", "host:port") go to gRPC as
// they are. Does no I/O (etcd is contacted once the channel connects).
// Thread-safe.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const VersionPolicyOptions& options = {}, grpc::ChannelArguments args = {});

}  // namespace vlb

#endif  // VLB_GRPC_H_
