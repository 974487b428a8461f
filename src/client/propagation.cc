// vlb::PropagateRoutingHeaders (vlb/propagation.h): received routing
// metadata copied into a downstream call, through gRPC's public API only.
#include "vlb/propagation.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "balancer/version_header.h"
#include "grpcpp/support/string_ref.h"

namespace vlb {
namespace {

// The configured names as metadata keys, lowered and without repeats, or
// the first one that cannot be sent, named by its index.
absl::StatusOr<std::vector<std::string>> MetadataKeys(
    const RoutingHeaders& headers) {
  std::vector<std::string> keys;
  keys.reserve(headers.names.size());
  for (size_t i = 0; i < headers.names.size(); ++i) {
    const std::string& name = headers.names[i];
    const std::string field = absl::StrCat("RoutingHeaders.names[", i, "]");
    // Checked before the shared rule, whose message speaks of versions.
    if (absl::EndsWithIgnoreCase(name, "-bin")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vlb::PropagateRoutingHeaders: ", field, ": \"",
          absl::CHexEscape(name),
          "\" names binary metadata (-bin suffix); routing headers are text"));
    }
    // The version header's rule is gRPC's rule for any text metadata key.
    absl::StatusOr<std::string> key =
        internal::NormalizeVersionHeaderName(name);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("vlb::PropagateRoutingHeaders: ", field, ": ",
                       key.status().message()));
    }
    if (std::find(keys.begin(), keys.end(), *key) == keys.end()) {
      keys.push_back(*std::move(key));
    }
  }
  return keys;
}

// What gRPC accepts as a text metadata value when a call starts.
bool IsSendableValue(const grpc::string_ref& value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    const unsigned char byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte <= 0x7e;
  });
}

}  // namespace

absl::Status PropagateRoutingHeaders(const grpc::ServerContextBase& server,
                                     grpc::ClientContext* client,
                                     const RoutingHeaders& headers) {
  // Every name is checked before anything is added: all or nothing.
  absl::StatusOr<std::vector<std::string>> keys = MetadataKeys(headers);
  if (!keys.ok()) return keys.status();
  const std::multimap<grpc::string_ref, grpc::string_ref>& received =
      server.client_metadata();
  for (const std::string& key : *keys) {
    auto [begin, end] = received.equal_range(grpc::string_ref(key));
    for (auto it = begin; it != end; ++it) {
      if (!IsSendableValue(it->second)) continue;
      client->AddMetadata(key,
                          std::string(it->second.data(), it->second.size()));
    }
  }
  return absl::OkStatus();
}

}  // namespace vlb
