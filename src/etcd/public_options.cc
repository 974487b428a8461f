#include "etcd/public_options.h"

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
#include "etcd/tls.h"
#include "vlb/service_instance.h"

namespace vlb::internal {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
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

}  // namespace vlb::internal
