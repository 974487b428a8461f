#include "registry/registrar_options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "balancer/version.h"
#include "common/uuid.h"
#include "etcd/public_options.h"

namespace vlb::internal {
namespace {

// JSON strings must be UTF-8; checking here keeps the encoder from having
// to replace bytes silently.
bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMinByLength[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinByLength[extra] || code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Clients choose instances with a version request (balancer/version.h), so a
// version that no request names exactly (`2024.01.15`, `1.0.0.1`, `^1`, `*`)
// would be reachable only through `*` or a fallback: refuse it here, where
// its owner is told, rather than leave it silently unreachable.
absl::Status CheckRequestable(absl::string_view version) {
  absl::StatusOr<VersionRequest> request = VersionRequest::Parse(version);
  std::string reason;
  if (!request.ok()) {
    reason = std::string(request.status().message());
  } else if (request->IsAny()) {
    reason = "a request for it matches every version";
  } else if (!request->IsExactVersion() ||
             !request->Matches(version, ParseSemVer(version))) {
    reason = "a request for it does not match it";
  } else {
    return absl::OkStatus();
  }
  return FieldError(
      "version",
      absl::StrFormat("\"%s\" cannot be requested by clients (%s); use a "
                      "semantic version such as 1.0.0 or a label such as blue",
                      absl::CHexEscape(version), reason));
}

// The options operators act on during a release: lane and drain grace.
absl::Status ValidateReleaseOptions(const RegistrarOptions& options) {
  if (!options.lane.empty()) {
    if (absl::Status status = ValidateLane(options.lane); !status.ok()) {
      return FieldError("lane", status.message());
    }
  }
  if (options.drain_grace < absl::ZeroDuration()) {
    return FieldError("drain_grace",
                      absl::StrCat(absl::FormatDuration(options.drain_grace),
                                   " is negative"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateVersion(absl::string_view version) {
  if (version.empty()) return FieldError("version", "must not be empty");
  if (version.size() > 128) {
    return FieldError("version", "longer than 128 bytes");
  }
  for (char c : version) {
    if (c <= ' ' || c > '~') {
      return FieldError(
          "version",
          absl::StrFormat("\"%s\" has a space or non-printable character",
                          absl::CHexEscape(version)));
    }
  }
  return CheckRequestable(version);
}

absl::Status ValidateMetadata(
    const std::map<std::string, std::string>& metadata) {
  for (const auto& [key, value] : metadata) {
    if (key.empty()) return FieldError("metadata", "empty key");
    if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
      return FieldError("metadata",
                        absl::StrCat("\"", absl::CHexEscape(key),
                                     "\": keys and values must be UTF-8"));
    }
    if (IsReservedMetadataKey(key)) {
      return FieldError(
          "metadata",
          absl::StrCat("\"", key, "\" is reserved: set the ", key,
                       key == "drained" ? " state with Drain()" : " field"));
    }
  }
  return absl::OkStatus();
}

absl::Status NormalizeRegistrarOptions(RegistrarOptions& options) {
  if (absl::Status status = ValidateServiceName(options.service_name);
      !status.ok()) {
    return FieldError("service_name", status.message());
  }
  if (options.instance_id.empty()) {
    options.instance_id =
        absl::StrCat(ServiceShortName(options.service_name), "-", NewUuidV4());
  } else if (absl::Status status = ValidateInstanceId(options.instance_id);
             !status.ok()) {
    return FieldError("instance_id", status.message());
  }
  if (absl::Status status = ValidateVersion(options.version); !status.ok()) {
    return status;
  }
  if (options.address.empty()) {
    return FieldError("address", "must not be empty");
  }
  if (absl::Status status = ValidateAddress(options.address); !status.ok()) {
    return FieldError("address", status.message());
  }
  if (options.weight > kMaxWeight) {
    return FieldError(
        "weight", absl::StrFormat("%u is out of range [%u, %u]", options.weight,
                                  kMinWeight, kMaxWeight));
  }
  if (absl::Status status = ValidateMetadata(options.metadata); !status.ok()) {
    return status;
  }
  if (absl::Status status = ValidateReleaseOptions(options); !status.ok()) {
    return status;
  }
  if (options.ttl < kMinRegistrationTtl) {
    return FieldError("ttl",
                      absl::StrCat(absl::FormatDuration(options.ttl),
                                   " is below etcd's minimum lease TTL of ",
                                   absl::FormatDuration(kMinRegistrationTtl)));
  }
  // The endpoints from $VLB_ETCD_ENDPOINTS lose their scheme here; an
  // "https://" among them must still mean TLS.
  if (options.etcd.endpoints.empty() && EnvironmentAsksForTls()) {
    options.etcd.tls = true;
  }
  options.etcd.endpoints = EffectiveEtcdEndpoints(options.etcd.endpoints);
  if (absl::StatusOr<etcd::ClientOptions> client = MakeClientOptions(
          options.etcd, options.initial_backoff, options.max_backoff);
      !client.ok()) {
    return client.status();
  }
  if (EncodeServiceRecord(InstanceFromOptions(options)).size() >
      kMaxRecordBytes) {
    return FieldError("metadata", absl::StrCat("the record would exceed ",
                                               kMaxRecordBytes, " bytes"));
  }
  return absl::OkStatus();
}

ServiceInstance InstanceFromOptions(const RegistrarOptions& options) {
  ServiceInstance instance;
  instance.name = ServiceShortName(options.service_name);
  instance.path = ServicePath(options.service_name);
  instance.id = options.instance_id;
  instance.version = options.version;
  instance.address = options.address;
  instance.weight = options.weight;
  instance.lane = options.lane;
  instance.metadata = options.metadata;
  return instance;
}

}  // namespace vlb::internal
