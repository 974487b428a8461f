// The admin API (vlb/admin.h) on the fake etcd: which keys are listed as
// instances of which service, lease TTLs and revisions, and edits as
// compare-and-swap writes that keep the lease, including their races and
// errors. The registrar's side of an edit is in registrar_state_test.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "admin/admin_internal.h"
#include "admin/listing.h"
#include "fake_etcd.h"
#include "fake_etcd_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vlb/admin.h"
#include "vlb/service_instance.h"

namespace vlb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vlb::testing::FakeCall;
using ::vlb::testing::FakeCallOutcome;
using ::vlb::testing::FakeEtcd;

constexpr char kService[] = "hwholiday.srv.app";

std::string Record(const std::string& id, const std::string& address,
                   const std::string& extra_metadata = "") {
  return absl::StrCat(R"({"node":{"name":"app","path":"/hwholiday/srv/app",)",
                      R"("id":")", id, R"(","version":"v1","address":")",
                      address, R"("},"metadata":{"weight":"1")", extra_metadata,
                      R"(},"written_by":"go"})");
}

std::vector<std::string> Ids(const ServiceListing& listing) {
  std::vector<std::string> ids;
  for (const InstanceListing& instance : listing.instances) {
    ids.push_back(instance.id);
  }
  return ids;
}

class AdminClientTest : public ::testing::Test {
 protected:
  ServiceInstance Decoded(const std::string& key) {
    auto kv = etcd_.Get(key);
    EXPECT_TRUE(kv.has_value()) << key;
    if (!kv.has_value()) return {};
    absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(kv->value());
    EXPECT_TRUE(decoded.ok()) << decoded.status();
    return decoded.ok() ? *decoded : ServiceInstance{};
  }

  FakeEtcd etcd_;
  std::unique_ptr<AdminClient> admin_ =
      internal::CreateAdminClient(etcd_.NewClient());
};

TEST(OwnerOfKeyTest, FollowsTheKeyLayout) {
  auto owner = internal::OwnerOfKey("/hwholiday/srv/app/app-1");
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->service, "hwholiday.srv.app");
  EXPECT_EQ(owner->id, "app-1");
  owner = internal::OwnerOfKey("/hwholiday/srv/app/");
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->id, "");
  for (const char* not_a_service : {"/x", "x/y", "//a/b", "/a//b", "/a b/c"}) {
    EXPECT_FALSE(internal::OwnerOfKey(not_a_service).has_value())
        << not_a_service;
  }
}

TEST_F(AdminClientTest, ListsInstancesWithLeaseAndRevisions) {
  const int64_t lease = etcd_.GrantLease(absl::Seconds(10));
  const int64_t created =
      etcd_.Put("/hwholiday/srv/app/b", Record("b", "127.0.0.2:1"), lease);
  etcd_.Put("/hwholiday/srv/app/a",
            Record("a", "127.0.0.1:1", R"(,"lane":"x")"));
  const int64_t modified =
      etcd_.Put("/hwholiday/srv/app/b",
                Record("b", "127.0.0.2:1", R"(,"drained":"true")"), lease);
  etcd_.AdvanceTime(absl::Seconds(3));

  absl::StatusOr<ServiceListing> listing = admin_->ListInstances(kService);
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(listing->service, kService);
  EXPECT_EQ(listing->revision, etcd_.revision());
  EXPECT_THAT(Ids(*listing), ElementsAre("a", "b"));
  const InstanceListing& a = listing->instances[0];
  EXPECT_EQ(a.lease_id, 0);
  EXPECT_FALSE(a.lease_ttl_left.has_value());
  EXPECT_EQ(a.instance.lane, "x");
  const InstanceListing& b = listing->instances[1];
  EXPECT_EQ(b.key, "/hwholiday/srv/app/b");
  EXPECT_TRUE(b.instance.drained);
  EXPECT_EQ(b.instance.address, "127.0.0.2:1");
  EXPECT_EQ(b.lease_id, lease);
  EXPECT_EQ(b.lease_ttl_left, absl::Seconds(7));
  EXPECT_EQ(b.create_revision, created);
  EXPECT_EQ(b.mod_revision, modified);
  EXPECT_TRUE(listing->skipped.empty());
}

TEST_F(AdminClientTest, ReportsRecordsThatAreNotInstancesAsSkipped) {
  etcd_.Put("/hwholiday/srv/app/good", Record("good", "127.0.0.1:1"));
  etcd_.Put("/hwholiday/srv/app/bad-lane",
            Record("bad-lane", "127.0.0.1:2", R"(,"lane":"Not A Lane")"));
  etcd_.Put("/hwholiday/srv/app/", Record("prefix", "127.0.0.1:3"));
  // Another service's instance, under this one's prefix: not listed here.
  etcd_.Put("/hwholiday/srv/app/admin/x", Record("x", "127.0.0.1:4"));

  absl::StatusOr<ServiceListing> listing = admin_->ListInstances(kService);
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(Ids(*listing), ElementsAre("good"));
  ASSERT_EQ(listing->skipped.size(), 2u);
  EXPECT_EQ(listing->skipped[0].key, "/hwholiday/srv/app/");
  EXPECT_THAT(std::string(listing->skipped[0].error.message()),
              HasSubstr("prefix key"));
  EXPECT_EQ(listing->skipped[1].key, "/hwholiday/srv/app/bad-lane");
  EXPECT_THAT(std::string(listing->skipped[1].error.message()),
              HasSubstr("metadata.lane"));
}

TEST_F(AdminClientTest, ListsEveryServiceWithARecord) {
  etcd_.Put("/hwholiday/srv/app/a", Record("a", "127.0.0.1:1"));
  etcd_.Put("/hwholiday/srv/user/u", Record("u", "127.0.0.1:2"));
  etcd_.Put("/hwholiday/srv/app/admin/x", Record("x", "127.0.0.1:4"));
  // Keys that hold no instance record make no service.
  etcd_.Put("/vlb/routes/hwholiday.srv.app", R"({"defaultVersion":"v1"})");
  etcd_.Put("/toplevel", Record("t", "127.0.0.1:5"));

  absl::StatusOr<std::vector<ServiceListing>> services = admin_->ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  std::vector<std::string> names;
  for (const ServiceListing& service : *services) {
    names.push_back(service.service);
  }
  EXPECT_THAT(names, ElementsAre("hwholiday.srv.app", "hwholiday.srv.app.admin",
                                 "hwholiday.srv.user"));
  EXPECT_THAT(Ids((*services)[0]), ElementsAre("a"));
}

TEST_F(AdminClientTest, ListsAKeyspaceLargerThanOnePageInFull) {
  // 2,500 records, 1,000 keys a page: three range reads, every record
  // listed once, under the revision of the first page.
  constexpr int kPerService = 1250;
  for (int i = 0; i < kPerService; ++i) {
    const std::string id = absl::StrCat("i", 10000 + i);
    etcd_.Put(absl::StrCat("/hwholiday/srv/app/", id),
              Record(id, "127.0.0.1:1"));
    etcd_.Put(absl::StrCat("/hwholiday/srv/user/", id),
              Record(id, "127.0.0.1:2"));
  }
  const int64_t revision = etcd_.revision();
  const absl::Time before = etcd_.Now();
  absl::StatusOr<std::vector<ServiceListing>> services = admin_->ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_EQ(etcd_.CallsOf("Range", before).size(), 3u);
  ASSERT_EQ(services->size(), 2u);
  for (const ServiceListing& service : *services) {
    EXPECT_EQ(service.instances.size(), static_cast<size_t>(kPerService))
        << service.service;
    EXPECT_EQ(service.revision, revision);
  }
  EXPECT_EQ((*services)[0].instances.front().id, "i10000");
  EXPECT_EQ((*services)[0].instances.back().id, "i11249");
}

TEST_F(AdminClientTest, ListingStartsOverWhenItsSnapshotIsCompacted) {
  for (int i = 0; i < 1500; ++i) {
    const std::string id = absl::StrCat("i", 10000 + i);
    etcd_.Put(absl::StrCat("/hwholiday/srv/app/", id),
              Record(id, "127.0.0.1:1"));
  }
  int ranges = 0;
  etcd_.SetCallHook([&](const FakeCall& call) {
    // The second page's revision is gone once: etcd answers OUT_OF_RANGE.
    if (call.method == "Range" && ++ranges == 2) {
      return FakeCallOutcome{
          absl::OutOfRangeError(
              "etcdserver: mvcc: required revision has been compacted"),
          absl::ZeroDuration()};
    }
    return FakeCallOutcome{};
  });
  absl::StatusOr<ServiceListing> listing = admin_->ListInstances(kService);
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(listing->instances.size(), 1500u);  // nothing twice
  EXPECT_EQ(ranges, 4);  // page 1, failed page 2, then both again
}

TEST_F(AdminClientTest, ListOfAnUnknownServiceIsEmptyAndABadNameAnError) {
  absl::StatusOr<ServiceListing> listing = admin_->ListInstances("no.such");
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_TRUE(listing->instances.empty());
  EXPECT_EQ(listing->service, "no.such");
  EXPECT_TRUE(absl::IsInvalidArgument(admin_->ListInstances("a/b").status()));
}

TEST_F(AdminClientTest, SetDrainedRewritesInPlaceKeepingLeaseAndUnknownFields) {
  const int64_t lease = etcd_.GrantLease(absl::Seconds(10));
  const std::string key = "/hwholiday/srv/app/a";
  etcd_.Put(key, Record("a", "127.0.0.1:1", R"(,"zone":"eu-1")"), lease);

  ASSERT_TRUE(admin_->SetDrained(kService, "a", true).ok());
  EXPECT_EQ(etcd_.Get(key)->lease(), lease);
  EXPECT_TRUE(Decoded(key).drained);
  EXPECT_EQ(Decoded(key).metadata.at("zone"), "eu-1");
  EXPECT_THAT(etcd_.Get(key)->value(), HasSubstr(R"("written_by":"go")"));

  ASSERT_TRUE(admin_->SetWeight(kService, "a", 40).ok());
  EXPECT_EQ(Decoded(key).weight, 40u);
  EXPECT_TRUE(Decoded(key).drained);

  ASSERT_TRUE(admin_->SetDrained(kService, "a", false).ok());
  EXPECT_FALSE(Decoded(key).drained);
  EXPECT_THAT(etcd_.Get(key)->value(), ::testing::Not(HasSubstr("drained")));
}

TEST_F(AdminClientTest, EditThatChangesNothingWritesNothing) {
  etcd_.Put("/hwholiday/srv/app/a", Record("a", "127.0.0.1:1"));
  const size_t txns = etcd_.CallsOf("Txn").size();
  ASSERT_TRUE(admin_->SetDrained(kService, "a", false).ok());
  ASSERT_TRUE(admin_->SetWeight(kService, "a", 1).ok());
  EXPECT_EQ(etcd_.CallsOf("Txn").size(), txns);
}

TEST_F(AdminClientTest, EditErrorsNameTheProblem) {
  absl::Status missing = admin_->SetDrained(kService, "nope", true);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_THAT(std::string(missing.message()),
              HasSubstr("no instance nope of hwholiday.srv.app"));
  EXPECT_TRUE(absl::IsNotFound(admin_->SetWeight(kService, "nope", 3)));

  etcd_.Put("/hwholiday/srv/app/a", Record("a", "127.0.0.1:1"));
  absl::Status weight = admin_->SetWeight(kService, "a", kMaxWeight + 1);
  EXPECT_TRUE(absl::IsInvalidArgument(weight)) << weight;
  EXPECT_THAT(std::string(weight.message()), HasSubstr("weight: 10001"));
  EXPECT_THAT(std::string(admin_->SetDrained("a..b", "a", true).message()),
              HasSubstr("service: "));
  EXPECT_THAT(std::string(admin_->SetDrained(kService, "a/b", true).message()),
              HasSubstr("id: "));

  const std::string bad = R"({"node":{"version":"v1"}})";
  etcd_.Put("/hwholiday/srv/app/bad", bad);
  absl::Status malformed = admin_->SetDrained(kService, "bad", true);
  EXPECT_TRUE(absl::IsFailedPrecondition(malformed)) << malformed;
  EXPECT_THAT(std::string(malformed.message()),
              HasSubstr("node.address is missing"));
  EXPECT_EQ(etcd_.Get("/hwholiday/srv/app/bad")->value(), bad);
}

TEST_F(AdminClientTest, EditRetriesWhenTheRecordChangesUnderIt) {
  const std::string key = "/hwholiday/srv/app/a";
  const int64_t lease = etcd_.GrantLease(absl::Seconds(10));
  etcd_.Put(key, Record("a", "127.0.0.1:1"), lease);
  int races = 0;
  etcd_.SetCallHook([&](const FakeCall& call) {
    // A registrar's rewrite lands between the read and the write, twice.
    if (call.method == "Txn" && races < 2) {
      ++races;
      etcd_.Put(key, Record("a", "127.0.0.1:1", R"(,"zone":"z")"), lease);
    }
    return FakeCallOutcome{};
  });
  ASSERT_TRUE(admin_->SetDrained(kService, "a", true).ok());
  EXPECT_EQ(races, 2);
  EXPECT_EQ(etcd_.CallsOf("Txn").size(), 3u);
  EXPECT_TRUE(Decoded(key).drained);
  EXPECT_EQ(Decoded(key).metadata.at("zone"), "z");  // the racer's write kept
  EXPECT_EQ(etcd_.Get(key)->lease(), lease);
}

TEST_F(AdminClientTest, EditGivesUpWhenTheRecordNeverHoldsStill) {
  const std::string key = "/hwholiday/srv/app/a";
  etcd_.Put(key, Record("a", "127.0.0.1:1"));
  etcd_.SetCallHook([&](const FakeCall& call) {
    if (call.method == "Txn") etcd_.Put(key, Record("a", "127.0.0.1:1"));
    return FakeCallOutcome{};
  });
  absl::Status status = admin_->SetDrained(kService, "a", true);
  EXPECT_TRUE(absl::IsAborted(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("try again"));
  EXPECT_FALSE(Decoded(key).drained);
}

TEST_F(AdminClientTest, EtcdErrorsArePassedOn) {
  etcd_.Put("/hwholiday/srv/app/a", Record("a", "127.0.0.1:1"));
  etcd_.SetUnavailable(true);
  EXPECT_TRUE(absl::IsUnavailable(admin_->ListInstances(kService).status()));
  EXPECT_TRUE(absl::IsUnavailable(admin_->ListServices().status()));
  EXPECT_TRUE(absl::IsUnavailable(admin_->SetDrained(kService, "a", true)));
}

}  // namespace
}  // namespace vlb
