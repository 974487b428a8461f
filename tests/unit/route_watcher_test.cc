// RouteWatcher on the fake etcd: the document in force through puts,
// invalid values, deletes, compaction, outages and Stop().
#include "discovery/route_watcher.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "fake_etcd.h"
#include "fake_etcd_client.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::vlb::testing::FakeEtcd;

constexpr char kKey[] = "/vlb/routes/hwholiday.srv.app";

std::string Doc(const std::string& default_version) {
  return "{\"defaultVersion\": \"" + default_version + "\"}";
}

class RouteWatcherTest : public ::testing::Test {
 protected:
  ~RouteWatcherTest() override {
    client_->Close();
    watcher_.reset();
  }

  void Start() {
    RouteWatcher::Callbacks callbacks;
    callbacks.on_change = [this](const RouteState& s) {
      changes_.push_back(s);
    };
    callbacks.on_notice = [this](const absl::Status& s) {
      notices_.push_back(s);
    };
    watcher_ =
        std::make_unique<RouteWatcher>(client_, kKey, std::move(callbacks));
    watcher_->Start();
    etcd_.RunUntilIdle();
  }

  // The default version of the document in force after the last change;
  // "none" without a document, "-" before any change.
  std::string InForce() const {
    if (changes_.empty()) return "-";
    const RouteState& s = changes_.back();
    if (s.document == nullptr) return "none";
    return s.document->default_version.value_or("?");
  }

  int NoticesContaining(const std::string& text) const {
    int n = 0;
    for (const absl::Status& s : notices_) {
      n += absl::StrContains(s.message(), text) ? 1 : 0;
    }
    return n;
  }

  FakeEtcd etcd_;
  std::shared_ptr<testing::FakeEtcdClient> client_ = etcd_.NewClient();
  std::unique_ptr<RouteWatcher> watcher_;
  std::vector<RouteState> changes_;
  std::vector<absl::Status> notices_;
};

TEST(RouteDocumentKeyTest, IsTheRootAndTheDottedName) {
  EXPECT_EQ(RouteDocumentKey(kDefaultRoutesRoot, "hwholiday.srv.app"), kKey);
}

TEST_F(RouteWatcherTest, ReadsTheDocumentAtStart) {
  const int64_t revision = etcd_.Put(kKey, Doc("v1"));
  Start();
  EXPECT_EQ(InForce(), "v1");
  EXPECT_EQ(changes_.back().mod_revision, revision);
}

TEST_F(RouteWatcherTest, NoDocumentIsReportedOnceAtStart) {
  Start();
  EXPECT_EQ(InForce(), "none");
  EXPECT_EQ(changes_.size(), 1u);
  EXPECT_TRUE(notices_.empty());
}

TEST_F(RouteWatcherTest, FailedFirstReadIsReportedThenTheDocument) {
  etcd_.Put(kKey, Doc("v1"));
  etcd_.SetUnavailable(true);
  Start();
  EXPECT_EQ(InForce(), "none") << "the resolver must not wait forever";
  etcd_.SetUnavailable(false);
  etcd_.AdvanceTime(absl::Seconds(2));
  EXPECT_EQ(InForce(), "v1");
  EXPECT_EQ(changes_.size(), 2u);
}

TEST_F(RouteWatcherTest, FollowsPutsAndDeletes) {
  Start();
  etcd_.Put(kKey, Doc("v1"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "v1");
  etcd_.Put(kKey, Doc("v2"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "v2");
  etcd_.Delete(kKey);
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "none");
  EXPECT_EQ(changes_.size(), 4u);  // the first read's "none", then these
}

TEST_F(RouteWatcherTest, OtherKeysAreIgnored) {
  Start();
  etcd_.Put(std::string(kKey) + "2", Doc("v9"));
  etcd_.Put("/vlb/routes/hwholiday.srv", Doc("v8"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "none");
  EXPECT_EQ(changes_.size(), 1u);
}

TEST_F(RouteWatcherTest, InvalidDocumentKeepsTheLastValidOneAndNamesTheField) {
  Start();
  etcd_.Put(kKey, Doc("v1"));
  etcd_.RunUntilIdle();
  const size_t before = changes_.size();
  const int64_t bad = etcd_.Put(kKey, R"({"rules": [{"name": "x"}]})");
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "v1");
  EXPECT_EQ(changes_.size(), before);
  ASSERT_EQ(NoticesContaining("is invalid; keeping the last valid one"), 1);
  EXPECT_EQ(NoticesContaining("at revision " + std::to_string(bad)), 1);
  EXPECT_EQ(NoticesContaining(
                "rules[0]: needs \"version\", \"split\" or \"strictLane\""),
            1);
  etcd_.Put(kKey, Doc("v3"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "v3");
}

TEST_F(RouteWatcherTest, InvalidDocumentAtStartLeavesTheLocalConfig) {
  etcd_.Put(kKey, "{not json");
  Start();
  EXPECT_EQ(InForce(), "none");
  EXPECT_EQ(NoticesContaining("keeping the local config"), 1);
}

TEST_F(RouteWatcherTest, CompactedWatchReadsAgainWithoutRepeating) {
  etcd_.Put(kKey, Doc("v1"));
  Start();
  etcd_.SetUnavailable(true);  // the watch falls behind...
  etcd_.Put(kKey, Doc("v2"));
  etcd_.Put("/elsewhere", "x");
  ASSERT_TRUE(etcd_.Compact(etcd_.revision()).ok());  // ...past compaction
  etcd_.SetUnavailable(false);
  etcd_.RunUntilIdle();
  etcd_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(InForce(), "v2");
  EXPECT_EQ(changes_.size(), 2u);
  etcd_.Put(kKey, Doc("v3"));  // the new watch follows
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "v3");
}

TEST_F(RouteWatcherTest, OutageKeepsTheDocumentAndRecovers) {
  etcd_.Put(kKey, Doc("v1"));
  Start();
  etcd_.SetUnavailable(true);
  etcd_.EndWatches(absl::UnavailableError("member gone"));
  etcd_.AdvanceTime(absl::Seconds(3));
  EXPECT_EQ(InForce(), "v1");
  EXPECT_GE(NoticesContaining("failed (keeping the one in force, retrying)"),
            2);
  etcd_.SetUnavailable(false);
  etcd_.AdvanceTime(absl::Seconds(10));
  EXPECT_EQ(changes_.size(), 1u) << "the same document read again is no news";
  etcd_.Delete(kKey);
  etcd_.RunUntilIdle();
  EXPECT_EQ(InForce(), "none");
}

TEST_F(RouteWatcherTest, NothingAfterStop) {
  Start();
  watcher_->Stop();
  const size_t before = changes_.size();
  etcd_.Put(kKey, Doc("v1"));
  etcd_.AdvanceTime(absl::Seconds(5));
  EXPECT_EQ(changes_.size(), before);
}

}  // namespace
}  // namespace vlb::internal
