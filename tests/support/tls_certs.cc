#include "tls_certs.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "child_process.h"

namespace vlb::testing {
namespace {

// Our own config, so that the system's openssl.cnf (its defaults and
// extensions) cannot change what is made. Go's TLS, which etcd uses, only
// looks at subjectAltName, never at the common name. etcd's server
// certificate also serves as a client certificate when etcd's gateway dials
// etcd itself, hence clientAuth on it.
constexpr char kConfig[] = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
)";

constexpr absl::Duration kStepTimeout = absl::Seconds(30);

class OpenSsl {
 public:
  OpenSsl(std::string binary, std::string dir)
      : binary_(std::move(binary)), dir_(std::move(dir)) {}

  absl::Status Run(std::vector<std::string> args) const {
    absl::StatusOr<CommandResult> result = RunCommand(
        binary_, args, {{"OPENSSL_CONF", Path("openssl.cnf")}}, kStepTimeout);
    if (!result.ok()) return result.status();
    if (result->exit_code != 0) {
      return absl::InternalError(
          absl::StrCat("openssl ", absl::StrJoin(args, " "), " exited with ",
                       result->exit_code, ": ", result->stderr_text));
    }
    return absl::OkStatus();
  }

  // A self-signed CA: <name>.pem and <name>.key.
  absl::Status MakeCa(const std::string& name, const std::string& cn) const {
    return Run({"req",
                "-x509",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                Path(name + ".key"),
                "-out",
                Path(name + ".pem"),
                "-days",
                "2",
                "-subj",
                "/CN=" + cn,
                "-config",
                Path("openssl.cnf"),
                "-extensions",
                "ca_ext"});
  }

  // <name>.pem and <name>.key, signed by ca.pem with the extensions of
  // config section `extensions`.
  absl::Status MakeLeaf(const std::string& name, const std::string& cn,
                        const std::string& extensions,
                        const std::string& serial) const {
    const std::string csr = Path(name + ".csr");
    absl::Status status = Run({"req", "-new", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                               Path(name + ".key"), "-out", csr, "-subj",
                               "/CN=" + cn, "-config", Path("openssl.cnf")});
    if (!status.ok()) return status;
    return Run({"x509", "-req", "-in", csr, "-CA", Path("ca.pem"), "-CAkey",
                Path("ca.key"), "-set_serial", serial, "-days", "2", "-out",
                Path(name + ".pem"), "-extfile", Path("openssl.cnf"),
                "-extensions", extensions});
  }

 private:
  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

  const std::string binary_;
  const std::string dir_;
};

std::string OpenSslBinary(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* from_env = getenv("VLB_OPENSSL_BIN");
  if (from_env != nullptr && *from_env != '\0') return from_env;
  return "openssl";
}

absl::Status MakeAll(const OpenSsl& openssl, const std::string& client_name) {
  if (absl::Status s = openssl.MakeCa("ca", "vlb test CA"); !s.ok()) return s;
  if (absl::Status s = openssl.MakeCa("other-ca", "vlb unrelated CA");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          openssl.MakeLeaf("server", "localhost", "server_ext", "2");
      !s.ok()) {
    return s;
  }
  return openssl.MakeLeaf("client", client_name, "client_ext", "3");
}

}  // namespace

TlsCerts* TlsCertsTest::certs_ = nullptr;

void TlsCertsTest::SetUpTestSuite() {
  absl::StatusOr<std::unique_ptr<TlsCerts>> certs = TlsCerts::Create();
  ASSERT_TRUE(certs.ok()) << certs.status();
  certs_ = certs->release();
}

void TlsCertsTest::TearDownTestSuite() {
  delete certs_;
  certs_ = nullptr;
}

absl::StatusOr<std::unique_ptr<TlsCerts>> TlsCerts::Create(Options options) {
  absl::StatusOr<std::string> binary =
      FindExecutable(OpenSslBinary(options.openssl_binary));
  if (!binary.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(binary.status().message(),
                     "; install openssl (scripts/setup) or set "
                     "VLB_OPENSSL_BIN"));
  }
  const char* tmp = getenv("TMPDIR");
  const std::string base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::string dir_template = absl::StrCat(base, "/vlb-tls-XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp ", dir_template, ": ", std::strerror(errno)));
  }
  // Owns (and on failure removes) the dir from here on.
  std::unique_ptr<TlsCerts> certs(new TlsCerts(dir_template));
  std::ofstream(certs->Path("openssl.cnf")) << kConfig;
  absl::Status status =
      MakeAll(OpenSsl(*std::move(binary), certs->dir_), options.client_name);
  if (!status.ok()) return status;
  return certs;
}

TlsCerts::~TlsCerts() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::StatusOr<std::string> TlsCerts::ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InternalError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace vlb::testing
