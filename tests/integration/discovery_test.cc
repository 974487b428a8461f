// What counts as an instance, and what a client keeps when etcd misbehaves:
// real etcd, in-process echo servers, and records written by the test, so
// that each scenario controls exactly which records exist and when.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "discovery/service_watcher.h"
#include "echo.grpc.pb.h"
#include "echo_service.h"
#include "etcd/client.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration_env.h"
#include "vlb/grpc.h"
#include "vlb/service_instance.h"
#include "wait_for.h"

namespace vlb {
namespace {

using ::testing::HasSubstr;
using ::vlb::testing::EtcdGrpcTest;
using ::vlb::testing::ServedEcho;
using ::vlb::testing::WaitFor;

constexpr char kService[] = "vlb.test.echo";
constexpr char kPrefix[] = "/vlb/test/echo/";
constexpr absl::Duration kWait = ::vlb::testing::kEtcdTestWait;

class DiscoveryTest : public EtcdGrpcTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EtcdGrpcTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(ConnectClient());
    ASSERT_TRUE(ClientReachesEtcd());
  }

  void TearDown() override {
    // With a deadline: Shutdown() alone waits for calls in flight forever.
    const auto deadline = absl::ToChronoTime(absl::Now() + absl::Seconds(5));
    for (auto& [name, server] : servers_) {
      if (server.server != nullptr) server.server->Shutdown(deadline);
    }
  }

  const ServedEcho& StartServer(const std::string& name) {
    ServedEcho& s = servers_[name] = ::vlb::testing::ServeEcho(name);
    EXPECT_NE(s.server, nullptr);
    return s;
  }

  // Writes a record at `key` (relative to the service prefix).
  void Put(const std::string& key, const std::string& id,
           const std::string& version, const std::string& address) {
    ServiceInstance instance;
    instance.name = "echo";
    instance.path = "/vlb/test/echo";
    instance.id = id;
    instance.version = version;
    instance.address = address;
    absl::Status status = ::vlb::testing::PutServiceRecord(
        *client_, absl::StrCat(kPrefix, key), instance);
    ASSERT_TRUE(status.ok()) << status;
  }

  void Delete(const std::string& key) {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(absl::StrCat(kPrefix, key));
    absl::Status status = client_->DeleteRange(del).status();
    ASSERT_TRUE(status.ok()) << "delete " << del.key() << ": " << status;
  }

  std::unique_ptr<vlbtest::Echo::Stub> Stub() {
    return vlbtest::Echo::NewStub(ChannelTo(kService));
  }

  // The instance that answered, or "ERR <message>".
  static std::string Call(vlbtest::Echo::Stub* stub,
                          const std::string& version) {
    return ::vlb::testing::CallEcho(stub, version);
  }

  static bool Answers(vlbtest::Echo::Stub* stub, const std::string& version,
                      const std::string& instance) {
    return WaitFor([&] { return Call(stub, version) == instance; }, kWait,
                   absl::Milliseconds(10));
  }

  std::map<std::string, ServedEcho> servers_;
};

// Records at the prefix key itself and at nested keys (where another
// service, "vlb.test.echo.admin", lives) used to be instances of this one.
TEST_F(DiscoveryTest, OnlyDirectChildrenOfThePrefixAreInstances) {
  const ServedEcho& mine = StartServer("mine");
  const ServedEcho& other = StartServer("other");
  Put("", "", "v1", other.address);
  Put("admin/x", "x", "v1", other.address);
  Put("nested/deep/y", "y", "v1", other.address);
  Put("mine", "mine", "v1", mine.address);
  auto stub = Stub();
  ASSERT_TRUE(Answers(stub.get(), "v1", "mine"));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(Call(stub.get(), "v1"), "mine") << "call " << i;
    ASSERT_EQ(Call(stub.get(), ""), "mine") << "call " << i;
  }
}

// In-place upgrade: a v1 server was killed and a v2 server took its port
// under a new id before the dead record's lease ran out. The dead record
// ("a-old") sorts first and used to describe the address alone.
TEST_F(DiscoveryTest, DeadRecordDoesNotHideTheLiveServerOnItsAddress) {
  const ServedEcho& s = StartServer("v2-server");
  Put("a-old", "a-old", "v1", s.address);
  Put("b-new", "b-new", "v2", s.address);
  auto stub = Stub();
  ASSERT_TRUE(Answers(stub.get(), "v2", "v2-server")) << Call(stub.get(), "v2");
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Call(stub.get(), "v2"), "v2-server");
  }
}

TEST_F(DiscoveryTest, ProcessRegisteredTwiceServesBothVersions) {
  const ServedEcho& s = StartServer("both");
  Put("both-1", "both-1", "v1", s.address);
  Put("both-3", "both-3", "v3", s.address);
  auto stub = Stub();
  ASSERT_TRUE(Answers(stub.get(), "v1", "both"));
  ASSERT_TRUE(Answers(stub.get(), "v3", "both")) << Call(stub.get(), "v3");
  EXPECT_THAT(Call(stub.get(), "v2"), HasSubstr("(available: v1, v3)"));
}

TEST_F(DiscoveryTest, HostNamesAreResolvedOffTheDispatcherThread) {
  const ServedEcho& s = StartServer("named");
  const std::string port = s.address.substr(s.address.rfind(':') + 1);
  Put("named", "named", "v1", absl::StrCat("localhost:", port));
  auto stub = Stub();
  EXPECT_TRUE(Answers(stub.get(), "v1", "named")) << Call(stub.get(), "v1");
}

// etcd wiped while the registrars cannot write yet: the client keeps its
// instances (grace period, 10 s by default) instead of failing every call.
TEST_F(DiscoveryTest, WipedEtcdDoesNotEmptyRunningClients) {
  const ServedEcho& s = StartServer("survivor");
  Put("survivor", "survivor", "v1", s.address);
  auto stub = Stub();
  ASSERT_TRUE(Answers(stub.get(), "v1", "survivor"));
  ASSERT_TRUE(etcd_->Wipe().ok());
  // Calls for the next 2 s, well inside the grace period, all succeed.
  const absl::Time end = absl::Now() + absl::Seconds(2);
  int calls = 0;
  while (absl::Now() < end) {
    ASSERT_EQ(Call(stub.get(), "v1"), "survivor") << "call " << calls;
    ++calls;
  }
  // The instance registers again; the client follows etcd from then on.
  ASSERT_TRUE(ClientReachesEtcd());
  Put("survivor", "survivor", "v1", s.address);
  EXPECT_EQ(Call(stub.get(), "v1"), "survivor");
  EXPECT_GT(calls, 0);
}

// Channels come and go while the registry changes under them: snapshots are
// handed to gRPC from the etcd dispatcher, and the channel's shutdown used
// to run inline there (destroying the watcher under its own callback, and
// possibly dropping the last reference to the pooled etcd client on that
// client's thread). Run under ASan, this is a lifetime test.
TEST_F(DiscoveryTest, ChannelsComeAndGoWhileSnapshotsStreamIn) {
  const ServedEcho& s = StartServer("steady");
  Put("steady", "steady", "v1", s.address);
  std::atomic<bool> done{false};
  std::thread churn([&] {
    for (int i = 0; !done.load(); ++i) {
      const std::string id = absl::StrCat("flap-", i % 20);
      if (i % 2 == 0) {
        Put(id, id, "v1", absl::StrCat("127.0.0.1:", 1 + i % 20));
      } else {
        Delete(id);
      }
    }
  });
  int served = 0;
  std::string failure;
  for (int i = 0; i < 60 && failure.empty(); ++i) {
    auto stub = Stub();
    if (i % 3 != 0) continue;
    // Only the steady instance is reachable: its answer proves routing.
    // The first channel that never gets there ends the case, so that it
    // fails within one kWait rather than 20 of them.
    if (Answers(stub.get(), "v1", "steady")) {
      ++served;
    } else {
      failure = absl::StrCat("channel ", i, ": ", Call(stub.get(), "v1"));
    }
  }
  done = true;
  churn.join();
  EXPECT_EQ(served, 20) << failure;
}

// The watcher itself: what it reports around a data loss.
class WatcherTest : public DiscoveryTest {
 protected:
  void StartWatcher(absl::Duration grace) {
    internal::ServiceWatcher::Callbacks callbacks;
    callbacks.on_snapshot = [this](const internal::ServiceSnapshot& snap) {
      std::lock_guard<std::mutex> lock(mu_);
      ids_.clear();
      for (const auto& w : snap.instances) ids_.push_back(w.instance.id);
      ++snapshots_;
    };
    callbacks.on_read_error = [](const absl::Status&, bool) {};
    callbacks.on_notice = [this](const absl::Status& status) {
      std::lock_guard<std::mutex> lock(mu_);
      notices_.push_back(std::string(status.message()));
    };
    internal::ServiceWatcherOptions options;
    options.data_loss_grace = grace;
    watcher_ = std::make_unique<internal::ServiceWatcher>(
        client_, kService, std::move(callbacks), options);
    watcher_->Start();
  }
  void TearDown() override {
    watcher_.reset();
    DiscoveryTest::TearDown();
  }
  std::vector<std::string> Ids() {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
  }
  bool IdsAre(const std::vector<std::string>& ids) {
    return WaitFor([&] { return Ids() == ids; }, kWait);
  }
  int NoticesContaining(absl::string_view text) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const std::string& notice : notices_)
      n += absl::StrContains(notice, text);
    return n;
  }

  std::mutex mu_;
  std::vector<std::string> ids_;
  int snapshots_ = 0;
  std::vector<std::string> notices_;
  std::unique_ptr<internal::ServiceWatcher> watcher_;
};

TEST_F(WatcherTest, KeysThatAreNotInstancesAreReportedOncePerKey) {
  StartWatcher(absl::Seconds(10));
  for (int i = 0; i < 5; ++i) {
    Put("admin/x", "x", absl::StrCat("v", i), "127.0.0.1:1");
    Put("", "", absl::StrCat("v", i), "127.0.0.1:1");
    Put(absl::StrCat("real-", i), absl::StrCat("real-", i), "v1",
        "127.0.0.1:1");
  }
  ASSERT_TRUE(IdsAre({"real-0", "real-1", "real-2", "real-3", "real-4"}));
  EXPECT_EQ(NoticesContaining("/vlb/test/echo/admin/x:"), 1);
  EXPECT_EQ(NoticesContaining("skipping /vlb/test/echo/:"), 1);
}

TEST_F(WatcherTest, DataLossKeepsMissingInstancesUntilGraceEnds) {
  StartWatcher(absl::Seconds(3));
  Put("a", "a", "v1", "127.0.0.1:1");
  Put("b", "b", "v1", "127.0.0.1:2");
  Put("c", "c", "v1", "127.0.0.1:3");
  ASSERT_TRUE(IdsAre({"a", "b", "c"}));
  ASSERT_TRUE(etcd_->Wipe().ok());
  ASSERT_TRUE(
      WaitFor([&] { return NoticesContaining("keeping them") == 1; }, kWait));
  EXPECT_EQ(Ids(), (std::vector<std::string>{"a", "b", "c"}));
  // "a" registers again; "b" is deleted by its owner, which takes effect
  // at once; "c" never comes back and goes when the grace period ends.
  Put("a", "a", "v2", "127.0.0.1:1");
  Put("b", "b", "v1", "127.0.0.1:2");
  Delete("b");
  ASSERT_TRUE(IdsAre({"a", "c"}));
  ASSERT_TRUE(IdsAre({"a"}));
  EXPECT_EQ(NoticesContaining("did not register again"), 1);
}

}  // namespace
}  // namespace vlb
