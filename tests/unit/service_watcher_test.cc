// ServiceWatcher's recovery paths on the fake etcd: every test runs on fake
// time, so backoff, grace periods and the cold-start patience are exact.
#include "discovery/service_watcher.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fake_etcd.h"
#include "fake_etcd_client.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::vlb::testing::FakeCall;
using ::vlb::testing::FakeCallOutcome;
using ::vlb::testing::FakeEtcd;

constexpr char kService[] = "hwholiday.srv.app";
constexpr char kPrefix[] = "/hwholiday/srv/app/";

std::string Key(const std::string& id) { return kPrefix + id; }

std::string Record(const std::string& id, const std::string& version = "v1") {
  ServiceInstance instance;
  instance.name = "app";
  instance.path = "/hwholiday/srv/app";
  instance.id = id;
  instance.version = version;
  instance.address = "127.0.0.1:8080";
  return EncodeServiceRecord(instance);
}

class ServiceWatcherTest : public ::testing::Test {
 protected:
  // The client is closed first, so that its in-flight answers (CANCELLED)
  // are delivered while the watcher is alive, as in the resolver.
  ~ServiceWatcherTest() override {
    client_->Close();
    watcher_.reset();
  }

  void Start(ServiceWatcherOptions options = {}) {
    ServiceWatcher::Callbacks callbacks;
    callbacks.on_snapshot = [this](const ServiceSnapshot& s) {
      snapshots_.push_back(s);
    };
    callbacks.on_read_error = [this](const absl::Status& s, bool have) {
      read_errors_.push_back(s);
      read_errors_had_snapshot_.push_back(have);
    };
    callbacks.on_notice = [this](const absl::Status& s) {
      notices_.push_back(s);
    };
    watcher_ = std::make_unique<ServiceWatcher>(client_, kService,
                                                std::move(callbacks), options);
    watcher_->Start();
  }

  // Ids in the last snapshot, in key order.
  std::vector<std::string> Seen() const {
    std::vector<std::string> ids;
    if (snapshots_.empty()) return {"<no snapshot>"};
    for (const WatchedInstance& w : snapshots_.back().instances) {
      ids.push_back(w.instance.id);
    }
    return ids;
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
  std::unique_ptr<ServiceWatcher> watcher_;
  std::vector<ServiceSnapshot> snapshots_;
  std::vector<absl::Status> read_errors_;
  std::vector<bool> read_errors_had_snapshot_;
  std::vector<absl::Status> notices_;
};

using Ids = std::vector<std::string>;

TEST_F(ServiceWatcherTest, ReadsThenWatchesFromTheReadRevisionPlusOne) {
  etcd_.Put(Key("a"), Record("a"));
  etcd_.SetSlow(absl::Seconds(1));  // the watch is created 1 s after the read
  Start();
  etcd_.AdvanceTime(absl::Seconds(1));
  ASSERT_EQ(Seen(), Ids{"a"});
  EXPECT_EQ(snapshots_.back().revision, etcd_.revision());
  // Written after the read, before the watch exists: "from now" loses it.
  etcd_.AdvanceTime(absl::Milliseconds(500));
  etcd_.Put(Key("b"), Record("b"));
  etcd_.AdvanceTime(absl::Seconds(2));
  EXPECT_EQ(Seen(), (Ids{"a", "b"}));
  EXPECT_EQ(etcd_.CallsOf("Range").size(), 2u);  // linearizable + cold start
}

TEST_F(ServiceWatcherTest, EventsUpdateTheSnapshot) {
  Start();
  EXPECT_EQ(Seen(), Ids{});
  etcd_.Put(Key("a"), Record("a"));
  etcd_.Put(Key("b"), Record("b", "v2"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(Seen(), (Ids{"a", "b"}));
  EXPECT_EQ(snapshots_.back().instances[1].instance.version, "v2");
  etcd_.Delete(Key("a"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(Seen(), Ids{"b"});
  EXPECT_EQ(snapshots_.back().revision, etcd_.revision());
}

TEST_F(ServiceWatcherTest, SkipsMalformedAndNonInstanceKeysLoggingEachOnce) {
  etcd_.Put(Key("bad"), "{not json");
  etcd_.Put(Key("admin/x"), Record("x"));  // another service's instance
  etcd_.Put(Key("good"), Record("good"));
  Start();
  EXPECT_EQ(Seen(), Ids{"good"});
  etcd_.Put(Key("other"), Record("other"));
  etcd_.Put(Key("admin/x"), Record("x", "v2"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(Seen(), (Ids{"good", "other"}));
  watcher_->Refresh();  // a full read again: still no new notice
  etcd_.RunUntilIdle();
  EXPECT_EQ(NoticesContaining("malformed record /hwholiday/srv/app/bad"), 1);
  EXPECT_EQ(NoticesContaining("skipping /hwholiday/srv/app/admin/x"), 1);
  // A different bad value is news: logged again.
  etcd_.Put(Key("bad"), "[]");
  etcd_.RunUntilIdle();
  EXPECT_EQ(NoticesContaining("malformed record /hwholiday/srv/app/bad"), 2);
}

TEST_F(ServiceWatcherTest, CompactedWatchReadsAgain) {
  etcd_.Put(Key("a"), Record("a"));
  Start();
  etcd_.SetUnavailable(true);  // the watch falls behind...
  etcd_.Put(Key("b"), Record("b"));
  etcd_.Delete(Key("a"));
  ASSERT_TRUE(etcd_.Compact(etcd_.revision()).ok());  // ...past compaction
  etcd_.SetUnavailable(false);
  etcd_.RunUntilIdle();
  EXPECT_EQ(NoticesContaining("ended; reading again"), 1);
  EXPECT_EQ(Seen(), Ids{"b"});
  etcd_.Put(Key("c"), Record("c"));  // and the new watch follows
  etcd_.RunUntilIdle();
  EXPECT_EQ(Seen(), (Ids{"b", "c"}));
}

TEST_F(ServiceWatcherTest, WatchEndReadsAgainAndReadFailuresBackOff) {
  etcd_.Put(Key("a"), Record("a"));
  Start();
  const size_t published = snapshots_.size();
  etcd_.AdvanceTime(absl::Seconds(1));  // past the start's own reads
  etcd_.SetUnavailable(true);
  const absl::Time outage = etcd_.Now();
  etcd_.EndWatches(absl::AbortedError("etcd cancelled the watch"));
  etcd_.AdvanceTime(absl::Seconds(2));
  // Each failed read keeps the last snapshot (nothing new is published).
  EXPECT_EQ(snapshots_.size(), published);
  ASSERT_GE(read_errors_.size(), 4u);
  EXPECT_TRUE(read_errors_had_snapshot_[0]);
  EXPECT_TRUE(absl::StrContains(read_errors_[0].message(), "keeping 1 known"));
  // The read again comes at once or after one backoff step; failed reads
  // are retried after delays growing 1.6x from 100 ms, each +-20%.
  std::vector<FakeCall> reads = etcd_.CallsOf("Range", outage);
  ASSERT_GE(reads.size(), 4u);
  EXPECT_LE(reads[0].at - outage, absl::Milliseconds(120));
  std::vector<absl::Duration> gaps;
  for (size_t i = 1; i < reads.size(); ++i) {
    gaps.push_back(reads[i].at - reads[i - 1].at);
  }
  EXPECT_GE(gaps[0], absl::Milliseconds(80));
  for (size_t i = 1; i < gaps.size(); ++i) {
    const double growth = absl::FDivDuration(gaps[i], gaps[i - 1]);
    EXPECT_GE(growth, 1.6 * 0.8 / 1.2) << i;
    EXPECT_LE(growth, 1.6 * 1.2 / 0.8) << i;
  }
  etcd_.SetUnavailable(false);
  etcd_.Put(Key("b"), Record("b"));
  etcd_.AdvanceTime(absl::Seconds(2));
  EXPECT_EQ(Seen(), (Ids{"a", "b"}));
}

TEST_F(ServiceWatcherTest, DataLossHoldsMissingInstancesForTheGracePeriod) {
  etcd_.Put(Key("a"), Record("a"));
  etcd_.Put(Key("b"), Record("b"));
  Start();
  etcd_.Wipe();
  etcd_.RunUntilIdle();
  EXPECT_EQ(Seen(), (Ids{"a", "b"}));  // held, though etcd has none
  EXPECT_EQ(NoticesContaining("etcd lost 2 instance(s)"), 1);
  etcd_.AdvanceTime(absl::Seconds(3));
  etcd_.Put(Key("a"), Record("a", "v2"));  // a registers again
  etcd_.RunUntilIdle();
  EXPECT_EQ(Seen(), (Ids{"a", "b"}));
  EXPECT_EQ(snapshots_.back().instances[0].instance.version, "v2");
  etcd_.AdvanceTime(absl::Milliseconds(6999));
  EXPECT_EQ(Seen(), (Ids{"a", "b"}));
  etcd_.AdvanceTime(absl::Milliseconds(1));  // grace (10 s) over: b goes
  EXPECT_EQ(Seen(), Ids{"a"});
}

TEST_F(ServiceWatcherTest, DeletionDuringGraceAppliesAtOnce) {
  etcd_.Put(Key("a"), Record("a"));
  etcd_.Put(Key("b"), Record("b"));
  Start();
  etcd_.Wipe();
  etcd_.RunUntilIdle();
  etcd_.Put(Key("a"), Record("a"));
  etcd_.Delete(Key("a"));  // e.g. its registrar stopped
  etcd_.RunUntilIdle();
  EXPECT_EQ(Seen(), Ids{"b"});  // a at once; b still held
}

TEST_F(ServiceWatcherTest, ColdStartUsesSerializableReadWhenLinearizableFails) {
  etcd_.Put(Key("a"), Record("a"));
  etcd_.SetCallHook([](const FakeCall& call) {
    return FakeCallOutcome{call.serializable
                               ? absl::OkStatus()
                               : absl::UnavailableError("no leader"),
                           absl::ZeroDuration()};
  });
  Start();
  EXPECT_EQ(Seen(), Ids{"a"});
  EXPECT_EQ(NoticesContaining("using a serializable read"), 1);
  etcd_.SetCallHook(nullptr);  // quorum is back: the retry is linearizable
  etcd_.Put(Key("b"), Record("b"));
  etcd_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(Seen(), (Ids{"a", "b"}));
}

TEST_F(ServiceWatcherTest, ColdStartWaitsOneSecondForASlowLinearizableRead) {
  etcd_.Put(Key("a"), Record("a"));
  etcd_.SetCallHook([](const FakeCall& call) {
    return FakeCallOutcome{absl::OkStatus(), call.serializable
                                                 ? absl::ZeroDuration()
                                                 : absl::Seconds(3)};
  });
  Start();
  etcd_.AdvanceTime(absl::Milliseconds(999));
  EXPECT_TRUE(snapshots_.empty());
  etcd_.AdvanceTime(absl::Milliseconds(1));
  EXPECT_EQ(Seen(), Ids{"a"});
  EXPECT_EQ(NoticesContaining("using a serializable read"), 1);
}

TEST_F(ServiceWatcherTest, ColdStartIgnoresSerializableReadWhenLinearIsOnTime) {
  etcd_.Put(Key("a"), Record("a"));
  etcd_.SetCallHook([](const FakeCall& call) {
    return FakeCallOutcome{absl::OkStatus(), call.serializable
                                                 ? absl::ZeroDuration()
                                                 : absl::Milliseconds(900)};
  });
  Start();
  etcd_.AdvanceTime(absl::Seconds(5));
  EXPECT_EQ(snapshots_.size(), 1u);
  EXPECT_EQ(Seen(), Ids{"a"});
  EXPECT_EQ(NoticesContaining("serializable"), 0);
}

TEST_F(ServiceWatcherTest, DiskSnapshotIsUsedOnlyWhenNoMemberAnswers) {
  const std::string dir = absl::StrCat(
      ::testing::TempDir(), "/vlb_watcher_snapshot_",
      ::testing::UnitTest::GetInstance()->random_seed(), "_", getpid());
  std::filesystem::remove_all(dir);
  ServiceWatcherOptions options;
  options.snapshot_dir = dir;
  etcd_.Put(Key("a"), Record("a"));
  Start(options);
  etcd_.AdvanceTime(absl::Seconds(2));          // saved (at most once a second)
  EXPECT_EQ(NoticesContaining("saved in"), 0);  // etcd answered
  watcher_.reset();
  // Serializable reads still answer: the disk is not needed.
  etcd_.Delete(Key("a"));
  etcd_.SetCallHook([](const FakeCall& call) {
    return FakeCallOutcome{call.serializable
                               ? absl::OkStatus()
                               : absl::UnavailableError("no leader"),
                           absl::ZeroDuration()};
  });
  snapshots_.clear();
  Start(options);
  EXPECT_EQ(Seen(), Ids{});
  EXPECT_EQ(NoticesContaining("saved in"), 0);
  watcher_.reset();
  // Nothing answers: the saved copy is used.
  etcd_.SetUnavailable(true);
  snapshots_.clear();
  Start(options);
  EXPECT_EQ(Seen(), Ids{"a"});
  EXPECT_EQ(NoticesContaining("saved in"), 1);
  watcher_.reset();
  std::filesystem::remove_all(dir);
}

// Stop() can cancel neither an in-flight RangeAsync nor the task Refresh()
// queues; the resolver destroys its watcher while the pooled client lives
// on, so a read answered after shutdown touched freed memory (heap use
// after free under ASan). Both now check the watcher's liveness token.
TEST_F(ServiceWatcherTest, DestroyedWithAReadInFlightIsNotCalledBack) {
  etcd_.SetSlow(absl::Seconds(1));
  Start();
  watcher_->Refresh();
  watcher_.reset();
  etcd_.AdvanceTime(absl::Seconds(2));
}

}  // namespace
}  // namespace vlb::internal
