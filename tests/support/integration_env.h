// The set-up that integration tests of vlb against one real etcd share:
// fixtures that start a fresh etcd per test (and, if asked, connect an etcd
// client to it), the etcd: target of a service, service records written as a
// registrar would, and the registration of an in-process server.
//
// Test-only. Like EtcdProcess, not thread-safe: call from the test's main
// thread; etcd_ and client_ may then be used from any thread.
#ifndef VLB_TESTS_SUPPORT_INTEGRATION_ENV_H_
#define VLB_TESTS_SUPPORT_INTEGRATION_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "etcd/client.h"
#include "etcd_process.h"
#include "grpcpp/channel.h"
#include "gtest/gtest.h"
#include "vlb/grpc.h"
#include "vlb/registrar.h"
#include "vlb/service_instance.h"

namespace vlb::testing {

// How long the single-etcd integration tests wait for a condition: generous
// for a loaded 2-core machine running the suite under ASan; a healthy run
// takes a fraction of it.
inline constexpr absl::Duration kEtcdTestWait = absl::Seconds(30);

// "etcd://<etcd's endpoint>/<service>": a channel target that resolves
// `service` through `etcd` alone.
std::string EtcdTarget(const EtcdProcess& etcd, const std::string& service);

// Writes `instance`'s record at `key`, without a lease, as a registrar
// would (one etcd round trip). The error names the key.
absl::Status PutServiceRecord(etcd::Client& client, const std::string& key,
                              const ServiceInstance& instance);

// Registrar options for instance `id` (version `version`) of `service`,
// reached at `address`, registered through the etcd `endpoints`; every
// other option keeps its default.
RegistrarOptions Registration(std::vector<std::string> endpoints,
                              const std::string& service, const std::string& id,
                              const std::string& version,
                              const std::string& address);

// Base fixture: each test gets its own etcd (etcd_), started by SetUp()
// (about 0.1-1 s), and killed with its data after the test. A derived
// SetUp() calls ASSERT_NO_FATAL_FAILURE(EtcdTest::SetUp()) first.
class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Connects client_ to etcd_ with default ClientOptions, as a process of
  // the service would be; no request is made.
  void ConnectClient();

  // Waits until client_ answers a read: etcd being healthy (Start() and
  // Wipe() return then) does not mean that the client is connected. Its
  // first connection attempt after a start or restart may time out on a
  // loaded machine, and until the next one a request fails at once.
  bool ClientReachesEtcd(absl::Duration deadline = kEtcdTestWait);

  // A channel to `service` resolved through etcd_ (insecure credentials),
  // or nullptr after a test failure saying why CreateChannel refused it.
  // Does no I/O; needs the gRPC plugins registered (EtcdGrpcTest does).
  std::shared_ptr<grpc::Channel> ChannelTo(
      const std::string& service,
      const VersionPolicyOptions& options = {}) const;

  // Destroyed after the derived fixture's members, client_ before etcd_.
  std::unique_ptr<EtcdProcess> etcd_;
  std::shared_ptr<etcd::Client> client_;
};

// EtcdTest for tests that make gRPC channels: vlb's gRPC plugins are
// registered (default PluginOptions) once per suite, before any channel,
// since gRPC freezes its plugin registry on first use.
class EtcdGrpcTest : public EtcdTest {
 protected:
  static void SetUpTestSuite();
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_INTEGRATION_ENV_H_
