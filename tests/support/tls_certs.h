// A throw-away PKI for TLS tests, made with the openssl command line when a
// test starts: a CA, a server certificate valid for 127.0.0.1 and localhost,
// a client certificate, and a second CA that signed neither (to show what a
// wrong CA looks like). Keys are P-256, so the whole set takes a few tens of
// milliseconds. Everything lives in a temp dir that the destructor removes.
//
// Thread-safety: the accessors are const and may be called from any thread.
#ifndef VLB_TESTS_SUPPORT_TLS_CERTS_H_
#define VLB_TESTS_SUPPORT_TLS_CERTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace vlb::testing {

class TlsCerts {
 public:
  struct Options {
    // Common name of the client certificate. etcd takes it for the user
    // name of requests that carry no auth token (--client-cert-auth), so
    // the default names no user that tests create.
    std::string client_name = "vlb-test-client";
    // Empty: $VLB_OPENSSL_BIN, else "openssl" looked up in $PATH.
    std::string openssl_binary;
  };

  // Runs openssl (about seven times). FailedPrecondition when openssl is
  // missing; Internal, with openssl's stderr, when a step fails.
  static absl::StatusOr<std::unique_ptr<TlsCerts>> Create(Options options);
  static absl::StatusOr<std::unique_ptr<TlsCerts>> Create() {
    return Create(Options());
  }

  ~TlsCerts();  // Removes the temp dir.
  TlsCerts(const TlsCerts&) = delete;
  TlsCerts& operator=(const TlsCerts&) = delete;

  const std::string& dir() const { return dir_; }
  // PEM files.
  std::string ca_file() const { return Path("ca.pem"); }
  std::string server_cert_file() const { return Path("server.pem"); }
  std::string server_key_file() const { return Path("server.key"); }
  std::string client_cert_file() const { return Path("client.pem"); }
  std::string client_key_file() const { return Path("client.key"); }
  // A CA that signed none of the certificates above.
  std::string other_ca_file() const { return Path("other-ca.pem"); }

  // The contents of a file (of this set or any other); Internal when it
  // cannot be read.
  static absl::StatusOr<std::string> ReadFile(const std::string& path);

 private:
  explicit TlsCerts(std::string dir) : dir_(std::move(dir)) {}
  std::string Path(const char* name) const { return dir_ + "/" + name; }

  const std::string dir_;
};

// Base fixture of the suites that share one TlsCerts, certs_: made by
// SetUpTestSuite() (openssl, a few tens of milliseconds), removed by
// TearDownTestSuite(). Each derived suite makes its own set.
class TlsCertsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  static TlsCerts* certs_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_TLS_CERTS_H_
