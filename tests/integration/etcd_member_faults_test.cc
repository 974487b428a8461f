// The etcd client when one member misbehaves: a member cut off from its
// peers or hung (a real three-member cluster), and a member whose store is
// behind what a watch already delivered (a scripted in-process fake, since a
// lagging member cannot be produced on demand).
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "etcd/client.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcd_cluster.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "wait_for.h"
#include "watch_log.h"

namespace vlb::etcd {
namespace {

using ::testing::ElementsAre;
using ::vlb::testing::EtcdCluster;
using ::vlb::testing::WaitFor;
using ::vlb::testing::WatchLog;

constexpr absl::Duration kWait = absl::Seconds(20);

// --- A member whose store is behind: scripted fake ----------------------

constexpr uint64_t kClusterId = 0x5eed;
constexpr uint64_t kOtherClusterId = 0xbad;

mvccpb::Event PutEvent(const std::string& key, int64_t revision) {
  mvccpb::Event event;
  event.set_type(mvccpb::Event::PUT);
  event.mutable_kv()->set_key(key);
  event.mutable_kv()->set_value("v");
  event.mutable_kv()->set_mod_revision(revision);
  return event;
}

// One member of a pretend cluster. The first watch stream is an up-to-date
// member: it delivers revisions 11-15 of "/f/k", then breaks. Every later
// stream is `resumed_cluster_id`'s member at revision `resumed_revision`,
// which then delivers revision 16. A linearizable Range reports the
// cluster's revision as `range_revision`.
class FakeMember final : public etcdserverpb::Watch::Service,
                         public etcdserverpb::KV::Service {
 public:
  struct Script {
    uint64_t resumed_cluster_id = kClusterId;
    int64_t resumed_revision = 12;
    int64_t range_revision = 20;
  };

  explicit FakeMember(Script script) : script_(script) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(static_cast<etcdserverpb::Watch::Service*>(this));
    builder.RegisterService(static_cast<etcdserverpb::KV::Service*>(this));
    server_ = builder.BuildAndStart();
  }
  ~FakeMember() override { server_->Shutdown(); }

  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port_); }
  int ranges() const { return ranges_.load(); }
  // start_revision of every create request, in order.
  std::vector<int64_t> starts() {
    std::lock_guard<std::mutex> lock(mu_);
    return starts_;
  }

  grpc::Status Watch(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<etcdserverpb::WatchResponse,
                               etcdserverpb::WatchRequest>* stream) override {
    etcdserverpb::WatchRequest request;
    if (!stream->Read(&request) || !request.has_create_request()) {
      return grpc::Status::OK;
    }
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = starts_.empty();
      starts_.push_back(request.create_request().start_revision());
    }
    const uint64_t cluster = first ? kClusterId : script_.resumed_cluster_id;
    stream->Write(Created(cluster, first ? 10 : script_.resumed_revision));
    if (first) {
      for (int64_t revision = 11; revision <= 15; ++revision) {
        stream->Write(Events(cluster, revision, revision));
      }
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "member restarting");
    }
    // Caught up: revision 16 arrives (possibly before the client's check).
    stream->Write(Events(cluster, 16, 16));
    while (stream->Read(&request)) {
    }
    return grpc::Status::OK;
  }

  grpc::Status Range(grpc::ServerContext* /*context*/,
                     const etcdserverpb::RangeRequest* /*request*/,
                     etcdserverpb::RangeResponse* response) override {
    ++ranges_;
    response->mutable_header()->set_cluster_id(script_.resumed_cluster_id);
    response->mutable_header()->set_revision(script_.range_revision);
    return grpc::Status::OK;
  }

 private:
  static etcdserverpb::WatchResponse Created(uint64_t cluster,
                                             int64_t revision) {
    etcdserverpb::WatchResponse response;
    response.mutable_header()->set_cluster_id(cluster);
    response.mutable_header()->set_revision(revision);
    response.set_created(true);
    response.set_watch_id(0);
    return response;
  }
  static etcdserverpb::WatchResponse Events(uint64_t cluster, int64_t revision,
                                            int64_t event_revision) {
    etcdserverpb::WatchResponse response;
    response.mutable_header()->set_cluster_id(cluster);
    response.mutable_header()->set_revision(revision);
    response.set_watch_id(0);
    *response.add_events() = PutEvent("/f/k", event_revision);
    return response;
  }

  const Script script_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<int> ranges_{0};
  std::mutex mu_;
  std::vector<int64_t> starts_;  // mu_
};

std::unique_ptr<Client> ConnectTo(const std::vector<std::string>& endpoints,
                                  absl::Duration timeout = absl::Seconds(5)) {
  ClientOptions options;
  options.endpoints = endpoints;
  options.request_timeout = timeout;
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(500);
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

const std::vector<std::string> kFirstFive = {
    "PUT /f/k@11", "PUT /f/k@12", "PUT /f/k@13", "PUT /f/k@14", "PUT /f/k@15"};

TEST(LaggingMemberTest, ResumingOnALaggingMemberLosesNothing) {
  // The member we resume on is at 12 although 15 was delivered; the
  // cluster is at 20. Not data loss: the watch goes on at 16.
  FakeMember member({});
  auto client = ConnectTo({member.endpoint()});
  ASSERT_NE(client, nullptr);
  WatchLog log(WatchLog::Format::kKeyAtRevision);
  client->Watch({"/f/k", "", 0}, log.OnEvents(), log.OnEnd());
  ASSERT_TRUE(WaitFor(
      [&] { return log.event_count() == 6 || log.end_count() > 0; }, kWait));
  {
    std::lock_guard<std::mutex> lock(log.mu);
    ASSERT_TRUE(log.ends.empty()) << log.ends[0];
  }
  std::vector<std::string> expected = kFirstFive;
  expected.push_back("PUT /f/k@16");
  EXPECT_EQ(log.Events(), expected);
  EXPECT_THAT(member.starts(), ElementsAre(0, 16));
  EXPECT_EQ(member.ranges(), 1) << "the cluster was asked once";
}

// Watches "/f/k" on `member` until the watch ends, which must be a DataLoss
// after the up-to-date member's five events and nothing from the new store
// (its revision 16 was never delivered as if it followed 15).
void ExpectWatchEndsInDataLoss(FakeMember& member) {
  auto client = ConnectTo({member.endpoint()});
  ASSERT_NE(client, nullptr);
  WatchLog log(WatchLog::Format::kKeyAtRevision);
  client->Watch({"/f/k", "", 0}, log.OnEvents(), log.OnEnd());
  ASSERT_TRUE(WaitFor([&] { return log.end_count() > 0; }, kWait));
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.ends[0].code(), absl::StatusCode::kDataLoss) << log.ends[0];
  EXPECT_EQ(log.events, kFirstFive);
}

TEST(LaggingMemberTest, StoreBehindEverywhereIsDataLoss) {
  // Same cluster id (a store wiped or restored with the same flags keeps
  // it), and the cluster itself is behind: the store lost data.
  FakeMember member({kClusterId, 12, 12});
  ExpectWatchEndsInDataLoss(member);
}

TEST(LaggingMemberTest, ResumingOnAnotherClusterIsDataLoss) {
  // Another cluster id: another store, even though its revision is ahead.
  FakeMember member({kOtherClusterId, 30, 30});
  ASSERT_NO_FATAL_FAILURE(ExpectWatchEndsInDataLoss(member));
  EXPECT_EQ(member.ranges(), 0) << "no need to ask";
}

// --- A real cluster with one bad member --------------------------------

std::unique_ptr<EtcdCluster> StartCluster() {
  auto cluster = EtcdCluster::Start();
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

etcdserverpb::PutRequest PutOf(const std::string& key, int64_t lease = 0) {
  etcdserverpb::PutRequest put;
  put.set_key(key);
  put.set_value("v");
  put.set_lease(lease);
  return put;
}

TEST(BadMemberTest, KeepAliveMovesOffAHungMember) {
  // m3 stops answering (SIGSTOP) while the lease's keep-alive stream is on
  // it; m1 and m2 keep a quorum and would expire the lease after its TTL.
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto client = ConnectTo(cluster->endpoints(/*first=*/2));
  ASSERT_NE(client, nullptr);
  constexpr absl::Duration kTtl = absl::Seconds(3);
  auto lease = client->LeaseGrant(kTtl);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client->Put(PutOf("/k/a", lease->id())).ok());
  std::mutex mu;
  std::vector<absl::Status> states;
  client->KeepAlive(lease->id(), kTtl, [&](absl::Status state) {
    std::lock_guard<std::mutex> lock(mu);
    states.push_back(state);
  });
  ASSERT_TRUE(cluster->member(2).Pause().ok());
  auto observer = ConnectTo(cluster->endpoints(/*first=*/0));
  ASSERT_NE(observer, nullptr);
  // Three TTLs: long enough for the lease to expire twice over if no
  // keep-alive reached the quorum.
  const absl::Time until = absl::Now() + 3 * kTtl;
  while (absl::Now() < until) {
    auto ttl = observer->LeaseTimeToLive(lease->id(), false);
    ASSERT_TRUE(ttl.ok()) << ttl.status();
    ASSERT_GT(ttl->ttl(), 0) << "the lease expired although kept alive";
    absl::SleepFor(absl::Milliseconds(300));
  }
  std::lock_guard<std::mutex> lock(mu);
  for (const absl::Status& state : states) {
    EXPECT_NE(state.code(), absl::StatusCode::kNotFound) << state;
  }
}

TEST(BadMemberTest, PartitionedMemberReleasesWatchesAndRequests) {
  // m3 is cut off from its peers but still accepts clients. It must not
  // keep a watch silent (require-leader: it ends the stream once it knows
  // it has no leader) nor hold requests until their deadline.
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto client = ConnectTo(cluster->endpoints(/*first=*/2));
  ASSERT_NE(client, nullptr);
  WatchLog log(WatchLog::Format::kKeyAtRevision);
  client->Watch({"/p/", PrefixRangeEnd("/p/"), 0}, log.OnEvents(), log.OnEnd());
  ASSERT_TRUE(client->Put(PutOf("/p/before")).ok());
  ASSERT_TRUE(WaitFor([&] { return log.event_count() == 1; }, kWait));

  cluster->Partition(2);
  ASSERT_TRUE(cluster->WaitForNoLeader(2).ok());
  ASSERT_TRUE(cluster->Etcdctl(0, {"put", "/p/during", "v"}).ok());
  ASSERT_TRUE(WaitFor([&] { return log.event_count() == 2; }, kWait))
      << "the watch stayed on the partitioned member";
  EXPECT_EQ(log.end_count(), 0u);

  // A fresh client that tries m3 first: its linearizable read runs into
  // the deadline there, then must go on to m1.
  auto fresh = ConnectTo(cluster->endpoints(/*first=*/2), absl::Seconds(2));
  ASSERT_NE(fresh, nullptr);
  etcdserverpb::RangeRequest range;
  range.set_key("/p/");
  range.set_range_end(PrefixRangeEnd("/p/"));
  auto read = fresh->Range(range);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->kvs_size(), 2);
}

}  // namespace
}  // namespace vlb::etcd
