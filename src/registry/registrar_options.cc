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
#include "etcd/tls.h"

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

// Drops an "http://" or "https://" prefix and trailing '/'s, as
// ParseEndpointList does; true when the prefix was "https://".
bool StripScheme(absl::string_view& endpoint) {
  bool https = false;
  if (absl::StartsWithIgnoreCase(endpoint, "https://")) {
    endpoint.remove_prefix(8);
    https = true;
  } else if (absl::StartsWithIgnoreCase(endpoint, "http://")) {
    endpoint.remove_prefix(7);
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  return https;
}

// One TLS item, given as a file (read here) or as PEM text: its text and,
// for messages, where it came from (`etcd.ca_file "/path"`).
absl::Status LoadPem(absl::string_view file_field, const std::string& file,
                     absl::string_view pem_field, const std::string& pem,
                     std::string* text, std::string* origin) {
  if (!file.empty() && !pem.empty()) {
    return FieldError(file_field, absl::StrCat("give ", file_field, " or ",
                                               pem_field, ", not both"));
  }
  if (pem.empty() && file.empty()) return absl::OkStatus();
  if (!pem.empty()) {
    *text = pem;
    *origin = std::string(pem_field);
    return absl::OkStatus();
  }
  *origin = absl::StrCat(file_field, " \"", absl::CHexEscape(file), "\"");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int error = errno;
    return absl::InvalidArgumentError(absl::StrCat(
        *origin, ": cannot read the file: ", std::strerror(error)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  *text = contents.str();
  if (text->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(*origin, ": empty, or not a regular file"));
  }
  return absl::OkStatus();
}

// The client's TLS settings: on when asked for (`https` endpoints, `tls`)
// or when any item is given; every item read and checked.
absl::StatusOr<etcd::TlsOptions> MakeTlsOptions(const EtcdOptions& options,
                                                bool https) {
  etcd::TlsOptions tls;
  const bool has_cert = !options.cert_file.empty() || !options.cert_pem.empty();
  const bool has_key = !options.key_file.empty() || !options.key_pem.empty();
  tls.enabled = https || options.tls || has_cert || has_key ||
                !options.ca_file.empty() || !options.ca_pem.empty();
  if (!tls.enabled) return tls;
  if (has_cert != has_key) {
    return has_cert ? FieldError("etcd.cert_file",
                                 "a client certificate needs its private "
                                 "key: set etcd.key_file or etcd.key_pem")
                    : FieldError("etcd.key_file",
                                 "a private key needs its client "
                                 "certificate: set etcd.cert_file or "
                                 "etcd.cert_pem");
  }
  absl::Status status = LoadPem("etcd.ca_file", options.ca_file, "etcd.ca_pem",
                                options.ca_pem, &tls.ca_pem, &tls.ca_origin);
  if (status.ok()) {
    status = LoadPem("etcd.cert_file", options.cert_file, "etcd.cert_pem",
                     options.cert_pem, &tls.cert_pem, &tls.cert_origin);
  }
  if (status.ok()) {
    status = LoadPem("etcd.key_file", options.key_file, "etcd.key_pem",
                     options.key_pem, &tls.key_pem, &tls.key_origin);
  }
  if (status.ok()) status = etcd::CheckTlsOptions(tls);
  if (!status.ok()) return status;
  return tls;
}

}  // namespace

std::vector<std::string> EffectiveEtcdEndpoints(
    const std::vector<std::string>& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("VLB_ETCD_ENDPOINTS");
      env != nullptr && *env != '\0') {
    std::vector<std::string> endpoints = ParseEndpointList(env);
    if (!endpoints.empty()) return endpoints;
  }
  return {"127.0.0.1:2379"};
}

bool EnvironmentAsksForTls() {
  const char* env = std::getenv("VLB_ETCD_ENDPOINTS");
  return env != nullptr && EndpointListUsesHttps(env);
}

absl::StatusOr<etcd::ClientOptions> MakeClientOptions(
    const EtcdOptions& options, absl::Duration initial_backoff,
    absl::Duration max_backoff) {
  etcd::ClientOptions client;
  bool https = options.endpoints.empty() && EnvironmentAsksForTls();
  for (const std::string& configured :
       EffectiveEtcdEndpoints(options.endpoints)) {
    absl::string_view endpoint = configured;
    https |= StripScheme(endpoint);
    if (absl::Status status = ValidateAddress(endpoint); !status.ok()) {
      return FieldError("etcd.endpoints", status.message());
    }
    client.endpoints.emplace_back(endpoint);
  }
  if (options.request_timeout <= absl::ZeroDuration()) {
    return FieldError("etcd.request_timeout", "must be positive");
  }
  if (options.username.empty() != options.password.empty()) {
    return FieldError("etcd.username",
                      "username and password must be given together");
  }
  if (initial_backoff <= absl::ZeroDuration() ||
      max_backoff < initial_backoff) {
    return FieldError("initial_backoff",
                      "need 0 < initial_backoff <= max_backoff");
  }
  absl::StatusOr<etcd::TlsOptions> tls = MakeTlsOptions(options, https);
  if (!tls.ok()) return tls.status();
  client.request_timeout = options.request_timeout;
  client.username = options.username;
  client.password = options.password;
  client.initial_backoff = initial_backoff;
  client.max_backoff = max_backoff;
  client.tls = *std::move(tls);
  return client;
}

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
    if (key == "weight") {
      return FieldError("metadata",
                        "\"weight\" is reserved: set the weight field");
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
  instance.metadata = options.metadata;
  return instance;
}

}  // namespace vlb::internal
