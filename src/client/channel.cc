// The client-side conveniences of vlb/grpc.h that need no gRPC internals.
#include <string>

#include "absl/strings/ascii.h"
#include "grpcpp/create_channel.h"
#include "nlohmann/json.hpp"
#include "vlb/grpc.h"

namespace vlb {

void SetVersion(grpc::ClientContext* context, absl::string_view version,
                absl::string_view header) {
  // gRPC requires lower-case metadata keys.
  context->AddMetadata(absl::AsciiStrToLower(header), std::string(version));
}

std::string VersionServiceConfig(const VersionPolicyOptions& options) {
  nlohmann::json policy = nlohmann::json::object();
  if (!options.header.empty()) policy["header"] = options.header;
  if (!options.default_version.empty()) {
    policy["defaultVersion"] = options.default_version;
  }
  if (!options.fallback.empty()) policy["fallback"] = options.fallback;
  if (!options.child_policy.empty()) {
    policy["childPolicy"] = options.child_policy;
  }
  nlohmann::json config;
  config["loadBalancingConfig"] =
      nlohmann::json::array({nlohmann::json{{"vlb_version", policy}}});
  return config.dump();
}

std::shared_ptr<grpc::Channel> CreateChannel(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const VersionPolicyOptions& options, grpc::ChannelArguments args) {
  args.SetServiceConfigJSON(VersionServiceConfig(options));
  return grpc::CreateCustomChannel(target, credentials, args);
}

}  // namespace vlb
