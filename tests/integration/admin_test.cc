// The admin API (vlb/admin.h) against a real etcd and real registrars:
// listings (lease TTL, revisions, skipped records), drain, undrain and
// weight edits that keep the lease, their errors, and a registrar keeping
// the operator's drain through its own rewrites.
#include "vlb/admin.h"

#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "etcd_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vlb/registrar.h"
#include "wait_for.h"

namespace vlb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vlb::testing::EtcdProcess;
using ::vlb::testing::WaitFor;

constexpr char kService[] = "hwholiday.srv.app";
constexpr absl::Duration kTtl = absl::Seconds(3);
// Room for a loaded machine under `ctest -j`; a healthy run takes a
// fraction of it.
constexpr absl::Duration kMargin = absl::Seconds(8);

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd = EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    EtcdOptions options;
    options.endpoints = {etcd_->endpoint()};
    absl::StatusOr<std::unique_ptr<AdminClient>> admin =
        AdminClient::Create(options);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *std::move(admin);
  }

  void TearDown() override {
    registrars_.clear();
    if (HasFailure() && etcd_ != nullptr) {
      std::cerr << "etcd log tail:\n" << etcd_->LogTail(4096) << "\n";
    }
  }

  Registrar& Register(const std::string& service, const std::string& id,
                      const std::string& address, const std::string& lane) {
    RegistrarOptions options;
    options.etcd.endpoints = {etcd_->endpoint()};
    options.service_name = service;
    options.instance_id = id;
    options.version = "v1";
    options.address = address;
    options.lane = lane;
    options.ttl = kTtl;
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(500);
    absl::StatusOr<std::unique_ptr<Registrar>> registrar =
        Registrar::Create(std::move(options));
    EXPECT_TRUE(registrar.ok()) << registrar.status();
    absl::Status started = (*registrar)->Start();
    EXPECT_TRUE(started.ok()) << started;
    registrars_.push_back(*std::move(registrar));
    return *registrars_.back();
  }

  // The record etcd holds for `registrar`'s key, decoded.
  std::optional<ServiceInstance> Stored(const Registrar& registrar) {
    absl::StatusOr<ServiceListing> listing = admin_->ListInstances(kService);
    if (!listing.ok()) return std::nullopt;
    for (const InstanceListing& instance : listing->instances) {
      if (instance.key == registrar.key()) return instance.instance;
    }
    return std::nullopt;
  }

  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<AdminClient> admin_;
  std::vector<std::unique_ptr<Registrar>> registrars_;
};

TEST_F(AdminTest, ListsServicesAndInstances) {
  Registrar& a = Register(kService, "app-a", "127.0.0.1:8001", "");
  Register(kService, "app-b", "127.0.0.1:8002", "feature-x");
  Register("hwholiday.srv.user", "user-1", "127.0.0.1:8003", "");
  ASSERT_TRUE(etcd_->Etcdctl({"put", "/hwholiday/srv/app/broken", "{"}).ok());
  ASSERT_TRUE(etcd_->Etcdctl({"put", "/vlb/routes/x", "{}"}).ok());

  absl::StatusOr<std::vector<ServiceListing>> services = admin_->ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  std::vector<std::string> names;
  for (const ServiceListing& service : *services) {
    names.push_back(service.service);
  }
  EXPECT_THAT(names, ElementsAre(kService, "hwholiday.srv.user"));

  absl::StatusOr<ServiceListing> listing = admin_->ListInstances(kService);
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->instances.size(), 2u);
  const InstanceListing& first = listing->instances[0];
  EXPECT_EQ(first.id, "app-a");
  EXPECT_EQ(first.instance.address, "127.0.0.1:8001");
  EXPECT_EQ(first.instance.version, "v1");
  EXPECT_EQ(first.lease_id, a.lease_id());
  ASSERT_TRUE(first.lease_ttl_left.has_value());
  EXPECT_GT(*first.lease_ttl_left, absl::ZeroDuration());
  EXPECT_LE(*first.lease_ttl_left, kTtl);
  EXPECT_GT(first.mod_revision, 0);
  EXPECT_LE(first.mod_revision, listing->revision);
  EXPECT_EQ(listing->instances[1].instance.lane, "feature-x");
  ASSERT_EQ(listing->skipped.size(), 1u);
  EXPECT_EQ(listing->skipped[0].key, "/hwholiday/srv/app/broken");
  EXPECT_THAT(std::string(listing->skipped[0].error.message()),
              HasSubstr("not valid JSON"));
}

TEST_F(AdminTest, DrainUndrainAndWeightKeepTheLease) {
  Registrar& registrar = Register(kService, "app-a", "127.0.0.1:8001", "");
  const int64_t lease = registrar.lease_id();
  ASSERT_TRUE(admin_->SetDrained(kService, "app-a", true).ok());
  std::optional<ServiceInstance> stored = Stored(registrar);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->drained);
  ASSERT_TRUE(admin_->SetWeight(kService, "app-a", 42).ok());
  stored = Stored(registrar);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->weight, 42u);
  EXPECT_TRUE(stored->drained);
  ASSERT_TRUE(admin_->SetDrained(kService, "app-a", false).ok());
  stored = Stored(registrar);
  ASSERT_TRUE(stored.has_value());
  EXPECT_FALSE(stored->drained);
  absl::StatusOr<ServiceListing> listing = admin_->ListInstances(kService);
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->instances.size(), 1u);
  EXPECT_EQ(listing->instances[0].lease_id, lease);
  EXPECT_EQ(registrar.lease_id(), lease);
}

TEST_F(AdminTest, EditErrors) {
  Register(kService, "app-a", "127.0.0.1:8001", "");
  absl::Status missing = admin_->SetDrained(kService, "app-z", true);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_THAT(std::string(missing.message()),
              HasSubstr("no instance app-z of hwholiday.srv.app"));
  missing = admin_->SetWeight("hwholiday.srv.none", "app-a", 2);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  absl::Status weight = admin_->SetWeight(kService, "app-a", 10001);
  EXPECT_TRUE(absl::IsInvalidArgument(weight)) << weight;
  EXPECT_TRUE(absl::IsInvalidArgument(admin_->SetDrained("a/b", "x", true)));
  ASSERT_TRUE(etcd_->Etcdctl({"put", "/hwholiday/srv/app/broken", "{"}).ok());
  EXPECT_TRUE(
      absl::IsFailedPrecondition(admin_->SetDrained(kService, "broken", true)));
}

// The operator's drain survives the registrar's Update() and a
// re-registration after its lease was revoked, until undrained.
TEST_F(AdminTest, RegistrarKeepsTheOperatorsDrain) {
  Registrar& registrar = Register(kService, "app-a", "127.0.0.1:8001", "");
  ASSERT_TRUE(admin_->SetDrained(kService, "app-a", true).ok());
  ASSERT_TRUE(WaitFor([&] { return registrar.instance().drained; }, kMargin))
      << "the registrar did not adopt the drain";
  ASSERT_TRUE(registrar.Update("v2", std::nullopt, std::nullopt).ok());
  std::optional<ServiceInstance> stored = Stored(registrar);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->version, "v2");
  EXPECT_TRUE(stored->drained);

  const int64_t old_lease = registrar.lease_id();
  ASSERT_TRUE(
      etcd_
          ->Etcdctl({"lease", "revoke",
                     absl::StrFormat("%x", static_cast<uint64_t>(old_lease))})
          .ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<ServiceInstance> now = Stored(registrar);
        return registrar.registered() && registrar.lease_id() != old_lease &&
               now.has_value();
      },
      kMargin));
  stored = Stored(registrar);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->drained) << "re-registered undrained";

  ASSERT_TRUE(admin_->SetDrained(kService, "app-a", false).ok());
  ASSERT_TRUE(WaitFor([&] { return !registrar.instance().drained; }, kMargin));
  ASSERT_TRUE(registrar.Update("v3", std::nullopt, std::nullopt).ok());
  stored = Stored(registrar);
  ASSERT_TRUE(stored.has_value());
  EXPECT_FALSE(stored->drained);
  EXPECT_EQ(stored->version, "v3");
}

}  // namespace
}  // namespace vlb
