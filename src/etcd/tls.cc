#include "etcd/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vlb::etcd {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using UniqueBio = std::unique_ptr<BIO, BioFree>;
using UniqueX509 = std::unique_ptr<X509, X509Free>;
using UniquePkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string CaOrigin(const TlsOptions& tls) {
  return tls.ca_origin.empty() ? "tls.ca_pem" : tls.ca_origin;
}
std::string CertOrigin(const TlsOptions& tls) {
  return tls.cert_origin.empty() ? "tls.cert_pem" : tls.cert_origin;
}
std::string KeyOrigin(const TlsOptions& tls) {
  return tls.key_origin.empty() ? "tls.key_pem" : tls.key_origin;
}

absl::Status Problem(absl::string_view origin, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": ", problem));
}

// The reason of the oldest queued OpenSSL error ("bad base64 decode"...),
// and an empty queue afterwards.
std::string TakeOpenSslError() {
  // NOLINTNEXTLINE(google-runtime-int): OpenSSL's type
  const unsigned long error = ERR_peek_error();
  const char* reason = ERR_reason_error_string(error);
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

UniqueBio MemoryBio(absl::string_view pem) {
  return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem` (other PEM blocks are skipped); an error when
// there is none or one does not parse.
absl::StatusOr<std::vector<UniqueX509>> ReadCertificates(
    absl::string_view pem, absl::string_view origin) {
  ERR_clear_error();
  UniqueBio bio = MemoryBio(pem);
  std::vector<UniqueX509> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop always ends on an error; "no start line" is the end of input.
  // NOLINTNEXTLINE(google-runtime-int): OpenSSL's type
  const unsigned long error = ERR_peek_last_error();
  if (ERR_GET_LIB(error) == ERR_LIB_PEM &&
      ERR_GET_REASON(error) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    if (certs.empty()) {
      return Problem(origin,
                     "no PEM certificate in it (expected a \"-----BEGIN "
                     "CERTIFICATE-----\" block)");
    }
    return certs;
  }
  return Problem(origin, absl::StrCat("certificate ", certs.size() + 1,
                                      " does not parse: ", TakeOpenSslError()));
}

// No prompt: OpenSSL's default callback would read a passphrase from the
// terminal.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

absl::Status CheckKeyPair(const TlsOptions& tls, X509* leaf) {
  const std::string key_origin = KeyOrigin(tls);
  if (absl::StrContains(tls.key_pem, "ENCRYPTED")) {
    return Problem(key_origin,
                   "the private key is encrypted; gRPC needs it unencrypted "
                   "(openssl pkey -in <key> -out <plain key>)");
  }
  ERR_clear_error();
  UniqueBio bio = MemoryBio(tls.key_pem);
  UniquePkey key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    const std::string reason = TakeOpenSslError();
    return Problem(key_origin, absl::StrCat("no usable PEM private key in it (",
                                            reason, ")"));
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return Problem(key_origin, absl::StrCat("the key does not belong to the "
                                            "certificate in ",
                                            CertOrigin(tls)));
  }
  return absl::OkStatus();
}

// What DescribeTlsFailure needs of the options, without the secrets.
struct TlsSummary {
  bool enabled = false;
  bool has_ca = false;
  bool has_cert = false;
  std::string ca_origin;
  std::string cert_origin;
};

TlsSummary Summarize(const TlsOptions& tls) {
  return {tls.enabled, !tls.ca_pem.empty(), !tls.cert_pem.empty(),
          CaOrigin(tls), CertOrigin(tls)};
}

absl::string_view HostOf(absl::string_view endpoint) {
  const size_t colon = endpoint.rfind(':');
  return colon == absl::string_view::npos ? endpoint
                                          : endpoint.substr(0, colon);
}

// The handshake never completed because the peer hung up: gRPC reports
// this at connect time with one of these.
bool PeerHungUpWhileConnecting(absl::string_view message) {
  return absl::StrContains(message, "failed to connect to all addresses") &&
         (absl::StrContains(message, "Endpoint read failed") ||
          absl::StrContains(message, "Socket closed") ||
          absl::StrContains(message, "Connection reset"));
}

std::string DescribeSecureFailure(absl::string_view message,
                                  absl::string_view endpoint,
                                  const TlsSummary& tls) {
  const std::string ca = tls.has_ca ? tls.ca_origin : "the system's root CAs";
  if (absl::StrContains(message, "certificate verify failed")) {
    return absl::StrCat("TLS: the certificate of etcd at ", endpoint,
                        " does not verify against ", ca,
                        ": it is signed by another CA, has expired or is not "
                        "valid yet");
  }
  if (absl::StrContains(message, "is not in peer certificate")) {
    return absl::StrCat("TLS: the certificate of etcd at ", endpoint,
                        " does not name ", HostOf(endpoint),
                        " in its subjectAltName");
  }
  if (absl::StrContains(message, "wrong version number")) {
    return absl::StrCat("TLS: etcd at ", endpoint,
                        " does not answer in TLS; it may serve plaintext "
                        "(http://) on this port");
  }
  if (PeerHungUpWhileConnecting(message)) {
    return absl::StrCat(
        "TLS: etcd at ", endpoint,
        " closed the connection during the handshake: it may serve "
        "plaintext (http://) on this port, or ",
        tls.has_cert
            ? absl::StrCat("refuse the client certificate in ", tls.cert_origin,
                           " (with --client-cert-auth it must be signed by a "
                           "CA in etcd's --trusted-ca-file)")
            : "require a client certificate (--client-cert-auth): set "
              "etcd.cert_file and etcd.key_file");
  }
  if (absl::StrContains(message, "Ssl handshake failed") ||
      absl::StrContains(message, "Handshake failed")) {
    return absl::StrCat("TLS: the handshake with etcd at ", endpoint,
                        " failed");
  }
  return "";
}

std::string DescribeFailure(absl::string_view message,
                            absl::string_view endpoint, const TlsSummary& tls) {
  if (tls.enabled) return DescribeSecureFailure(message, endpoint, tls);
  // A TLS server drops a plaintext HTTP/2 preface at once.
  if (PeerHungUpWhileConnecting(message)) {
    return absl::StrCat(
        "etcd at ", endpoint,
        " closed the connection at once: if it serves TLS (https://), set "
        "etcd.ca_file (or etcd.tls)");
  }
  return "";
}

class TlsFailureInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TlsFailureInterceptor(
      std::shared_ptr<const std::pair<std::string, TlsSummary>> context)
      : context_(std::move(context)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      grpc::Status* status = methods->GetRecvStatus();
      if (status != nullptr && !status->ok()) {
        const std::string sentence = DescribeFailure(
            status->error_message(), context_->first, context_->second);
        if (!sentence.empty()) {
          *status = grpc::Status(
              status->error_code(),
              absl::StrCat(status->error_message(), " (", sentence, ")"),
              status->error_details());
        }
      }
    }
    methods->Proceed();
  }

 private:
  const std::shared_ptr<const std::pair<std::string, TlsSummary>> context_;
};

class TlsFailureFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  TlsFailureFactory(std::string endpoint, TlsSummary tls)
      : context_(std::make_shared<const std::pair<std::string, TlsSummary>>(
            std::move(endpoint), std::move(tls))) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new TlsFailureInterceptor(context_);
  }

 private:
  // Shared with the interceptors, which a call may hold a little longer.
  const std::shared_ptr<const std::pair<std::string, TlsSummary>> context_;
};

}  // namespace

absl::Status CheckTlsOptions(const TlsOptions& tls) {
  if (!tls.enabled) return absl::OkStatus();
  if (!tls.ca_pem.empty()) {
    absl::StatusOr<std::vector<UniqueX509>> ca =
        ReadCertificates(tls.ca_pem, CaOrigin(tls));
    if (!ca.ok()) return ca.status();
  }
  if (tls.key_pem.empty() && !tls.cert_pem.empty()) {
    return Problem(CertOrigin(tls),
                   "a client certificate without its private key (set the "
                   "key too)");
  }
  if (tls.cert_pem.empty() && !tls.key_pem.empty()) {
    return Problem(KeyOrigin(tls),
                   "a private key without its client certificate (set the "
                   "certificate too)");
  }
  if (tls.cert_pem.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<UniqueX509>> chain =
      ReadCertificates(tls.cert_pem, CertOrigin(tls));
  if (!chain.ok()) return chain.status();
  return CheckKeyPair(tls, chain->front().get());
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const TlsOptions& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.ca_pem;  // empty: gRPC's default roots
  ssl.pem_private_key = tls.key_pem;
  ssl.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(ssl);
}

std::string DescribeTlsFailure(absl::string_view message,
                               absl::string_view endpoint,
                               const TlsOptions& tls) {
  return DescribeFailure(message, endpoint, Summarize(tls));
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
TlsFailureInterceptorFactory(std::string endpoint, const TlsOptions& tls) {
  return std::make_unique<TlsFailureFactory>(std::move(endpoint),
                                             Summarize(tls));
}

}  // namespace vlb::etcd
