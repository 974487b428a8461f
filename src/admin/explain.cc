// ExplainCall: the picker's own code run over a listing. The route table
// decides the request as a client's picker does (vlb_policy.cc's Pick), a
// PickTable over the listed instances says which are eligible; this file
// only gathers the inputs and words the outcome.
#include "vlb/explain.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "admin/explain_internal.h"
#include "balancer/lane_value.h"
#include "balancer/policy_config.h"
#include "client/policy_options.h"
#include "routing/route_document.h"
#include "routing/route_table.h"
#include "vlb/admin.h"

namespace vlb {
namespace {

using internal::RouteDecision;
using internal::RouteTable;

// The route document in force for the explanation, compiled for the
// caller; null when there is none or it is invalid.
absl::StatusOr<std::unique_ptr<const RouteTable>> LoadRoutes(
    const EtcdOptions& etcd, absl::string_view service,
    const ExplainedCall& call, absl::string_view root, Explanation* out) {
  absl::StatusOr<StoredRouteDocument> stored =
      GetRouteDocument(etcd, service, root);
  if (absl::IsNotFound(stored.status())) return nullptr;
  if (!stored.ok()) return stored.status();
  out->route_revision = stored->mod_revision;
  absl::StatusOr<internal::RouteDocument> document =
      internal::ParseRouteDocument(stored->text);
  if (!document.ok()) {
    out->route_error = std::string(document.status().message());
    return nullptr;
  }
  return RouteTable::Compile(
      *document, std::string(service),
      internal::CallerIdentity{call.caller_service, call.caller_version});
}

// The call's metadata, as the picker's lookup sees it.
std::optional<absl::string_view> LookUp(const ExplainedCall& call,
                                        const internal::PolicyConfig& config,
                                        absl::string_view name) {
  if (name == config.lane_header && !call.lane.empty()) return call.lane;
  if (name == config.header && call.version.has_value()) return *call.version;
  for (const auto& [key, value] : call.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Explanation> ExplainCall(const EtcdOptions& etcd,
                                        absl::string_view service,
                                        const ExplainedCall& call,
                                        absl::string_view routes_root) {
  absl::StatusOr<internal::PolicyConfig> local =
      internal::MakeVersionPolicyConfig(
          internal::SettingsFromOptions(call.policy),
          internal::kPolicyOptionNames);
  if (!local.ok()) return local.status();
  absl::StatusOr<std::unique_ptr<AdminClient>> admin =
      AdminClient::Create(etcd);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<ServiceListing> listing = (*admin)->ListInstances(service);
  if (!listing.ok()) return listing.status();
  Explanation out;
  out.service = std::string(service);
  absl::StatusOr<std::unique_ptr<const RouteTable>> routes =
      LoadRoutes(etcd, service, call, routes_root, &out);
  if (!routes.ok()) return routes.status();
  const RouteTable* table = routes->get();
  const internal::PolicyConfig config =
      table != nullptr ? table->ApplyDefaults(*local) : *local;

  // The version and lane may also come as plain metadata, as on the wire.
  std::optional<absl::string_view> requested =
      call.version.has_value() ? std::optional<absl::string_view>(*call.version)
                               : LookUp(call, config, config.header);
  absl::string_view lane;
  const absl::string_view lane_value =
      LookUp(call, config, config.lane_header).value_or("");
  if (!internal::ParseLaneValue(lane_value, &lane)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lane header \"", config.lane_header, "\" names more than one lane (\"",
        absl::CHexEscape(lane_value), "\"): a call can be in one lane only"));
  }
  RouteDecision decision;
  if (table != nullptr) {
    decision = table->Evaluate(requested, [&](absl::string_view name) {
      return LookUp(call, config, name);
    });
  }
  internal::ExplainPick(*listing, config, table, requested, decision, lane,
                        &out);
  return out;
}

}  // namespace vlb
