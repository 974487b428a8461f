#include "integration_env.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/credentials.h"
#include "wait_for.h"

namespace vlb::testing {

std::string EtcdTarget(const EtcdProcess& etcd, const std::string& service) {
  return absl::StrCat("etcd://", etcd.endpoint(), "/", service);
}

absl::Status PutServiceRecord(etcd::Client& client, const std::string& key,
                              const ServiceInstance& instance) {
  etcdserverpb::PutRequest put;
  put.set_key(key);
  put.set_value(EncodeServiceRecord(instance));
  absl::Status status = client.Put(put).status();
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat("put ", key, ": ", status.message()));
}

RegistrarOptions Registration(std::vector<std::string> endpoints,
                              const std::string& service, const std::string& id,
                              const std::string& version,
                              const std::string& address) {
  RegistrarOptions options;
  options.etcd.endpoints = std::move(endpoints);
  options.service_name = service;
  options.instance_id = id;
  options.version = version;
  options.address = address;
  return options;
}

void EtcdTest::SetUp() {
  absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd = EtcdProcess::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  etcd_ = *std::move(etcd);
}

void EtcdTest::ConnectClient() {
  etcd::ClientOptions options;
  options.endpoints = {etcd_->endpoint()};
  absl::StatusOr<std::unique_ptr<etcd::Client>> client =
      etcd::Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  client_ = *std::move(client);
}

bool EtcdTest::ClientReachesEtcd(absl::Duration deadline) {
  etcdserverpb::RangeRequest probe;
  probe.set_key("/");
  return WaitFor([&] { return client_->Range(probe).ok(); }, deadline);
}

std::shared_ptr<grpc::Channel> EtcdTest::ChannelTo(
    const std::string& service, const VersionPolicyOptions& options) const {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateChannel(
      EtcdTarget(*etcd_, service), grpc::InsecureChannelCredentials(), options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *std::move(channel) : nullptr;
}

void EtcdGrpcTest::SetUpTestSuite() { ASSERT_TRUE(RegisterGrpcPlugins().ok()); }

}  // namespace vlb::testing
