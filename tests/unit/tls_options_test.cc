// TLS options without a server: EtcdOptions turned into client options
// (files and PEM text read and checked, "https://" endpoints), the errors
// that name the field and the file, the pool key, and the sentence the
// client adds to a failed handshake. Certificates come from openssl.
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "etcd/client.h"
#include "etcd/public_options.h"
#include "etcd/tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/registrar_options.h"
#include "tls_certs.h"
#include "vlb/registrar.h"

namespace vlb {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::vlb::testing::TlsCerts;
using ::vlb::testing::TlsCertsTest;

class TlsOptionsTest : public TlsCertsTest {
 protected:
  static std::string Read(const std::string& path) {
    absl::StatusOr<std::string> text = TlsCerts::ReadFile(path);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  static EtcdOptions Mutual() {
    EtcdOptions etcd;
    etcd.endpoints = {"127.0.0.1:2379"};
    etcd.ca_file = certs_->ca_file();
    etcd.cert_file = certs_->client_cert_file();
    etcd.key_file = certs_->client_key_file();
    return etcd;
  }

  static absl::StatusOr<etcd::ClientOptions> Make(const EtcdOptions& etcd) {
    return internal::MakeClientOptions(etcd, absl::Milliseconds(100),
                                       absl::Seconds(5));
  }

  // The InvalidArgument message for `etcd`, which must be refused.
  static std::string Refusal(const EtcdOptions& etcd) {
    absl::StatusOr<etcd::ClientOptions> client = Make(etcd);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument)
        << client.status();
    return std::string(client.status().message());
  }

  static std::string Quoted(const std::string& path) {
    return absl::StrCat("\"", path, "\"");
  }
};

TEST_F(TlsOptionsTest, PlaintextUnlessAskedFor) {
  EtcdOptions etcd;
  etcd.endpoints = {"http://127.0.0.1:2379/"};
  absl::StatusOr<etcd::ClientOptions> client = Make(etcd);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_FALSE(client->tls.enabled);
  EXPECT_THAT(client->endpoints, ::testing::ElementsAre("127.0.0.1:2379"));
}

TEST_F(TlsOptionsTest, FilesAreReadAndNamedAsOrigins) {
  absl::StatusOr<etcd::ClientOptions> client = Make(Mutual());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(client->tls.enabled);
  EXPECT_EQ(client->tls.ca_pem, Read(certs_->ca_file()));
  EXPECT_EQ(client->tls.cert_pem, Read(certs_->client_cert_file()));
  EXPECT_EQ(client->tls.key_pem, Read(certs_->client_key_file()));
  EXPECT_EQ(client->tls.ca_origin,
            absl::StrCat("etcd.ca_file ", Quoted(certs_->ca_file())));
}

TEST_F(TlsOptionsTest, PemTextWorksLikeFiles) {
  EtcdOptions etcd;
  etcd.endpoints = {"127.0.0.1:2379"};
  etcd.ca_pem = Read(certs_->ca_file());
  etcd.cert_pem = Read(certs_->client_cert_file());
  etcd.key_pem = Read(certs_->client_key_file());
  absl::StatusOr<etcd::ClientOptions> client = Make(etcd);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(client->tls.enabled);
  EXPECT_EQ(client->tls.ca_origin, "etcd.ca_pem");
  absl::StatusOr<etcd::ClientOptions> from_files = Make(Mutual());
  ASSERT_TRUE(from_files.ok());
  // The same material makes the same (shareable) client.
  EXPECT_EQ(etcd::ClientOptionsKey(*client),
            etcd::ClientOptionsKey(*from_files));
}

TEST_F(TlsOptionsTest, HttpsEndpointsAndTheTlsFlagTurnTlsOn) {
  EtcdOptions etcd;
  etcd.endpoints = {"https://127.0.0.1:2379", "127.0.0.2:2379"};
  absl::StatusOr<etcd::ClientOptions> client = Make(etcd);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(client->tls.enabled);
  EXPECT_THAT(client->tls.ca_pem, IsEmpty());  // the system's roots
  EXPECT_THAT(client->endpoints,
              ::testing::ElementsAre("127.0.0.1:2379", "127.0.0.2:2379"));

  EtcdOptions flag;
  flag.endpoints = {"127.0.0.1:2379"};
  flag.tls = true;
  client = Make(flag);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(client->tls.enabled);
}

TEST_F(TlsOptionsTest, HttpsInTheEnvironmentTurnsTlsOn) {
  ASSERT_EQ(setenv("VLB_ETCD_ENDPOINTS", " https://127.0.0.1:2379,b:1", 1), 0);
  absl::StatusOr<etcd::ClientOptions> client = Make(EtcdOptions());
  // The registrar's path too: its endpoints are filled from the variable.
  RegistrarOptions registration;
  registration.service_name = "a.b";
  registration.version = "v1";
  registration.address = "127.0.0.1:1";
  absl::Status normalized = internal::NormalizeRegistrarOptions(registration);
  unsetenv("VLB_ETCD_ENDPOINTS");
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(client->tls.enabled);
  EXPECT_THAT(client->endpoints,
              ::testing::ElementsAre("127.0.0.1:2379", "b:1"));
  ASSERT_TRUE(normalized.ok()) << normalized;
  EXPECT_TRUE(registration.etcd.tls);
}

TEST_F(TlsOptionsTest, UnreadableFilesNameTheFieldAndThePath) {
  EtcdOptions etcd = Mutual();
  etcd.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(Refusal(etcd),
            "etcd.ca_file \"/nonexistent/ca.pem\": cannot read the file: No "
            "such file or directory");
  etcd = Mutual();
  etcd.key_file = certs_->dir();  // a directory
  EXPECT_EQ(Refusal(etcd), absl::StrCat("etcd.key_file ", Quoted(certs_->dir()),
                                        ": empty, or not a regular file"));
}

TEST_F(TlsOptionsTest, WrongKindsOfPemAreRefused) {
  EtcdOptions etcd = Mutual();
  etcd.ca_file = certs_->client_key_file();
  EXPECT_EQ(Refusal(etcd),
            absl::StrCat("etcd.ca_file ", Quoted(certs_->client_key_file()),
                         ": no PEM certificate in it (expected a "
                         "\"-----BEGIN CERTIFICATE-----\" block)"));
  etcd = Mutual();
  etcd.key_file = certs_->client_cert_file();
  EXPECT_THAT(Refusal(etcd),
              HasSubstr(absl::StrCat("etcd.key_file ",
                                     Quoted(certs_->client_cert_file()),
                                     ": no usable PEM private key in it")));
  etcd = Mutual();
  etcd.ca_file.clear();
  etcd.ca_pem =
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END "
      "CERTIFICATE-----\n";
  EXPECT_THAT(Refusal(etcd),
              HasSubstr("etcd.ca_pem: certificate 1 does not parse: "));
  etcd = Mutual();
  etcd.key_file.clear();
  etcd.key_pem =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED "
      "PRIVATE KEY-----\n";
  EXPECT_THAT(Refusal(etcd),
              HasSubstr("etcd.key_pem: the private key is encrypted"));
}

TEST_F(TlsOptionsTest, KeyMustMatchTheCertificate) {
  EtcdOptions etcd = Mutual();
  etcd.key_file = certs_->server_key_file();
  EXPECT_EQ(Refusal(etcd),
            absl::StrCat("etcd.key_file ", Quoted(certs_->server_key_file()),
                         ": the key does not belong to the certificate in "
                         "etcd.cert_file ",
                         Quoted(certs_->client_cert_file())));
}

TEST_F(TlsOptionsTest, ItemsComeOnceAndInPairs) {
  EtcdOptions etcd = Mutual();
  etcd.ca_pem = Read(certs_->ca_file());
  EXPECT_EQ(Refusal(etcd),
            "etcd.ca_file: give etcd.ca_file or etcd.ca_pem, not both");
  etcd = Mutual();
  etcd.key_file.clear();
  EXPECT_THAT(Refusal(etcd),
              HasSubstr("etcd.cert_file: a client certificate needs its "
                        "private key"));
  etcd = Mutual();
  etcd.cert_file.clear();
  EXPECT_THAT(Refusal(etcd),
              HasSubstr("etcd.key_file: a private key needs its client "
                        "certificate"));
}

TEST_F(TlsOptionsTest, RegistrarCreateRefusesBadTlsFiles) {
  RegistrarOptions options;
  options.etcd = Mutual();
  options.etcd.cert_file = "/nonexistent/client.pem";
  options.service_name = "a.b";
  options.version = "v1";
  options.address = "127.0.0.1:1";
  absl::StatusOr<std::unique_ptr<Registrar>> registrar =
      Registrar::Create(options);
  EXPECT_EQ(registrar.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(registrar.status().message(),
              HasSubstr("etcd.cert_file \"/nonexistent/client.pem\""));
}

TEST_F(TlsOptionsTest, PoolKeyCoversCredentialsWithoutSecrets) {
  absl::StatusOr<etcd::ClientOptions> base = Make(Mutual());
  ASSERT_TRUE(base.ok()) << base.status();
  base->endpoints = {"127.0.0.1:1", "127.0.0.2:1"};
  base->username = "root";
  base->password = "pw-secret";
  const std::string key = etcd::ClientOptionsKey(*base);
  EXPECT_THAT(key, AllOf(Not(HasSubstr("pw-secret")), Not(HasSubstr("PRIVATE")),
                         Not(HasSubstr("BEGIN"))));

  etcd::ClientOptions same = *base;
  same.endpoints = {"127.0.0.2:1", "127.0.0.1:1"};  // order does not matter
  same.tls.ca_origin = "elsewhere";  // where it came from does not matter
  EXPECT_EQ(etcd::ClientOptionsKey(same), key);

  const auto differs = [&](auto change) {
    etcd::ClientOptions other = *base;
    change(other);
    return etcd::ClientOptionsKey(other) != key;
  };
  EXPECT_TRUE(differs([](etcd::ClientOptions& o) { o.tls.enabled = false; }));
  EXPECT_TRUE(differs([](etcd::ClientOptions& o) { o.tls.ca_pem += "x"; }));
  EXPECT_TRUE(differs([](etcd::ClientOptions& o) { o.tls.cert_pem += "x"; }));
  EXPECT_TRUE(differs([](etcd::ClientOptions& o) { o.tls.key_pem += "x"; }));
  EXPECT_TRUE(differs([](etcd::ClientOptions& o) { o.password = "other"; }));
  EXPECT_TRUE(differs([](etcd::ClientOptions& o) { o.username = "bob"; }));
  EXPECT_TRUE(differs(
      [](etcd::ClientOptions& o) { o.request_timeout = absl::Seconds(9); }));
  EXPECT_TRUE(differs(
      [](etcd::ClientOptions& o) { o.endpoints.push_back("127.0.0.1:2"); }));
}

// gRPC 1.51's messages for the failures, as seen against etcd 3.4.
constexpr char kVerifyFailed[] =
    "failed to connect to all addresses; last error: UNKNOWN: "
    "ipv4:127.0.0.1:2379: Ssl handshake failed: SSL_ERROR_SSL: "
    "error:0A000086:SSL routines::certificate verify failed";
constexpr char kNameMismatch[] =
    "failed to connect to all addresses; last error: UNKNOWN: "
    "ipv4:127.0.0.1:2379: Peer name 127.0.0.1 is not in peer certificate";
constexpr char kReadFailed[] =
    "failed to connect to all addresses; last error: UNAVAILABLE: "
    "ipv4:127.0.0.1:2379: Endpoint read failed";
constexpr char kSocketClosed[] =
    "failed to connect to all addresses; last error: UNAVAILABLE: "
    "ipv4:127.0.0.1:2379: Socket closed";
constexpr char kRefused[] =
    "failed to connect to all addresses; last error: UNKNOWN: "
    "ipv4:127.0.0.1:2379: Failed to connect to remote host: Connection "
    "refused";

TEST(DescribeTlsFailureTest, NamesTheLikelyCause) {
  etcd::TlsOptions tls;
  tls.enabled = true;
  tls.ca_pem = "ca";
  tls.ca_origin = "etcd.ca_file \"/ca.pem\"";
  const std::string endpoint = "127.0.0.1:2379";
  EXPECT_EQ(etcd::DescribeTlsFailure(kVerifyFailed, endpoint, tls),
            "TLS: the certificate of etcd at 127.0.0.1:2379 does not verify "
            "against etcd.ca_file \"/ca.pem\": it is signed by another CA, "
            "has expired or is not valid yet");
  EXPECT_EQ(etcd::DescribeTlsFailure(kNameMismatch, endpoint, tls),
            "TLS: the certificate of etcd at 127.0.0.1:2379 does not name "
            "127.0.0.1 in its subjectAltName");
  EXPECT_THAT(etcd::DescribeTlsFailure(kReadFailed, endpoint, tls),
              HasSubstr("require a client certificate (--client-cert-auth)"));
  tls.cert_pem = "cert";
  tls.cert_origin = "etcd.cert_file \"/c.pem\"";
  EXPECT_THAT(etcd::DescribeTlsFailure(kSocketClosed, endpoint, tls),
              HasSubstr("refuse the client certificate in etcd.cert_file "
                        "\"/c.pem\""));
  // Not a TLS problem: nothing to add.
  EXPECT_EQ(etcd::DescribeTlsFailure(kRefused, endpoint, tls), "");
  EXPECT_EQ(
      etcd::DescribeTlsFailure("etcdserver: permission denied", endpoint, tls),
      "");
}

TEST(DescribeTlsFailureTest, PlaintextClientOfATlsServer) {
  etcd::TlsOptions plain;
  EXPECT_THAT(etcd::DescribeTlsFailure(kSocketClosed, "h:1", plain),
              HasSubstr("etcd at h:1 closed the connection at once: if it "
                        "serves TLS (https://), set etcd.ca_file"));
  EXPECT_EQ(etcd::DescribeTlsFailure(kVerifyFailed, "h:1", plain), "");
  EXPECT_EQ(etcd::DescribeTlsFailure(kRefused, "h:1", plain), "");
}

}  // namespace
}  // namespace vlb
