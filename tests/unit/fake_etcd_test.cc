// The fake etcd itself: what the state-machine tests rely on it to model.
#include "fake_etcd.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fake_etcd_client.h"
#include "gtest/gtest.h"

namespace vlb::testing {
namespace {

using etcdserverpb::Compare;

etcdserverpb::RangeRequest Prefix(const std::string& prefix) {
  etcdserverpb::RangeRequest range;
  range.set_key(prefix);
  range.set_range_end(etcd::PrefixRangeEnd(prefix));
  return range;
}

struct Seen {
  std::vector<std::string> events;  // "PUT k" / "DELETE k"
  std::vector<absl::Status> ends;
};

uint64_t WatchPrefix(etcd::Client& client, const std::string& prefix,
                     int64_t from, Seen* seen) {
  etcd::WatchOptions options;
  options.key = prefix;
  options.range_end = etcd::PrefixRangeEnd(prefix);
  options.start_revision = from;
  return client.Watch(
      options,
      [seen](const etcd::WatchUpdate& update) {
        for (const mvccpb::Event& e : update.events) {
          seen->events.push_back(
              (e.type() == mvccpb::Event::PUT ? "PUT " : "DELETE ") +
              e.kv().key());
        }
      },
      [seen](const absl::Status& status) { seen->ends.push_back(status); });
}

TEST(FakeClockTest, RunsTasksInTimeOrderFifoAndSkipsCancelled) {
  FakeClock clock;
  std::vector<int> order;
  clock.RunAfter(absl::Seconds(2), [&] { order.push_back(3); });
  clock.RunAfter(absl::Seconds(1), [&] { order.push_back(1); });
  clock.RunAfter(absl::Seconds(1), [&] { order.push_back(2); });
  const uint64_t cancelled =
      clock.RunAfter(absl::Seconds(1), [&] { order.push_back(99); });
  EXPECT_TRUE(clock.Cancel(cancelled));
  clock.AdvanceTime(absl::Milliseconds(1500));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(clock.Elapsed(), absl::Milliseconds(1500));
  clock.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(FakeEtcdTest, RevisionsAndPrefixRanges) {
  FakeEtcd etcd;
  EXPECT_EQ(etcd.revision(), 1);
  EXPECT_EQ(etcd.Put("/a/x", "1"), 2);
  etcd.Put("/a/y", "2");
  etcd.Put("/ab", "not under /a/");
  auto client = etcd.NewClient();
  auto response = client->Range(Prefix("/a/"));
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->kvs_size(), 2);
  EXPECT_EQ(response->kvs(1).key(), "/a/y");
  EXPECT_EQ(response->header().revision(), 4);
  etcd.Put("/a/x", "3");
  EXPECT_EQ(etcd.Get("/a/x")->version(), 2);
  EXPECT_EQ(etcd.Get("/a/x")->create_revision(), 2);
}

// The registrar's fenced write: put if absent, else if ours, else range.
etcdserverpb::TxnRequest FencedPut(const std::string& key, int64_t lease) {
  etcdserverpb::TxnRequest txn;
  Compare* absent = txn.add_compare();
  absent->set_key(key);
  absent->set_target(Compare::CREATE);
  absent->set_create_revision(0);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_lease(lease);
  auto* owned = txn.add_failure()->mutable_request_txn();
  Compare* ours = owned->add_compare();
  ours->set_key(key);
  ours->set_target(Compare::LEASE);
  ours->set_lease(lease);
  *owned->add_success()->mutable_request_put() = *put;
  owned->add_failure()->mutable_request_range()->set_key(key);
  return txn;
}

TEST(FakeEtcdTest, TxnComparesCreateRevisionAndLease) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  const int64_t mine = etcd.GrantLease(absl::Seconds(10));
  const int64_t theirs = etcd.GrantLease(absl::Seconds(10));
  auto first = client->Txn(FencedPut("/k", mine));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->succeeded());
  auto again = client->Txn(FencedPut("/k", mine));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->responses(0).response_txn().succeeded());
  auto other = client->Txn(FencedPut("/k", theirs));
  ASSERT_TRUE(other.ok());
  const auto& inner = other->responses(0).response_txn();
  EXPECT_FALSE(inner.succeeded());
  EXPECT_EQ(inner.responses(0).response_range().kvs(0).lease(), mine);
  EXPECT_TRUE(absl::IsNotFound(client->Txn(FencedPut("/k2", 42)).status()));
}

TEST(FakeEtcdTest, ExpiredLeaseDeletesItsKeysWithWatchEvents) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  const int64_t lease = etcd.GrantLease(absl::Seconds(3));
  etcd.Put("/a/x", "1", lease);
  Seen seen;
  WatchPrefix(*client, "/a/", 0, &seen);
  etcd.AdvanceTime(absl::Milliseconds(2999));
  EXPECT_TRUE(etcd.Get("/a/x").has_value());
  etcd.AdvanceTime(absl::Milliseconds(1));
  EXPECT_FALSE(etcd.Get("/a/x").has_value());
  EXPECT_EQ(seen.events, std::vector<std::string>{"DELETE /a/x"});
  auto ttl = client->LeaseTimeToLive(lease, false);
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->ttl(), -1);
}

TEST(FakeEtcdTest, KeepAliveReportsUnavailableOkAndNotFound) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  const int64_t lease = etcd.GrantLease(absl::Seconds(3));
  std::vector<absl::StatusCode> states;
  client->KeepAlive(lease, absl::Seconds(3),
                    [&](const absl::Status& s) { states.push_back(s.code()); });
  etcd.AdvanceTime(absl::Seconds(30));  // kept alive all along
  EXPECT_TRUE(states.empty());
  etcd.SetUnavailable(true);
  etcd.AdvanceTime(absl::Seconds(2));
  EXPECT_TRUE(states.empty());  // not yet past the TTL
  etcd.AdvanceTime(absl::Milliseconds(1100));
  EXPECT_EQ(states,
            std::vector<absl::StatusCode>{absl::StatusCode::kUnavailable});
  etcd.SetUnavailable(false);
  etcd.AdvanceTime(absl::Seconds(1));
  // The cluster kept time: 3 s without a renewal expired the lease.
  EXPECT_EQ(states.back(), absl::StatusCode::kNotFound);
  EXPECT_EQ(etcd.keepalive_count(), 0u);
}

TEST(FakeEtcdTest, KeepAliveConfirmsAgainAfterAShortOutage) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  const int64_t lease = etcd.GrantLease(absl::Seconds(9));
  std::vector<absl::StatusCode> states;
  client->KeepAlive(lease, absl::Seconds(3),
                    [&](const absl::Status& s) { states.push_back(s.code()); });
  etcd.RunUntilIdle();
  etcd.SetUnavailable(true);
  etcd.AdvanceTime(absl::Seconds(4));
  etcd.SetUnavailable(false);
  etcd.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(states,
            (std::vector<absl::StatusCode>{absl::StatusCode::kUnavailable,
                                           absl::StatusCode::kOk}));
}

TEST(FakeEtcdTest, WatchFromAPastRevisionAndCompaction) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  const int64_t first = etcd.Put("/a/x", "1");
  etcd.Put("/a/y", "2");
  etcd.Delete("/a/x");
  Seen seen;
  WatchPrefix(*client, "/a/", first, &seen);
  etcd.RunUntilIdle();
  EXPECT_EQ(seen.events,
            (std::vector<std::string>{"PUT /a/x", "PUT /a/y", "DELETE /a/x"}));
  ASSERT_TRUE(etcd.Compact(etcd.revision()).ok());
  Seen late;
  WatchPrefix(*client, "/a/", first, &late);
  etcd.RunUntilIdle();
  ASSERT_EQ(late.ends.size(), 1u);
  EXPECT_TRUE(etcd::IsCompacted(late.ends[0]));
  EXPECT_EQ(etcd::CompactRevision(late.ends[0]), etcd.revision());
}

TEST(FakeEtcdTest, WatchResumesAfterOutageAndEndsWithDataLossOnWipe) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  Seen seen;
  WatchPrefix(*client, "/a/", 0, &seen);
  etcd.RunUntilIdle();
  etcd.SetUnavailable(true);
  etcd.Put("/a/x", "1");
  etcd.RunUntilIdle();
  EXPECT_TRUE(seen.events.empty());
  etcd.SetUnavailable(false);
  etcd.RunUntilIdle();
  EXPECT_EQ(seen.events, std::vector<std::string>{"PUT /a/x"});
  etcd.Wipe();
  etcd.RunUntilIdle();
  ASSERT_EQ(seen.ends.size(), 1u);
  EXPECT_TRUE(absl::IsDataLoss(seen.ends[0]));
  EXPECT_EQ(etcd.revision(), 1);
}

TEST(FakeEtcdTest, CancelledWatchGetsNothingMore) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  Seen seen;
  const uint64_t id = WatchPrefix(*client, "/a/", 0, &seen);
  etcd.RunUntilIdle();
  etcd.Put("/a/x", "1");
  client->CancelWatch(id);
  etcd.EndWatches(absl::AbortedError("x"));
  etcd.RunUntilIdle();
  EXPECT_TRUE(seen.events.empty());
  EXPECT_TRUE(seen.ends.empty());
}

TEST(FakeEtcdTest, SlowHookAndUnavailableShapeAnswers) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  etcd.SetSlow(absl::Seconds(2));
  etcd.SetCallHook([](const FakeCall& call) {
    return FakeCallOutcome{call.serializable
                               ? absl::OkStatus()
                               : absl::UnavailableError("no leader"),
                           absl::ZeroDuration()};
  });
  std::vector<absl::StatusCode> answers;
  auto record = [&](absl::StatusOr<etcdserverpb::RangeResponse> r) {
    answers.push_back(r.status().code());
  };
  etcdserverpb::RangeRequest stale = Prefix("/a/");
  stale.set_serializable(true);
  client->RangeAsync(Prefix("/a/"), record);
  client->RangeAsync(stale, record);
  etcd.AdvanceTime(absl::Milliseconds(1999));
  EXPECT_TRUE(answers.empty());
  etcd.AdvanceTime(absl::Milliseconds(1));
  EXPECT_EQ(answers,
            (std::vector<absl::StatusCode>{absl::StatusCode::kUnavailable,
                                           absl::StatusCode::kOk}));
  etcd.SetCallHook(nullptr);
  etcd.SetUnavailable(true);
  EXPECT_TRUE(absl::IsUnavailable(client->Range(Prefix("/a/")).status()));
  EXPECT_EQ(etcd.CallsOf("Range").size(), 3u);
}

TEST(FakeEtcdTest, CloseCancelsInFlightAnswersAndTimers) {
  FakeEtcd etcd;
  auto client = etcd.NewClient();
  etcd.SetSlow(absl::Seconds(1));
  absl::Status answer;
  client->RangeAsync(Prefix("/a/"),
                     [&](absl::StatusOr<etcdserverpb::RangeResponse> r) {
                       answer = r.status();
                     });
  bool fired = false;
  client->RunAfter(absl::Seconds(1), [&] { fired = true; });
  client->Close();
  EXPECT_TRUE(absl::IsCancelled(answer));
  etcd.AdvanceTime(absl::Seconds(5));
  EXPECT_FALSE(fired);
}

}  // namespace
}  // namespace vlb::testing
