// The etcd client against a real etcd: KV, leases and keep-alive, watches
// (multiplexing, cancellation, compaction, resumption across restarts, a
// wiped store), failover between endpoints and authentication.
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "etcd/client.h"
#include "etcd_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "wait_for.h"
#include "watch_log.h"

namespace vlb::etcd {
namespace {

using ::testing::ElementsAre;
using ::vlb::testing::EtcdProcess;
using ::vlb::testing::WaitFor;
using ::vlb::testing::WatchLog;

constexpr absl::Duration kWait = absl::Seconds(20);

std::unique_ptr<EtcdProcess> StartEtcd(std::vector<std::string> flags = {}) {
  EtcdProcess::Options options;
  options.extra_flags = std::move(flags);
  auto etcd = EtcdProcess::Start(options);
  EXPECT_TRUE(etcd.ok()) << etcd.status();
  return etcd.ok() ? *std::move(etcd) : nullptr;
}

std::unique_ptr<Client> Connect(
    std::vector<std::string> endpoints, std::string user = "",
    std::string password = "",
    absl::Duration initial_backoff = absl::Milliseconds(50)) {
  ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.request_timeout = absl::Seconds(5);
  options.initial_backoff = initial_backoff;
  options.max_backoff = std::max(initial_backoff, absl::Milliseconds(500));
  options.username = std::move(user);
  options.password = std::move(password);
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

etcdserverpb::PutRequest PutOf(const std::string& key, const std::string& value,
                               int64_t lease = 0) {
  etcdserverpb::PutRequest put;
  put.set_key(key);
  put.set_value(value);
  put.set_lease(lease);
  return put;
}

etcdserverpb::RangeRequest PrefixRange(const std::string& prefix) {
  etcdserverpb::RangeRequest range;
  range.set_key(prefix);
  range.set_range_end(PrefixRangeEnd(prefix));
  return range;
}

// The revision after the store's current one: a watch from there sees
// every later write. A watch from "now" (0) is created asynchronously, so
// writes made before etcd has it would be missed.
int64_t NextRevision(Client& client) {
  etcdserverpb::RangeRequest range;
  range.set_key("/");
  range.set_count_only(true);
  auto current = client.Range(range);
  EXPECT_TRUE(current.ok()) << current.status();
  return current.ok() ? current->header().revision() + 1 : 0;
}

TEST(PrefixRangeEndTest, IncrementsLastByte) {
  EXPECT_EQ(PrefixRangeEnd("/a/b/"), "/a/b0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff", 1)), std::string(1, '\0'));
}

TEST(EtcdClientTest, CreateRejectsBadOptions) {
  EXPECT_EQ(Client::Create(ClientOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ClientOptions bad;
  bad.endpoints = {"127.0.0.1"};
  auto client = Client::Create(bad);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(client.status().message(), ::testing::HasSubstr("endpoints"));
}

TEST(EtcdClientTest, KvPutRangeDeleteAndTxn) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);

  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client->Put(PutOf(absl::StrCat("/svc/a/", i), "v")).ok());
  }
  ASSERT_TRUE(client->Put(PutOf("/svc/ab", "not in /svc/a/")).ok());

  auto all = client->Range(PrefixRange("/svc/a/"));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->kvs_size(), 5);

  auto limited_request = PrefixRange("/svc/a/");
  limited_request.set_limit(2);
  limited_request.set_keys_only(true);
  auto limited = client->Range(limited_request);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->kvs_size(), 2);
  EXPECT_TRUE(limited->more());
  EXPECT_TRUE(limited->kvs(0).value().empty());

  auto count_request = PrefixRange("/svc/a/");
  count_request.set_count_only(true);
  auto count = client->Range(count_request);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->count(), 5);
  EXPECT_EQ(count->kvs_size(), 0);

  // Reading at an older revision sees the old value.
  auto first = client->Put(PutOf("/svc/x", "1"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(client->Put(PutOf("/svc/x", "2")).ok());
  etcdserverpb::RangeRequest at_revision;
  at_revision.set_key("/svc/x");
  at_revision.set_revision(first->header().revision());
  auto old = client->Range(at_revision);
  ASSERT_TRUE(old.ok());
  ASSERT_EQ(old->kvs_size(), 1);
  EXPECT_EQ(old->kvs(0).value(), "1");

  // Put with prev_kv returns the value it replaced.
  auto put_prev = PutOf("/svc/x", "3");
  put_prev.set_prev_kv(true);
  auto replaced = client->Put(put_prev);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->prev_kv().value(), "2");

  // Txn: compare on value, then put; the failing branch runs otherwise.
  etcdserverpb::TxnRequest txn;
  auto* compare = txn.add_compare();
  compare->set_key("/svc/x");
  compare->set_target(etcdserverpb::Compare::VALUE);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_value("3");
  *txn.add_success()->mutable_request_put() = PutOf("/svc/x", "4");
  txn.add_failure()->mutable_request_range()->set_key("/svc/x");
  auto txn_ok = client->Txn(txn);
  ASSERT_TRUE(txn_ok.ok());
  EXPECT_TRUE(txn_ok->succeeded());
  auto txn_fail = client->Txn(txn);  // value is now "4"
  ASSERT_TRUE(txn_fail.ok());
  EXPECT_FALSE(txn_fail->succeeded());
  EXPECT_EQ(txn_fail->responses(0).response_range().kvs(0).value(), "4");

  etcdserverpb::DeleteRangeRequest del;
  del.set_key("/svc/a/");
  del.set_range_end(PrefixRangeEnd("/svc/a/"));
  auto deleted = client->DeleteRange(del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted(), 5);
  EXPECT_EQ(client->Range(PrefixRange("/svc/")).value().kvs_size(), 2);
}

TEST(EtcdClientTest, KeepAliveHoldsLeaseAndReportsRevocation) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);

  auto lease = client->LeaseGrant(absl::Seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client->Put(PutOf("/lease/k", "v", lease->id())).ok());

  std::mutex mu;
  std::vector<absl::Status> states;
  client->KeepAlive(lease->id(), absl::Seconds(2), [&](absl::Status state) {
    std::lock_guard<std::mutex> lock(mu);
    states.push_back(state);
  });

  // Kept alive past three TTLs: the lease still has time left.
  const absl::Time until = absl::Now() + absl::Seconds(6);
  while (absl::Now() < until) {
    auto ttl = client->LeaseTimeToLive(lease->id(), true);
    ASSERT_TRUE(ttl.ok());
    ASSERT_GT(ttl->ttl(), 0) << "lease expired although kept alive";
    absl::SleepFor(absl::Milliseconds(500));
  }
  auto ttl = client->LeaseTimeToLive(lease->id(), true);
  ASSERT_TRUE(ttl.ok());
  ASSERT_EQ(ttl->keys_size(), 1);
  EXPECT_EQ(ttl->keys(0), "/lease/k");

  // Revoked behind our back: the keeper reports NotFound.
  ASSERT_TRUE(
      etcd->Etcdctl({"lease", "revoke", absl::StrFormat("%x", lease->id())})
          .ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !states.empty();
      },
      kWait));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(states.front().code(), absl::StatusCode::kNotFound)
      << states.front();
  EXPECT_EQ(client->Range(PrefixRange("/lease/")).value().kvs_size(), 0);
}

TEST(EtcdClientTest, LeaseRevokeDeletesKeys) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);
  auto lease = client->LeaseGrant(absl::Seconds(30));
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->ttl(), 30);
  ASSERT_TRUE(client->Put(PutOf("/r/k", "v", lease->id())).ok());
  ASSERT_TRUE(client->LeaseRevoke(lease->id()).ok());
  EXPECT_EQ(client->Range(PrefixRange("/r/")).value().kvs_size(), 0);
  auto gone = client->LeaseTimeToLive(lease->id(), false);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->ttl(), -1);
}

TEST(EtcdClientTest, WatchesShareAStreamAndCancelCleanly) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);
  auto start = client->Put(PutOf("/w/start", ""));
  ASSERT_TRUE(start.ok());
  const int64_t from = start->header().revision() + 1;

  WatchLog a, b, c;
  WatchOptions on_a{"/w/a/", PrefixRangeEnd("/w/a/"), from};
  WatchOptions on_b{"/w/b/", PrefixRangeEnd("/w/b/"), from};
  WatchOptions on_key{"/w/a/1", "", from};
  client->Watch(on_a, a.OnEvents(), a.OnEnd());
  const uint64_t b_id = client->Watch(on_b, b.OnEvents(), b.OnEnd());
  client->Watch(on_key, c.OnEvents(), c.OnEnd());

  ASSERT_TRUE(client->Put(PutOf("/w/a/1", "x")).ok());
  ASSERT_TRUE(client->Put(PutOf("/w/b/1", "y")).ok());
  ASSERT_TRUE(client->Put(PutOf("/w/a/2", "z")).ok());
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("/w/a/1");
  ASSERT_TRUE(client->DeleteRange(del).ok());

  ASSERT_TRUE(WaitFor([&] { return a.event_count() == 3; }, kWait));
  ASSERT_TRUE(WaitFor([&] { return b.event_count() == 1; }, kWait));
  ASSERT_TRUE(WaitFor([&] { return c.event_count() == 2; }, kWait));
  EXPECT_THAT(a.Events(),
              ElementsAre("PUT /w/a/1=x", "PUT /w/a/2=z", "DELETE /w/a/1"));
  EXPECT_THAT(b.Events(), ElementsAre("PUT /w/b/1=y"));
  EXPECT_THAT(c.Events(), ElementsAre("PUT /w/a/1=x", "DELETE /w/a/1"));

  client->CancelWatch(b_id);
  ASSERT_TRUE(client->Put(PutOf("/w/b/2", "after cancel")).ok());
  ASSERT_TRUE(client->Put(PutOf("/w/a/3", "marker")).ok());
  // Once the later event reached `a`, the earlier one would have reached
  // `b` if it were still watching: both share one ordered stream.
  ASSERT_TRUE(WaitFor([&] { return a.event_count() == 4; }, kWait));
  EXPECT_EQ(b.event_count(), 1u);
  EXPECT_EQ(b.end_count(), 0u) << "CancelWatch must not call on_end";
}

TEST(EtcdClientTest, WatchFromCompactedRevisionReportsCompaction) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);
  auto first = client->Put(PutOf("/c/k", "1"));
  ASSERT_TRUE(first.ok());
  int64_t last = 0;
  for (int i = 2; i <= 5; ++i) {
    auto put = client->Put(PutOf("/c/k", absl::StrCat(i)));
    ASSERT_TRUE(put.ok());
    last = put->header().revision();
  }
  ASSERT_TRUE(client->Compact(last, /*physical=*/true).ok());

  WatchLog log;
  client->Watch({"/c/", PrefixRangeEnd("/c/"), first->header().revision()},
                log.OnEvents(), log.OnEnd());
  ASSERT_TRUE(WaitFor([&] { return log.end_count() == 1; }, kWait));
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_TRUE(IsCompacted(log.ends[0])) << log.ends[0];
  EXPECT_EQ(CompactRevision(log.ends[0]), last);
  EXPECT_TRUE(log.events.empty());
}

TEST(EtcdClientTest, WatchResumesAcrossEtcdRestartWithoutLossOrDuplicates) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  // A long reconnect backoff (>= 1.6 s with jitter) makes the writes below
  // land while the watch is down, which is the case under test.
  auto client = Connect({etcd->endpoint()}, "", "", absl::Seconds(2));
  ASSERT_NE(client, nullptr);
  auto start = client->Put(PutOf("/s/start", ""));
  ASSERT_TRUE(start.ok());

  WatchLog log;
  client->Watch(
      {"/s/k/", PrefixRangeEnd("/s/k/"), start->header().revision() + 1},
      log.OnEvents(), log.OnEnd());
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client->Put(PutOf(absl::StrCat("/s/k/", i), "before")).ok());
    expected.push_back(absl::StrCat("PUT /s/k/", i, "=before"));
  }
  ASSERT_TRUE(WaitFor([&] { return log.event_count() == 5; }, kWait));

  ASSERT_TRUE(etcd->Restart().ok()) << etcd->LogTail();
  // Written by another client while ours may still be reconnecting: the
  // watch must resume from where it was, not from "now".
  for (int i = 5; i < 10; ++i) {
    ASSERT_TRUE(etcd->Etcdctl({"put", absl::StrCat("/s/k/", i), "after"}).ok());
    expected.push_back(absl::StrCat("PUT /s/k/", i, "=after"));
  }
  ASSERT_TRUE(WaitFor([&] { return log.event_count() >= 10; }, kWait))
      << log.event_count();
  // A duplicate would arrive with the batch it belongs to; give a progress
  // round-trip so a late one would show up too.
  client->RequestWatchProgress();
  ASSERT_TRUE(client->Put(PutOf("/s/k/z", "last")).ok());
  expected.push_back("PUT /s/k/z=last");
  ASSERT_TRUE(WaitFor([&] { return log.event_count() >= 11; }, kWait));
  EXPECT_EQ(log.Events(), expected);
  EXPECT_EQ(log.end_count(), 0u);
}

TEST(EtcdClientTest, WatchEndsWithDataLossWhenStoreIsWiped) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);
  WatchLog log;
  // From the current revision + 1, not "now": the watch is created
  // asynchronously, and puts made before etcd has it would be missed.
  etcdserverpb::RangeRequest range;
  range.set_key("/d/");
  auto current = client->Range(range);
  ASSERT_TRUE(current.ok()) << current.status();
  client->Watch(
      {"/d/", PrefixRangeEnd("/d/"), current->header().revision() + 1},
      log.OnEvents(), log.OnEnd());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client->Put(PutOf(absl::StrCat("/d/", i), "v")).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return log.event_count() == 20; }, kWait));
  ASSERT_TRUE(etcd->Wipe().ok()) << etcd->LogTail();
  ASSERT_TRUE(WaitFor([&] { return log.end_count() == 1; }, kWait));
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.ends[0].code(), absl::StatusCode::kDataLoss) << log.ends[0];
}

TEST(EtcdClientTest, FailsOverToTheNextEndpoint) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  // Port 1 on loopback: nothing listens, connections are refused.
  auto client = Connect({"127.0.0.1:1", etcd->endpoint()});
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto put = client->Put(PutOf(absl::StrCat("/f/", i), "v"));
    ASSERT_TRUE(put.ok()) << put.status();
  }
  EXPECT_EQ(client->Range(PrefixRange("/f/")).value().kvs_size(), 3);

  // Streams fail over too.
  WatchLog log;
  client->Watch({"/f/", PrefixRangeEnd("/f/"), 1}, log.OnEvents(), log.OnEnd());
  ASSERT_TRUE(WaitFor([&] { return log.event_count() == 3; }, kWait));
}

TEST(EtcdClientTest, UnreachableEtcdFailsWithUnavailable) {
  auto client = Connect({"127.0.0.1:1"});
  ASSERT_NE(client, nullptr);
  auto put = client->Put(PutOf("/u", "v"));
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable)
      << put.status();
  EXPECT_THAT(put.status().message(), ::testing::HasSubstr("127.0.0.1:1"));
}

TEST(EtcdClientTest, AuthenticatesAndRenewsExpiredTokens) {
  // Simple tokens expire after --auth-token-ttl seconds of disuse.
  auto etcd = StartEtcd({"--auth-token-ttl=1"});
  ASSERT_NE(etcd, nullptr);
  ASSERT_TRUE(etcd->Etcdctl({"user", "add", "root:rootpw"}).ok());
  ASSERT_TRUE(etcd->Etcdctl({"auth", "enable"}).ok());

  auto anonymous = Connect({etcd->endpoint()});
  ASSERT_NE(anonymous, nullptr);
  EXPECT_FALSE(anonymous->Put(PutOf("/a/k", "v")).ok());

  auto wrong = Connect({etcd->endpoint()}, "root", "nope");
  ASSERT_NE(wrong, nullptr);
  EXPECT_FALSE(wrong->Put(PutOf("/a/k", "v")).ok());

  auto client = Connect({etcd->endpoint()}, "root", "rootpw");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Put(PutOf("/a/k", "1")).ok());
  WatchLog log;
  client->Watch({"/a/", PrefixRangeEnd("/a/"), NextRevision(*client)},
                log.OnEvents(), log.OnEnd());
  // Let the token expire (TTL 1 s), then use the client again.
  const absl::Time expired = absl::Now() + absl::Seconds(3);
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > expired; }, kWait));
  auto put = client->Put(PutOf("/a/k", "2"));
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_TRUE(WaitFor([&] { return log.event_count() >= 1; }, kWait));
  EXPECT_EQ(log.Events().back(), "PUT /a/k=2");
}

TEST(EtcdClientTest, WatchesCreatedAfterTheTokenExpiredStillWork) {
  // etcd checks a watch create against the token the stream was opened
  // with, and a stream's metadata cannot change: once that token expired
  // (here after 1 s of disuse) every new watch on the stream is refused
  // unless the client reopens it with a fresh token.
  auto etcd = StartEtcd({"--auth-token-ttl=1"});
  ASSERT_NE(etcd, nullptr);
  ASSERT_TRUE(etcd->Etcdctl({"user", "add", "root:rootpw"}).ok());
  ASSERT_TRUE(etcd->Etcdctl({"auth", "enable"}).ok());
  auto client = Connect({etcd->endpoint()}, "root", "rootpw");
  ASSERT_NE(client, nullptr);

  auto start = client->Put(PutOf("/t/start", ""));
  ASSERT_TRUE(start.ok()) << start.status();
  WatchLog all;  // opened with the first token, kept across every reopen
  client->Watch({"/t/", PrefixRangeEnd("/t/"), start->header().revision()},
                all.OnEvents(), all.OnEnd());
  std::vector<std::string> expected = {"PUT /t/start="};
  constexpr int kRounds = 3;
  WatchLog late[kRounds];
  for (int round = 0; round < kRounds; ++round) {
    // Idle for longer than the TTL (plus etcd's 1 s expiry sweep).
    const absl::Time expired = absl::Now() + absl::Seconds(3);
    WaitFor([&] { return absl::Now() > expired; }, kWait);
    const std::string key = absl::StrCat("/t/", round);
    auto put = client->Put(PutOf(key, "v"));  // re-authenticates
    ASSERT_TRUE(put.ok()) << put.status();
    expected.push_back(absl::StrCat("PUT ", key, "=v"));
    client->Watch({key, "", put->header().revision()}, late[round].OnEvents(),
                  late[round].OnEnd());
    ASSERT_TRUE(WaitFor(
        [&] {
          return late[round].event_count() > 0 || late[round].end_count() > 0;
        },
        kWait));
    std::lock_guard<std::mutex> lock(late[round].mu);
    ASSERT_TRUE(late[round].ends.empty()) << late[round].ends[0];
    EXPECT_THAT(late[round].events, ElementsAre(expected.back()));
  }
  // The first watch moved along with the stream: nothing lost, nothing
  // twice.
  ASSERT_TRUE(
      WaitFor([&] { return all.event_count() >= expected.size(); }, kWait));
  EXPECT_EQ(all.Events(), expected);
  EXPECT_EQ(all.end_count(), 0u);
}

TEST(EtcdClientTest, FailsOverWhenAMemberStopsAnswering) {
  // A member that stops answering on an open connection (hung, or cut off
  // behind a router that drops packets): requests run into their deadline
  // there and must go on to the next member instead of failing. (A member
  // that hangs before the client connected fails the connection attempt
  // with UNAVAILABLE instead.)
  auto hung = StartEtcd();
  ASSERT_NE(hung, nullptr);
  auto healthy = StartEtcd();
  ASSERT_NE(healthy, nullptr);
  ClientOptions options;
  options.endpoints = {hung->endpoint(), healthy->endpoint()};
  options.request_timeout = absl::Seconds(2);
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Put(PutOf("/h/first", "v")).ok());
  ASSERT_TRUE(hung->Pause().ok());
  auto put = (*client)->Put(PutOf("/h/k", "v"));
  ASSERT_TRUE(put.ok()) << put.status();
  auto direct = Connect({healthy->endpoint()});
  ASSERT_NE(direct, nullptr);
  auto range = direct->Range(PrefixRange("/h/"));
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->kvs_size(), 1);
  EXPECT_EQ(range->kvs(0).key(), "/h/k");
}

TEST(EtcdClientTest, CloseEndsWatchesAndKeepAlivesWithoutCallingBack) {
  // Close() is often called from the destructor of what the callbacks
  // point into, so it must not call back: watches and keep-alives end
  // silently.
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);
  WatchLog log;
  client->Watch({"/e/", PrefixRangeEnd("/e/"), NextRevision(*client)},
                log.OnEvents(), log.OnEnd());
  auto lease = client->LeaseGrant(absl::Seconds(10));
  ASSERT_TRUE(lease.ok());
  std::atomic<int> lease_states{0};
  client->KeepAlive(lease->id(), absl::Seconds(10),
                    [&](absl::Status) { ++lease_states; });
  ASSERT_TRUE(client->Put(PutOf("/e/k", "v")).ok());
  ASSERT_TRUE(WaitFor([&] { return log.event_count() == 1; }, kWait));
  client->Close();
  EXPECT_EQ(log.end_count(), 0u);
  EXPECT_EQ(lease_states.load(), 0);
}

TEST(EtcdClientTest, CloseStopsAllCallbacks) {
  auto etcd = StartEtcd();
  ASSERT_NE(etcd, nullptr);
  auto client = Connect({etcd->endpoint()});
  ASSERT_NE(client, nullptr);
  std::atomic<int> calls{0};
  client->Watch(
      {"/z/", PrefixRangeEnd("/z/"), 0}, [&](const WatchUpdate&) { ++calls; },
      [&](const absl::Status&) { ++calls; });
  auto lease = client->LeaseGrant(absl::Seconds(2));
  ASSERT_TRUE(lease.ok());
  client->KeepAlive(lease->id(), absl::Seconds(2),
                    [&](absl::Status) { ++calls; });
  client->RunAfter(absl::Milliseconds(300), [&] { ++calls; });
  client->Close();
  const int after_close = calls.load();
  ASSERT_TRUE(etcd->Etcdctl({"put", "/z/1", "v"}).ok());
  ASSERT_TRUE(
      etcd->Etcdctl({"lease", "revoke", absl::StrFormat("%x", lease->id())})
          .ok());
  const absl::Time later = absl::Now() + absl::Seconds(1);
  WaitFor([&] { return absl::Now() > later; }, kWait);
  EXPECT_EQ(calls.load(), after_close);
  // Calls after Close fail cleanly.
  EXPECT_EQ(client->Put(PutOf("/z/2", "v")).status().code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace vlb::etcd
