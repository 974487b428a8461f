// Discovery through etcd and version-aware balancing for gRPC C++ channels.
//
//   vlb::RegisterGrpcPlugins();                       // once, at start-up
//   auto channel = vlb::CreateChannel("etcd:///hwholiday.srv.app",
//                                     grpc::InsecureChannelCredentials());
//   api::Api::Stub stub(channel);
//   grpc::ClientContext context;
//   vlb::SetVersion(&context, "v1");                  // or "^1.4", "1.x"...
//   stub.ApiTest(&context, request, &response);
//
// Targets: "etcd:///<service>" uses the etcd cluster from the init options
// ($VLB_ETCD_ENDPOINTS, else 127.0.0.1:2379); "etcd://<host:port,...>/
// <service>" names the cluster. One etcd connection and one watch stream
// per cluster are shared by every channel in the process.
//
// Load-balancing policies (select them in the service config):
//   vlb_version               routes each call by its version header
//   vlb_weighted_round_robin  static weights from the registry
//   vlb_random                uniform random
#ifndef VLB_GRPC_H_
#define VLB_GRPC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "vlb/registrar.h"

namespace vlb {

inline constexpr char kDefaultVersionHeader[] = "x-version";

struct PluginOptions {
  // The cluster used by "etcd:///<service>" targets.
  EtcdOptions etcd;
};

// Registers the "etcd" resolver and the vlb_* policies with gRPC. Call it
// once before the process creates its first gRPC channel or server (gRPC
// freezes its registry then). Later calls are no-ops that return OK if the
// first succeeded. Fails with FailedPrecondition when:
//   - the gRPC library at run time is not the version vlb was built
//     against (the plugin uses gRPC core internals; rebuild vlb), or
//   - gRPC was already initialized by a channel or server (call earlier).
absl::Status RegisterGrpcPlugins(const PluginOptions& options = {});

// Asks for `version` on this call (sets the metadata `header`). The value
// may be an exact version or a range; see README "Version requests".
void SetVersion(grpc::ClientContext* context, absl::string_view version,
                absl::string_view header = kDefaultVersionHeader);

// Settings of the vlb_version policy; see README "Service config".
struct VersionPolicyOptions {
  std::string header = kDefaultVersionHeader;
  std::string default_version;        // empty: calls without a version may
                                      // use every instance
  std::vector<std::string> fallback;  // tried in order; "*" = any
  std::string child_policy = "round_robin";  // or weighted_round_robin,
                                             // random
};

// The service config JSON selecting vlb_version with `options`.
std::string VersionServiceConfig(const VersionPolicyOptions& options = {});

// grpc::CreateCustomChannel with VersionServiceConfig(options) as the
// default service config.
std::shared_ptr<grpc::Channel> CreateChannel(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const VersionPolicyOptions& options = {}, grpc::ChannelArguments args = {});

}  // namespace vlb

#endif  // VLB_GRPC_H_
