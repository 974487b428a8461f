// ClientOptionsKey (declared in etcd/client.h).
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "etcd/client.h"

namespace vlb::etcd {
namespace {

// Hex SHA-256 of `data`, so that secrets never sit in a key in the clear;
// empty stays empty.
std::string Digest(absl::string_view data) {
  if (data.empty()) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(),
                 nullptr) != 1) {
    // Only on allocation failure; a key that matches no other is safe (the
    // pool then makes a client of its own).
    static std::atomic<uint64_t> unique{0};
    return absl::StrCat("no-digest-", unique.fetch_add(1));
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), size));
}

}  // namespace

std::string ClientOptionsKey(const ClientOptions& options) {
  std::vector<std::string> endpoints = options.endpoints;
  std::sort(endpoints.begin(), endpoints.end());
  const TlsOptions& tls = options.tls;
  return absl::StrCat(
      absl::StrJoin(endpoints, ","), "|", absl::CHexEscape(options.username),
      "|", Digest(options.password), "|",
      absl::FormatDuration(options.request_timeout), "|",
      absl::FormatDuration(options.initial_backoff), "|",
      absl::FormatDuration(options.max_backoff), "|tls=", tls.enabled ? 1 : 0,
      "|", tls.enabled ? Digest(tls.ca_pem) : "", "|",
      tls.enabled ? Digest(tls.cert_pem) : "", "|",
      tls.enabled ? Digest(tls.key_pem) : "");
}

}  // namespace vlb::etcd
