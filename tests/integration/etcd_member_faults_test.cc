// The etcd client when one member misbehaves: a member whose store is
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
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "wait_for.h"

namespace vlb::etcd {
namespace {

using ::testing::ElementsAre;
using ::vlb::testing::WaitFor;

constexpr absl::Duration kWait = absl::Seconds(20);

// What a watch delivered; safe to read from the test thread.
struct WatchLog {
  std::mutex mu;
  std::vector<std::string> events;  // "PUT key@revision"
  std::vector<absl::Status> ends;

  WatchEventsCallback OnEvents() {
    return [this](const WatchUpdate& update) {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& event : update.events) {
        events.push_back(absl::StrCat(
            event.type() == mvccpb::Event::PUT ? "PUT " : "DELETE ",
            event.kv().key(), "@", event.kv().mod_revision()));
      }
    };
  }
  WatchEndCallback OnEnd() {
    return [this](const absl::Status& status) {
      std::lock_guard<std::mutex> lock(mu);
      ends.push_back(status);
    };
  }
  size_t event_count() {
    std::lock_guard<std::mutex> lock(mu);
    return events.size();
  }
  size_t end_count() {
    std::lock_guard<std::mutex> lock(mu);
    return ends.size();
  }
  std::vector<std::string> Events() {
    std::lock_guard<std::mutex> lock(mu);
    return events;
  }
};

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
  WatchLog log;
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

TEST(LaggingMemberTest, StoreBehindEverywhereIsDataLoss) {
  // Same cluster id (a store wiped or restored with the same flags keeps
  // it), and the cluster itself is behind: the store lost data.
  FakeMember member({kClusterId, 12, 12});
  auto client = ConnectTo({member.endpoint()});
  ASSERT_NE(client, nullptr);
  WatchLog log;
  client->Watch({"/f/k", "", 0}, log.OnEvents(), log.OnEnd());
  ASSERT_TRUE(WaitFor([&] { return log.end_count() > 0; }, kWait));
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.ends[0].code(), absl::StatusCode::kDataLoss) << log.ends[0];
  // Revision 16 of the new store was never delivered as if it followed 15.
  EXPECT_EQ(log.events, kFirstFive);
}

TEST(LaggingMemberTest, ResumingOnAnotherClusterIsDataLoss) {
  // Another cluster id: another store, even though its revision is ahead.
  FakeMember member({kOtherClusterId, 30, 30});
  auto client = ConnectTo({member.endpoint()});
  ASSERT_NE(client, nullptr);
  WatchLog log;
  client->Watch({"/f/k", "", 0}, log.OnEvents(), log.OnEnd());
  ASSERT_TRUE(WaitFor([&] { return log.end_count() > 0; }, kWait));
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.ends[0].code(), absl::StatusCode::kDataLoss) << log.ends[0];
  EXPECT_EQ(log.events, kFirstFive);
  EXPECT_EQ(member.ranges(), 0) << "no need to ask";
}

}  // namespace
}  // namespace vlb::etcd
