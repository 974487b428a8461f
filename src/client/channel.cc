// The client-side conveniences of vlb/grpc.h that need no gRPC internals.
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "balancer/policy_config.h"
#include "balancer/version_header.h"
#include "client/etcd_target.h"
#include "client/policy_options.h"
#include "grpcpp/create_channel.h"
#include "nlohmann/json.hpp"
#include "vlb/grpc.h"
#include "vlb/service_instance.h"

namespace vlb {

namespace internal {

VersionPolicySettings SettingsFromOptions(const VersionPolicyOptions& options) {
  VersionPolicySettings settings;
  settings.header = options.header;
  if (!options.default_version.empty()) {
    settings.default_version = options.default_version;
  }
  settings.fallback = options.fallback;
  settings.child_policy = options.child_policy;
  settings.lane_header = options.lane_header;
  settings.strict_lanes = options.strict_lanes;
  return settings;
}

}  // namespace internal

absl::Status SetVersion(grpc::ClientContext* context, absl::string_view version,
                        absl::string_view header) {
  // Checked here because gRPC does not return an error for metadata it
  // refuses: it aborts the process when the call starts.
  absl::StatusOr<std::string> key =
      internal::NormalizeVersionHeaderName(header);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("vlb::SetVersion: header: ", key.status().message()));
  }
  if (absl::Status status = internal::ValidateVersionHeaderValue(version);
      !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("vlb::SetVersion: version: ", status.message()));
  }
  context->AddMetadata(*std::move(key), std::string(version));
  return absl::OkStatus();
}

absl::Status SetLane(grpc::ClientContext* context, absl::string_view lane,
                     absl::string_view header) {
  absl::StatusOr<std::string> key =
      internal::NormalizeVersionHeaderName(header);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("vlb::SetLane: header: ", key.status().message()));
  }
  if (absl::Status status = ValidateLane(lane); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("vlb::SetLane: ", status.message()));
  }
  context->AddMetadata(*std::move(key), std::string(lane));
  return absl::OkStatus();
}

std::string VersionServiceConfig(const VersionPolicyOptions& options) {
  nlohmann::json policy = nlohmann::json::object();
  policy["header"] = options.header;
  if (!options.default_version.empty()) {
    policy["defaultVersion"] = options.default_version;
  }
  policy["fallback"] = options.fallback;
  policy["childPolicy"] = options.child_policy;
  policy["laneHeader"] = options.lane_header;
  if (!options.strict_lanes.empty()) {
    policy["strictLanes"] = options.strict_lanes;
  }
  nlohmann::json config;
  config["loadBalancingConfig"] =
      nlohmann::json::array({nlohmann::json{{kVersionPolicyName, policy}}});
  // Options may hold invalid UTF-8, on which dump() would throw.
  return config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const VersionPolicyOptions& options, grpc::ChannelArguments args) {
  if (internal::IsEtcdTarget(target)) {
    absl::StatusOr<internal::EtcdTarget> parsed =
        internal::ParseEtcdTarget(target);
    if (!parsed.ok()) return parsed.status();
  }
  absl::StatusOr<internal::PolicyConfig> config =
      internal::MakeVersionPolicyConfig(internal::SettingsFromOptions(options),
                                        internal::kPolicyOptionNames);
  if (!config.ok()) return config.status();
  args.SetServiceConfigJSON(VersionServiceConfig(options));
  return grpc::CreateCustomChannel(target, credentials, args);
}

}  // namespace vlb
