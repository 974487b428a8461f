// etcd over TLS, with and without client certificates and authentication:
// the registrar registers, an etcd: channel resolves, vlb_register takes the
// TLS and auth flags, and a wrong CA is an error naming the endpoint and
// the TLS failure. The CA and certificates are made with openssl when the
// suite starts; each test runs its own etcd with https client URLs.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "child_process.h"
#include "echo.grpc.pb.h"
#include "echo_service.h"
#include "etcd_process.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration_env.h"
#include "tls_certs.h"
#include "vlb/grpc.h"
#include "vlb/registrar.h"
#include "wait_for.h"

#ifndef VLB_REGISTER_BIN
#define VLB_REGISTER_BIN ""
#endif

namespace vlb {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vlb::testing::ChildProcess;
using ::vlb::testing::EchoReply;
using ::vlb::testing::EchoRequest;
using ::vlb::testing::EtcdProcess;
using ::vlb::testing::ServedEcho;
using ::vlb::testing::TlsCerts;
using ::vlb::testing::TlsCertsTest;
using ::vlb::testing::WaitFor;

constexpr char kService[] = "vlb.test.tls";
constexpr char kRootUser[] = "root";
constexpr char kRootPassword[] = "s3cret-pw";

enum class Mode { kServerTls, kMutualTls, kMutualTlsWithAuth };

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TlsTest : public TlsCertsTest {
 protected:
  void TearDown() override {
    if (HasFailure() && etcd_ != nullptr) {
      ADD_FAILURE() << "etcd log tail:\n" << etcd_->LogTail(4096);
    }
  }

  // Starts this test's etcd: TLS on the client URL, plus client
  // certificates and root/password authentication as `mode` says.
  void StartEtcd(Mode mode) {
    EtcdProcess::Options options;
    options.tls.server_cert_file = certs_->server_cert_file();
    options.tls.server_key_file = certs_->server_key_file();
    options.tls.ca_file = certs_->ca_file();
    if (mode != Mode::kServerTls) {
      options.tls.client_cert_auth = true;
      options.tls.client_cert_file = certs_->client_cert_file();
      options.tls.client_key_file = certs_->client_key_file();
    }
    absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd =
        EtcdProcess::Start(std::move(options));
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    if (mode == Mode::kMutualTlsWithAuth) {
      const std::string root = absl::StrCat(kRootUser, ":", kRootPassword);
      for (const std::vector<std::string>& args :
           std::vector<std::vector<std::string>>{
               {"user", "add", root},
               {"user", "grant-role", kRootUser, "root"},
               {"auth", "enable"}}) {
        absl::StatusOr<std::string> out = etcd_->Etcdctl(args);
        ASSERT_TRUE(out.ok()) << out.status();
      }
      etcdctl_auth_ = {absl::StrCat("--user=", root)};
    }
  }

  // The options a client of this etcd in `mode` needs, as files.
  EtcdOptions Etcd(Mode mode) const {
    EtcdOptions etcd;
    etcd.endpoints = {etcd_->endpoint()};
    etcd.request_timeout = absl::Seconds(2);
    etcd.ca_file = certs_->ca_file();
    if (mode != Mode::kServerTls) {
      etcd.cert_file = certs_->client_cert_file();
      etcd.key_file = certs_->client_key_file();
    }
    if (mode == Mode::kMutualTlsWithAuth) {
      etcd.username = kRootUser;
      etcd.password = kRootPassword;
    }
    return etcd;
  }

  RegistrarOptions Registration(EtcdOptions etcd, const std::string& id,
                                const std::string& address) const {
    RegistrarOptions options =
        ::vlb::testing::Registration({}, kService, id, "v1", address);
    options.etcd = std::move(etcd);
    options.ttl = absl::Seconds(5);
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(500);
    return options;
  }

  // The value at `key` as etcdctl (over TLS, as root when auth is on) sees
  // it; empty when absent.
  std::string ReadKey(const std::string& key) const {
    std::vector<std::string> args = {"get", key, "--print-value-only"};
    args.insert(args.end(), etcdctl_auth_.begin(), etcdctl_auth_.end());
    absl::StatusOr<std::string> out = etcd_->Etcdctl(args);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.value_or("");
  }

  // Registers `options` and checks that the key appears, then stops.
  void ExpectRegisters(RegistrarOptions options) {
    const std::string key = absl::StrCat("/vlb/test/tls/", options.instance_id);
    absl::StatusOr<std::unique_ptr<Registrar>> registrar =
        Registrar::Create(std::move(options));
    ASSERT_TRUE(registrar.ok()) << registrar.status();
    absl::Status started = (*registrar)->Start();
    ASSERT_TRUE(started.ok()) << started;
    EXPECT_THAT(ReadKey(key), HasSubstr("\"version\":\"v1\""));
    (*registrar)->Stop();
    EXPECT_EQ(ReadKey(key), "");
  }

  // Start()'s error for `options`, which must fail.
  absl::Status StartError(RegistrarOptions options) {
    absl::StatusOr<std::unique_ptr<Registrar>> registrar =
        Registrar::Create(std::move(options));
    EXPECT_TRUE(registrar.ok()) << registrar.status();
    if (!registrar.ok()) return registrar.status();
    absl::Status started = (*registrar)->Start(absl::Seconds(3));
    EXPECT_FALSE(started.ok());
    return started;
  }

  std::unique_ptr<EtcdProcess> etcd_;
  std::vector<std::string> etcdctl_auth_;
};

TEST_F(TlsTest, RegistrarOverServerOnlyTls) {
  StartEtcd(Mode::kServerTls);
  ExpectRegisters(
      Registration(Etcd(Mode::kServerTls), "server-tls-1", "127.0.0.1:7001"));
}

TEST_F(TlsTest, RegistrarOverMutualTls) {
  StartEtcd(Mode::kMutualTls);
  ExpectRegisters(
      Registration(Etcd(Mode::kMutualTls), "mtls-1", "127.0.0.1:7002"));
}

TEST_F(TlsTest, RegistrarOverMutualTlsWithAuthFromPemStrings) {
  StartEtcd(Mode::kMutualTlsWithAuth);
  EtcdOptions etcd = Etcd(Mode::kMutualTlsWithAuth);
  // The same material as PEM text, as callers that hold it pass it.
  for (auto [file, pem] : {std::pair{&etcd.ca_file, &etcd.ca_pem},
                           std::pair{&etcd.cert_file, &etcd.cert_pem},
                           std::pair{&etcd.key_file, &etcd.key_pem}}) {
    absl::StatusOr<std::string> text = TlsCerts::ReadFile(*file);
    ASSERT_TRUE(text.ok()) << text.status();
    *pem = *std::move(text);
    file->clear();
  }
  ExpectRegisters(Registration(etcd, "mtls-auth-1", "127.0.0.1:7003"));
}

TEST_F(TlsTest, AuthIsEnforcedOverMutualTls) {
  StartEtcd(Mode::kMutualTlsWithAuth);
  // The client certificate names no etcd user, so without a password etcd
  // refuses the requests; with a wrong one, authentication fails.
  EtcdOptions no_user = Etcd(Mode::kMutualTlsWithAuth);
  no_user.username.clear();
  no_user.password.clear();
  EXPECT_THAT(
      StartError(Registration(no_user, "no-user", "127.0.0.1:7004")).message(),
      HasSubstr(etcd_->endpoint()));
  EtcdOptions wrong = Etcd(Mode::kMutualTlsWithAuth);
  wrong.password = "wrong";
  EXPECT_THAT(
      StartError(Registration(wrong, "wrong-pw", "127.0.0.1:7005")).message(),
      HasSubstr("authentication failed"));
}

TEST_F(TlsTest, WrongCaNamesTheEndpointAndTheTlsFailure) {
  StartEtcd(Mode::kServerTls);
  EtcdOptions etcd = Etcd(Mode::kServerTls);
  etcd.ca_file = certs_->other_ca_file();
  const absl::Status error =
      StartError(Registration(etcd, "wrong-ca", "127.0.0.1:7006"));
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable) << error;
  EXPECT_THAT(error.message(),
              AllOf(HasSubstr(absl::StrCat("at ", etcd_->endpoint())),
                    HasSubstr("certificate verify failed"),
                    HasSubstr(absl::StrCat(
                        "TLS: the certificate of etcd at ", etcd_->endpoint(),
                        " does not verify against etcd.ca_file \"",
                        certs_->other_ca_file(), "\""))));
}

TEST_F(TlsTest, MissingClientCertificateOrTlsSaysWhatIsMissing) {
  StartEtcd(Mode::kMutualTls);
  // TLS without the client certificate etcd requires.
  EXPECT_THAT(StartError(Registration(Etcd(Mode::kServerTls), "no-cert",
                                      "127.0.0.1:7007"))
                  .message(),
              HasSubstr(absl::StrCat(
                  "TLS: etcd at ", etcd_->endpoint(),
                  " closed the connection during the handshake: it may serve "
                  "plaintext (http://) on this port, or require a client "
                  "certificate (--client-cert-auth): set etcd.cert_file and "
                  "etcd.key_file")));
  // No TLS at all.
  EtcdOptions plain;
  plain.endpoints = {etcd_->endpoint()};
  plain.request_timeout = absl::Seconds(2);
  EXPECT_THAT(
      StartError(Registration(plain, "plain", "127.0.0.1:7008")).message(),
      HasSubstr("if it serves TLS (https://), set etcd.ca_file"));
}

TEST_F(TlsTest, HttpsEndpointMeansTls) {
  StartEtcd(Mode::kServerTls);
  EtcdOptions etcd;
  etcd.endpoints = {etcd_->client_url()};  // "https://127.0.0.1:<port>"
  etcd.ca_file = certs_->ca_file();
  ExpectRegisters(Registration(etcd, "https-1", "127.0.0.1:7009"));
}

// One server registered over TLS, one channel resolving over TLS: both
// through the options of this test's etcd in `mode`.
class TlsChannelTest : public TlsTest {
 protected:
  void TearDown() override {
    if (registrar_ != nullptr) registrar_->Stop();
    if (echo_.server != nullptr) echo_.server->Shutdown();
    // The next test's RegisterGrpcPlugins replaces these options; a clean
    // slate keeps a failure here from leaking into it.
    EXPECT_TRUE(RegisterGrpcPlugins().ok());
    TlsTest::TearDown();
  }

  void StartServer(Mode mode) {
    echo_ = ::vlb::testing::ServeEcho("tls-echo-1");
    ASSERT_NE(echo_.server, nullptr);
    absl::StatusOr<std::unique_ptr<Registrar>> registrar = Registrar::Create(
        Registration(Etcd(mode), "tls-echo-1", echo_.address));
    ASSERT_TRUE(registrar.ok()) << registrar.status();
    registrar_ = *std::move(registrar);
    absl::Status started = registrar_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  std::unique_ptr<vlbtest::Echo::Stub> Stub(const std::string& target) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        vlb::CreateChannel(target, grpc::InsecureChannelCredentials());
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? vlbtest::Echo::NewStub(*channel) : nullptr;
  }

  static grpc::Status Call(vlbtest::Echo::Stub& stub, EchoReply* reply) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    EchoRequest request;
    request.set_text("over tls");
    return stub.Unary(&context, request, reply);
  }

  ServedEcho echo_;
  std::unique_ptr<Registrar> registrar_;
};

TEST_F(TlsChannelTest, ResolverOverMutualTlsWithAuth) {
  StartEtcd(Mode::kMutualTlsWithAuth);
  StartServer(Mode::kMutualTlsWithAuth);
  PluginOptions plugin;
  plugin.etcd = Etcd(Mode::kMutualTlsWithAuth);
  plugin.etcd.endpoints.clear();  // the target names the cluster
  ASSERT_TRUE(RegisterGrpcPlugins(plugin).ok());
  std::unique_ptr<vlbtest::Echo::Stub> stub =
      Stub(::vlb::testing::EtcdTarget(*etcd_, kService));
  ASSERT_NE(stub, nullptr);
  EchoReply reply;
  ASSERT_TRUE(
      WaitFor([&] { return Call(*stub, &reply).ok(); }, absl::Seconds(15)));
  EXPECT_EQ(reply.instance(), "tls-echo-1");
}

TEST_F(TlsChannelTest, ResolverWithWrongCaFailsCallsSayingWhy) {
  StartEtcd(Mode::kServerTls);
  StartServer(Mode::kServerTls);
  PluginOptions plugin;
  plugin.etcd = Etcd(Mode::kServerTls);
  plugin.etcd.ca_file = certs_->other_ca_file();
  ASSERT_TRUE(RegisterGrpcPlugins(plugin).ok());
  std::unique_ptr<vlbtest::Echo::Stub> stub =
      Stub(absl::StrCat("etcd:///", kService));
  ASSERT_NE(stub, nullptr);
  grpc::Status status;
  ASSERT_TRUE(WaitFor(
      [&] {
        EchoReply reply;
        status = Call(*stub, &reply);
        return absl::StrContains(status.error_message(), "TLS:");
      },
      absl::Seconds(15)))
      << status.error_message();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              AllOf(HasSubstr(absl::StrCat("vlb: cannot resolve ", kService)),
                    HasSubstr("certificate verify failed"),
                    HasSubstr(absl::StrCat("TLS: the certificate of etcd at ",
                                           etcd_->endpoint()))));
}

TEST_F(TlsChannelTest, BadTlsFileIsRefusedByRegisterGrpcPlugins) {
  PluginOptions plugin;
  plugin.etcd.ca_file = "/nonexistent/vlb-ca.pem";
  const absl::Status status = RegisterGrpcPlugins(plugin);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("PluginOptions.etcd.ca_file "
                        "\"/nonexistent/vlb-ca.pem\": cannot read the file"));
}

class TlsToolTest : public TlsTest {
 protected:
  void SetUp() override {
    if (std::string(VLB_REGISTER_BIN).empty()) {
      GTEST_SKIP() << "built without VLB_BUILD_TOOLS";
    }
  }
};

TEST_F(TlsToolTest, VlbRegisterTakesTlsAndAuthFlags) {
  StartEtcd(Mode::kMutualTlsWithAuth);
  const std::string output = absl::StrCat(certs_->dir(), "/register.out");
  ChildProcess::Options spawn;
  spawn.program = VLB_REGISTER_BIN;
  spawn.args = {absl::StrCat("--etcd=", etcd_->client_url()),
                absl::StrCat("--etcd_cacert=", certs_->ca_file()),
                absl::StrCat("--etcd_cert=", certs_->client_cert_file()),
                absl::StrCat("--etcd_key=", certs_->client_key_file()),
                absl::StrCat("--etcd_user=", kRootUser),
                absl::StrCat("--service=", kService),
                "--id=tool-1",
                "--version=v1",
                "--address=127.0.0.1:7010"};
  // The password from the environment, which keeps it out of `ps`.
  spawn.env = {{"VLB_ETCD_PASSWORD", kRootPassword}};
  spawn.output_path = output;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(spawn);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(ReadWholeFile(output),
                                 "registered /vlb/test/tls/tool-1");
      },
      absl::Seconds(15)))
      << ReadWholeFile(output);
  EXPECT_THAT(ReadKey("/vlb/test/tls/tool-1"), HasSubstr("127.0.0.1:7010"));
  EXPECT_EQ((*child)->Terminate(absl::Seconds(10)), 0) << ReadWholeFile(output);
  EXPECT_EQ(ReadKey("/vlb/test/tls/tool-1"), "");
}

TEST_F(TlsToolTest, VlbRegisterRefusesAnUnreadableCaFile) {
  absl::StatusOr<testing::CommandResult> result = testing::RunCommand(
      VLB_REGISTER_BIN,
      {"--etcd=127.0.0.1:1", "--etcd_cacert=/nonexistent/ca.pem",
       "--service=a.b", "--version=v1", "--address=127.0.0.1:1"},
      {}, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text,
              AllOf(HasSubstr("etcd.ca_file \"/nonexistent/ca.pem\": cannot "
                              "read the file: No such file or directory"),
                    Not(HasSubstr("registered"))));
}

}  // namespace
}  // namespace vlb
