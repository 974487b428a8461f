#include "client/etcd_target.h"

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "vlb/registrar.h"
#include "vlb/service_instance.h"

namespace vlb::internal {
namespace {

int HexValue(char c) {
  if (absl::ascii_isdigit(c)) return c - '0';
  return absl::ascii_tolower(c) - 'a' + 10;
}

// Like gRPC's URI::PercentDecode: valid '%XX' triplets are decoded, anything
// else is kept as it is.
std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        absl::ascii_isxdigit(text[i + 1]) &&
        absl::ascii_isxdigit(text[i + 2])) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 +
                                      HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

absl::Status TargetError(absl::string_view target, absl::string_view part,
                         absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      "etcd target \"", absl::CHexEscape(target), "\": ", part, ": ", problem));
}

}  // namespace

bool IsEtcdTarget(absl::string_view target) {
  return absl::StartsWith(target, kEtcdTargetScheme) &&
         target.size() > kEtcdTargetScheme.size() &&
         target[kEtcdTargetScheme.size()] == ':';
}

absl::StatusOr<EtcdTarget> ParseEtcdTarget(absl::string_view target) {
  absl::string_view rest = target;
  if (!IsEtcdTarget(rest)) {
    return TargetError(target, "scheme", "must be etcd:");
  }
  rest.remove_prefix(kEtcdTargetScheme.size() + 1);
  std::string authority;
  if (absl::ConsumePrefix(&rest, "//")) {
    const size_t end = rest.find_first_of("/?#");
    authority = PercentDecode(rest.substr(0, end));
    rest.remove_prefix(end == absl::string_view::npos ? rest.size() : end);
  }
  const size_t end = rest.find_first_of("?#");
  if (end != absl::string_view::npos) {
    return TargetError(target, "query or fragment",
                       absl::StrCat("\"", absl::CHexEscape(rest.substr(end)),
                                    "\" is not supported"));
  }

  EtcdTarget parsed;
  parsed.service = PercentDecode(rest);
  // Decoded first, as gRPC does before the resolver strips the slash.
  if (absl::StartsWith(parsed.service, "/")) parsed.service.erase(0, 1);
  if (absl::Status status = ValidateServiceName(parsed.service); !status.ok()) {
    return TargetError(target, "service", status.message());
  }
  if (!authority.empty()) {
    parsed.endpoints = ParseEndpointList(authority);
    if (parsed.endpoints.empty()) {
      return TargetError(target, "endpoints",
                         "none given (leave the authority empty, as in "
                         "etcd:///<service>, for the default cluster)");
    }
    for (const std::string& endpoint : parsed.endpoints) {
      if (absl::Status status = ValidateAddress(endpoint); !status.ok()) {
        return TargetError(target, "endpoint", status.message());
      }
    }
  }
  return parsed;
}

}  // namespace vlb::internal
