// vlb against a three-member etcd cluster that fails: the leader killed, the
// quorum lost for longer than the TTL, the first member of the endpoint list
// cut off from the other two. Real registrars, real in-process gRPC servers
// and etcd:// channels naming all three members; what etcd holds is read
// through a healthy member with etcdctl, so checks judge what other clients
// see rather than what vlb believes.
#include <atomic>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "echo.grpc.pb.h"
#include "echo_service.h"
#include "etcd_cluster.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration_env.h"
#include "nlohmann/json.hpp"
#include "vlb/grpc.h"
#include "vlb/registrar.h"
#include "wait_for.h"

namespace vlb {
namespace {

using ::vlb::testing::EtcdCluster;
using ::vlb::testing::ServedEcho;
using ::vlb::testing::WaitFor;
using json = nlohmann::json;

constexpr char kService[] = "vlb.test.cluster";
constexpr char kPrefix[] = "/vlb/test/cluster/";
// Generous: a loaded 2-core machine running the suite under ASan.
constexpr absl::Duration kWait = absl::Seconds(15);
constexpr absl::Duration kLongWait = absl::Seconds(30);

// One in-process echo server and the registrar that announces it.
struct Instance {
  std::string id;
  ServedEcho echo;
  std::unique_ptr<Registrar> registrar;
  // Events, written on the registrar's thread.
  std::shared_ptr<std::mutex> events_mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::string>> events =
      std::make_shared<std::vector<std::string>>();

  std::string EventLog() const {
    std::lock_guard<std::mutex> lock(*events_mu);
    return absl::StrCat(id, ": ", absl::StrJoin(*events, ", "));
  }
  int CountEvents(RegistrarEvent event) const {
    std::lock_guard<std::mutex> lock(*events_mu);
    int count = 0;
    for (const std::string& e : *events) {
      if (e.rfind(RegistrarEventName(event), 0) == 0) ++count;
    }
    return count;
  }
};

// What a member holds for one key.
struct KeyState {
  int64_t lease = 0;
  int64_t create_revision = 0;
  bool operator==(const KeyState& o) const {
    return lease == o.lease && create_revision == o.create_revision;
  }
};

// Calls the service without pause on its own thread and counts what happens.
class Caller {
 public:
  explicit Caller(std::unique_ptr<vlbtest::Echo::Stub> stub)
      : stub_(std::move(stub)), thread_([this] { Run(); }) {}
  ~Caller() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t calls() const { return calls_; }
  int64_t failures() const { return failures_; }
  std::string first_errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return absl::StrJoin(errors_, "; ");
  }

 private:
  void Run() {
    while (!stop_) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      vlbtest::EchoRequest request;
      vlbtest::EchoReply reply;
      grpc::Status status = stub_->Unary(&context, request, &reply);
      ++calls_;
      if (!status.ok()) {
        ++failures_;
        std::lock_guard<std::mutex> lock(mu_);
        if (errors_.size() < 5) {
          errors_.push_back(absl::StrCat(absl::FormatTime(absl::Now()), " ",
                                         status.error_code(), " ",
                                         status.error_message()));
        }
      }
      // Leaves CPU to etcd and the servers on a 2-core machine.
      absl::SleepFor(absl::Milliseconds(2));
    }
  }

  std::unique_ptr<vlbtest::Echo::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> failures_{0};
  mutable std::mutex mu_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(RegisterGrpcPlugins().ok()); }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  void TearDown() override {
    for (auto& caller : callers_) caller->Stop();
    // Registrars revoke their leases on Stop(): give them a cluster to do
    // it on, so a failed test does not also wait for timeouts.
    cluster_->HealAll();
    for (int i = 0; i < cluster_->size(); ++i) {
      if (!cluster_->running(i)) (void)cluster_->RestartMember(i);
    }
    for (auto& instance : instances_) {
      if (instance->registrar != nullptr) instance->registrar->Stop();
      instance->echo.server->Shutdown();
    }
    if (HasFailure()) {
      for (auto& instance : instances_) {
        std::cerr << "registrar events of " << instance->EventLog() << "\n";
      }
    }
  }

  // Starts a server and registers it through `endpoints`; waits until
  // registered.
  Instance& AddInstance(const std::string& id, absl::Duration ttl,
                        const std::vector<std::string>& endpoints) {
    auto instance = std::make_unique<Instance>();
    instance->id = id;
    instance->echo = ::vlb::testing::ServeEcho(id);
    EXPECT_NE(instance->echo.server, nullptr);
    RegistrarOptions options = ::vlb::testing::Registration(
        endpoints, kService, id, "v1", instance->echo.address);
    options.ttl = ttl;
    auto registrar = Registrar::Create(
        options, [mu = instance->events_mu, events = instance->events](
                     RegistrarEvent event, const absl::Status& detail) {
          std::lock_guard<std::mutex> lock(*mu);
          events->push_back(absl::StrCat(
              RegistrarEventName(event), " at ",
              absl::FormatTime("%H:%M:%E3S", absl::Now(),
                               absl::LocalTimeZone()),
              detail.ok() ? "" : absl::StrCat(" (", detail.message(), ")")));
        });
    EXPECT_TRUE(registrar.ok()) << registrar.status();
    if (registrar.ok()) {
      instance->registrar = *std::move(registrar);
      absl::Status started = instance->registrar->Start();
      EXPECT_TRUE(started.ok()) << started;
    }
    instances_.push_back(std::move(instance));
    return *instances_.back();
  }

  // A stub on a channel that names all three members, `first` first.
  std::unique_ptr<vlbtest::Echo::Stub> Client(int first) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = vlb::CreateChannel(
        absl::StrCat("etcd://", cluster_->endpoint_list(first), "/", kService),
        grpc::InsecureChannelCredentials());
    EXPECT_TRUE(channel.ok()) << channel.status();
    return vlbtest::Echo::NewStub(*channel);
  }

  Caller& StartCaller(int first) {
    callers_.push_back(std::make_unique<Caller>(Client(first)));
    return *callers_.back();
  }

  // The instance that answered, or "ERR <message>".
  static std::string Call(vlbtest::Echo::Stub* stub) {
    return ::vlb::testing::CallEcho(stub);
  }

  // Waits until calls on `stub` have reached every instance in `ids`.
  static bool ReachesAll(vlbtest::Echo::Stub* stub,
                         const std::set<std::string>& ids,
                         absl::Duration deadline = kWait) {
    std::set<std::string> seen;
    return WaitFor(
        [&] {
          std::string answer = Call(stub);
          if (ids.count(answer) > 0) seen.insert(answer);
          return seen == ids;
        },
        deadline, absl::Milliseconds(5));
  }

  // The service's keys as member i has them (a linearizable read).
  absl::StatusOr<std::map<std::string, KeyState>> Keys(int i) const {
    absl::StatusOr<std::string> out =
        cluster_->Etcdctl(i, {"get", kPrefix, "--prefix", "-w", "json",
                              "--dial-timeout=1s", "--command-timeout=3s"});
    if (!out.ok()) return out.status();
    json parsed = json::parse(*out, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      return absl::InternalError(absl::StrCat("etcdctl printed ", *out));
    }
    std::map<std::string, KeyState> keys;
    for (const json& kv : parsed.value("kvs", json::array())) {
      std::string key;
      absl::Base64Unescape(kv.value("key", std::string()), &key);
      keys[key] = {kv.value("lease", int64_t{0}),
                   kv.value("create_revision", int64_t{0})};
    }
    return keys;
  }

  // True when member i has every instance's key, bound to the lease its
  // registrar holds now.
  bool AllRegistered(int i) const {
    absl::StatusOr<std::map<std::string, KeyState>> keys = Keys(i);
    if (!keys.ok()) return false;
    for (const auto& instance : instances_) {
      auto it = keys->find(instance->registrar->key());
      if (it == keys->end() || !instance->registrar->registered() ||
          it->second.lease != instance->registrar->lease_id()) {
        return false;
      }
    }
    return true;
  }

  // Checks for `duration` that member i keeps exactly `expected`: no key
  // lost, none re-created. Returns the first difference, or "" if none.
  std::string KeepsKeysFor(int i,
                           const std::map<std::string, KeyState>& expected,
                           absl::Duration duration) const {
    const absl::Time end = absl::Now() + duration;
    std::string problem;
    WaitFor(
        [&] {
          absl::StatusOr<std::map<std::string, KeyState>> keys = Keys(i);
          if (!keys.ok()) {  // a failed read proves nothing, unless all do
            if (absl::Now() < end) return false;
            problem = absl::StrCat("reads failed: ", keys.status().message());
            return true;
          }
          for (const auto& [key, state] : expected) {
            auto it = keys->find(key);
            if (it == keys->end() || !(it->second == state)) {
              problem = absl::StrCat(
                  key, it == keys->end() ? " deleted" : " re-created", " at ",
                  absl::FormatTime(absl::Now()));
              return true;
            }
          }
          return absl::Now() >= end;
        },
        duration + kWait, absl::Milliseconds(200));
    return problem;
  }

  // Client endpoints of every member but `excluded`.
  std::vector<std::string> EndpointsWithout(int excluded) const {
    std::vector<std::string> result;
    for (int i = 0; i < cluster_->size(); ++i) {
      if (i != excluded) result.push_back(cluster_->member(i).endpoint());
    }
    return result;
  }

  // A member other than `a` and `b`.
  int Other(int a, int b = -1) const {
    for (int i = 0; i < cluster_->size(); ++i) {
      if (i != a && i != b) return i;
    }
    return -1;
  }

  std::set<std::string> Ids() const {
    std::set<std::string> ids;
    for (const auto& instance : instances_) ids.insert(instance->id);
    return ids;
  }

  std::unique_ptr<EtcdCluster> cluster_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::vector<std::unique_ptr<Caller>> callers_;
};

// (a) The leader dies while a client calls and registrars keep their leases
// alive through it (the leader is first in every endpoint list).
TEST_F(ClusterTest, LeaderKilledWhileCallingLosesNoCallAndNoRegistration) {
  const int leader = cluster_->Leader().value();
  const std::vector<std::string> endpoints = cluster_->endpoints(leader);
  for (const char* id : {"a1", "a2", "a3"}) {
    AddInstance(id, absl::Seconds(3), endpoints);
  }
  auto probe = Client(leader);
  ASSERT_TRUE(ReachesAll(probe.get(), Ids()));
  const int survivor = Other(leader);
  absl::StatusOr<std::map<std::string, KeyState>> before = Keys(survivor);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->size(), 3u);

  Caller& caller = StartCaller(leader);
  ASSERT_TRUE(WaitFor([&] { return caller.calls() >= 20; }, kWait));
  cluster_->KillMember(leader);
  const int64_t calls_at_kill = caller.calls();
  absl::StatusOr<int> new_leader = cluster_->Leader(kWait);
  ASSERT_TRUE(new_leader.ok()) << new_leader.status();

  // Longer than a TTL after the election: an unrenewed lease would be gone.
  EXPECT_EQ(KeepsKeysFor(survivor, *before, absl::Seconds(5)), "");
  EXPECT_TRUE(AllRegistered(survivor));
  caller.Stop();
  EXPECT_GT(caller.calls(), calls_at_kill + 20);
  EXPECT_EQ(caller.failures(), 0) << caller.first_errors();
}

// (b) Two of three members stop for longer than the TTL: running clients
// keep what they know; registrars report the loss and heal once the quorum
// is back.
TEST_F(ClusterTest, QuorumLostLongerThanTtlClientsCallRegistrarsHeal) {
  const std::vector<std::string> endpoints = cluster_->endpoints();
  for (const char* id : {"b1", "b2", "b3"}) {
    AddInstance(id, absl::Seconds(2), endpoints);
  }
  auto probe = Client(0);
  ASSERT_TRUE(ReachesAll(probe.get(), Ids()));
  Caller& caller = StartCaller(0);
  ASSERT_TRUE(WaitFor([&] { return caller.calls() >= 20; }, kWait));

  // The client's and the registrars' preferred members go; m3 stays alone.
  ASSERT_TRUE(cluster_->StopMember(0).ok());
  ASSERT_TRUE(cluster_->StopMember(1).ok());
  ASSERT_TRUE(cluster_->WaitForNoLeader(2, kWait).ok());
  // Every registrar notices that its lease went unconfirmed for a TTL.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& instance : instances_) {
          if (instance->CountEvents(RegistrarEvent::kLost) == 0) return false;
        }
        return true;
      },
      kWait));
  const int64_t calls_in_outage = caller.calls();
  ASSERT_TRUE(
      WaitFor([&] { return caller.calls() >= calls_in_outage + 50; }, kWait));
  EXPECT_EQ(caller.failures(), 0) << caller.first_errors();

  ASSERT_TRUE(cluster_->RestartMember(0).ok());
  ASSERT_TRUE(cluster_->RestartMember(1).ok());
  ASSERT_TRUE(cluster_->WaitForQuorum().ok()) << cluster_->LogTails();
  EXPECT_TRUE(WaitFor([&] { return AllRegistered(0); }, kLongWait));
  // Registrations that heal through the client's view stay callable.
  EXPECT_TRUE(ReachesAll(probe.get(), Ids()));
  caller.Stop();
  EXPECT_EQ(caller.failures(), 0) << caller.first_errors();
}

// (c) Partition of the member first in the endpoint list, a follower that
// keeps accepting connections. The first case: registrars (TTL 5 s) whose
// keep-alives ran through it must move them to a healthy member before the
// majority expires their leases.
TEST_F(ClusterTest, PartitionedFirstMemberLosesNoRegistration) {
  const int leader = cluster_->Leader().value();
  const int cut = Other(leader);
  const std::vector<std::string> endpoints = cluster_->endpoints(cut);
  for (const char* id : {"c1", "c2"}) {
    AddInstance(id, absl::Seconds(5), endpoints);
  }
  absl::StatusOr<std::map<std::string, KeyState>> before = Keys(leader);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->size(), 2u);

  cluster_->Partition(cut);
  ASSERT_TRUE(cluster_->WaitForNoLeader(cut, kWait).ok());
  // An unrenewed lease expires a TTL after its last renewal: watch for
  // longer, from the majority's side.
  EXPECT_EQ(KeepsKeysFor(leader, *before, absl::Seconds(7)), "");
  EXPECT_TRUE(AllRegistered(leader));
}

// The second case: a client whose watch ran on the cut member sees an
// instance registered during the partition (the registrar itself uses the
// healthy members only).
TEST_F(ClusterTest, WatchOnPartitionedMemberSeesNewInstance) {
  const int leader = cluster_->Leader().value();
  const int cut = Other(leader);
  const std::vector<std::string> healthy = EndpointsWithout(cut);
  AddInstance("old", absl::Seconds(10), healthy);
  auto stub = Client(cut);
  ASSERT_TRUE(ReachesAll(stub.get(), {"old"}));

  cluster_->Partition(cut);
  ASSERT_TRUE(cluster_->WaitForNoLeader(cut, kWait).ok());
  AddInstance("new", absl::Seconds(10), healthy);
  EXPECT_TRUE(ReachesAll(stub.get(), {"old", "new"}))
      << "last answer: " << Call(stub.get());
}

// The third case: a client that starts during the partition, preferring the
// cut member, gets its calls through, also to an instance registered during
// the partition, which only the majority knows: its reads must move on from
// a member that lets them time out.
TEST_F(ClusterTest, FreshClientStartsDuringPartition) {
  const int leader = cluster_->Leader().value();
  const int cut = Other(leader);
  const std::vector<std::string> healthy = EndpointsWithout(cut);
  AddInstance("before", absl::Seconds(10), healthy);

  cluster_->Partition(cut);
  ASSERT_TRUE(cluster_->WaitForNoLeader(cut, kWait).ok());
  AddInstance("during", absl::Seconds(10), healthy);
  const absl::Time start = absl::Now();
  auto stub = Client(cut);
  EXPECT_TRUE(ReachesAll(stub.get(), {"before", "during"}))
      << "last answer: " << Call(stub.get());
  std::cerr << "both instances reached after "
            << absl::FormatDuration(absl::Now() - start) << "\n";
}

// A process started while etcd has no quorum: the linearizable read cannot
// succeed, so the client starts from a serializable read of the member that
// is left (0 of 10 calls got through before).
TEST_F(ClusterTest, FreshClientStartsWithoutQuorum) {
  const std::vector<std::string> endpoints = cluster_->endpoints();
  AddInstance("q1", absl::Seconds(10), endpoints);
  AddInstance("q2", absl::Seconds(10), endpoints);
  ASSERT_TRUE(cluster_->StopMember(0).ok());
  ASSERT_TRUE(cluster_->StopMember(1).ok());
  ASSERT_TRUE(cluster_->WaitForNoLeader(2, kWait).ok());
  auto stub = Client(2);
  EXPECT_TRUE(ReachesAll(stub.get(), {"q1", "q2"}))
      << "last answer: " << Call(stub.get());
}

}  // namespace
}  // namespace vlb
