// End to end: real etcd, real example servers (separate processes that
// register themselves), and an ordinary gRPC channel on etcd:/// with the
// vlb_version policy, checking where calls go.
#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api.grpc.pb.h"
#include "child_process.h"
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
using ::vlb::testing::ChildProcess;
using ::vlb::testing::EtcdGrpcTest;
using ::vlb::testing::WaitFor;

constexpr char kService[] = "hwholiday.srv.app";
constexpr char kPrefix[] = "/hwholiday/srv/app/";
constexpr absl::Duration kWait = ::vlb::testing::kEtcdTestWait;

struct CallOutcome {
  grpc::Status status;
  std::string instance;  // id of the instance that answered
};

class BalancingTest : public EtcdGrpcTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EtcdGrpcTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(ConnectClient());
  }

  void TearDown() override {
    servers_.clear();  // SIGKILL whatever still runs
  }

  // Starts an example server process registering `id` with `version`;
  // `extra_args` are more of its flags.
  void StartServer(const std::string& id, const std::string& version,
                   uint32_t weight = 1,
                   const std::vector<std::string>& extra_args = {}) {
    ChildProcess::Options options;
    options.program = VLB_EXAMPLE_SERVER_BIN;
    options.args = {"--etcd=" + etcd_->endpoint(),
                    absl::StrCat("--service=", kService),
                    "--version=" + version,
                    "--id=" + id,
                    "--listen=127.0.0.1:0",
                    absl::StrCat("--weight=", weight),
                    "--ttl_seconds=2"};
    options.args.insert(options.args.end(), extra_args.begin(),
                        extra_args.end());
    auto child = ChildProcess::Spawn(options);
    ASSERT_TRUE(child.ok()) << child.status();
    servers_[id] = *std::move(child);
    ASSERT_TRUE(WaitFor([&] { return KeyExists(id); }, kWait))
        << "server " << id << " did not register";
  }

  // Whether `id`'s record exists and says it is drained.
  bool KeyDrained(const std::string& id) {
    etcdserverpb::RangeRequest range;
    range.set_key(absl::StrCat(kPrefix, id));
    auto response = client_->Range(range);
    if (!response.ok() || response->kvs_size() != 1) return false;
    absl::StatusOr<ServiceInstance> record =
        DecodeServiceRecord(response->kvs(0).value());
    return record.ok() && record->drained;
  }

  bool KeyExists(const std::string& id) {
    etcdserverpb::RangeRequest range;
    range.set_key(absl::StrCat(kPrefix, id));
    auto response = client_->Range(range);
    return response.ok() && response->kvs_size() == 1;
  }

  std::string Target() const {
    return ::vlb::testing::EtcdTarget(*etcd_, kService);
  }

  std::unique_ptr<api::Api::Stub> Stub(
      const VersionPolicyOptions& options = {}) {
    std::shared_ptr<grpc::Channel> channel = ChannelTo(kService, options);
    if (channel == nullptr) return nullptr;
    return api::Api::NewStub(channel);
  }

  static CallOutcome Call(api::Api::Stub* stub, const std::string& version,
                          bool wait_for_ready = false,
                          absl::Duration deadline = absl::Seconds(5)) {
    grpc::ClientContext context;
    if (!version.empty()) {
      absl::Status set = SetVersion(&context, version);
      EXPECT_TRUE(set.ok()) << set;
    }
    context.set_wait_for_ready(wait_for_ready);
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    api::Request request;
    request.set_input("hello");
    api::Response response;
    CallOutcome outcome;
    outcome.status = stub->ApiTest(&context, request, &response);
    if (outcome.status.ok()) {
      // "<id> <version>: <input>"
      outcome.instance =
          response.output().substr(0, response.output().find(' '));
    }
    return outcome;
  }

  // Calls until every instance in `ids` answered once for `version`, so
  // that all their subchannels are READY before counting.
  static bool WarmUp(api::Api::Stub* stub, const std::string& version,
                     const std::vector<std::string>& ids) {
    std::map<std::string, bool> seen;
    return WaitFor(
        [&] {
          CallOutcome outcome = Call(stub, version);
          if (outcome.status.ok()) seen[outcome.instance] = true;
          for (const auto& id : ids) {
            if (!seen[id]) return false;
          }
          return true;
        },
        kWait, absl::Milliseconds(5));
  }

  static std::map<std::string, int> Tally(api::Api::Stub* stub,
                                          const std::string& version, int n,
                                          int* failures) {
    std::map<std::string, int> counts;
    *failures = 0;
    for (int i = 0; i < n; ++i) {
      CallOutcome outcome = Call(stub, version);
      if (outcome.status.ok()) {
        ++counts[outcome.instance];
      } else {
        ++*failures;
      }
    }
    return counts;
  }

  std::map<std::string, std::unique_ptr<ChildProcess>> servers_;
};

TEST_F(BalancingTest, RoutesByVersionAndSpreadsOverInstances) {
  StartServer("app-v1-a", "v1");
  StartServer("app-v1-b", "v1");
  StartServer("app-v2-a", "v2");
  StartServer("app-v2-b", "v2");
  auto stub = Stub();
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"app-v1-a", "app-v1-b"}));
  ASSERT_TRUE(WarmUp(stub.get(), "v2", {"app-v2-a", "app-v2-b"}));

  int failures = 0;
  auto v1 = Tally(stub.get(), "v1", 200, &failures);
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(v1.size(), 2u) << "v1 calls must reach exactly the v1 instances";
  // Round robin: an even split, give or take one.
  EXPECT_NEAR(v1["app-v1-a"], 100, 1);
  EXPECT_NEAR(v1["app-v1-b"], 100, 1);

  auto v2 = Tally(stub.get(), "v2", 200, &failures);
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(v2.size(), 2u);
  EXPECT_NEAR(v2["app-v2-a"], 100, 1);
  EXPECT_NEAR(v2["app-v2-b"], 100, 1);

  CallOutcome v3 = Call(stub.get(), "v3");
  EXPECT_EQ(v3.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(v3.status.error_message(),
            "no instance of hwholiday.srv.app matches version \"v3\" "
            "(available: v1, v2)");

  // No version and no default: every instance is eligible.
  auto any = Tally(stub.get(), "", 200, &failures);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(any.size(), 4u);
}

TEST_F(BalancingTest, RangeRequestsReachExactlyTheMatchingVersions) {
  StartServer("old", "1.2.0");
  StartServer("mid", "1.5.3");
  StartServer("new", "2.0.0");
  auto stub = Stub();
  ASSERT_TRUE(WarmUp(stub.get(), "", {"old", "mid", "new"}));
  int failures = 0;
  auto caret = Tally(stub.get(), "^1.4", 50, &failures);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(caret, (std::map<std::string, int>{{"mid", 50}}));
  auto ones = Tally(stub.get(), "1.x", 50, &failures);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ones.size(), 2u);
  EXPECT_EQ(ones.count("new"), 0u);
  auto bounded = Tally(stub.get(), ">=1.5 <3", 50, &failures);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(bounded.size(), 2u);
  EXPECT_EQ(bounded.count("old"), 0u);
  // "v2" equals 2.0.0 once missing parts are padded.
  auto padded = Tally(stub.get(), "v2", 20, &failures);
  EXPECT_EQ(padded, (std::map<std::string, int>{{"new", 20}}));
}

TEST_F(BalancingTest, FallbackOrderIsHonoured) {
  StartServer("one", "v1");
  StartServer("two", "v2");
  VersionPolicyOptions options;
  options.fallback = {"v2", "*"};
  auto stub = Stub(options);
  ASSERT_TRUE(WarmUp(stub.get(), "", {"one", "two"}));
  int failures = 0;
  auto to_v2 = Tally(stub.get(), "v9", 20, &failures);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(to_v2, (std::map<std::string, int>{{"two", 20}}));

  // Without v2, the next fallback ("*") takes any instance.
  servers_["two"]->Terminate(absl::Seconds(10));
  ASSERT_TRUE(WaitFor([&] { return !KeyExists("two"); }, kWait));
  ASSERT_TRUE(WaitFor(
      [&] {
        CallOutcome outcome = Call(stub.get(), "v9");
        return outcome.status.ok() && outcome.instance == "one";
      },
      kWait));
}

TEST_F(BalancingTest, DefaultVersionAppliesToCallsWithoutOne) {
  StartServer("one", "v1");
  StartServer("two", "v2");
  VersionPolicyOptions options;
  options.default_version = "v2";
  auto stub = Stub(options);
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"one"}));
  ASSERT_TRUE(WarmUp(stub.get(), "v2", {"two"}));
  int failures = 0;
  EXPECT_EQ(Tally(stub.get(), "", 20, &failures),
            (std::map<std::string, int>{{"two", 20}}));
}

TEST_F(BalancingTest, WaitForReadyCallWaitsForAMatchingInstance) {
  StartServer("one", "v1");
  auto stub = Stub();
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"one"}));
  EXPECT_EQ(Call(stub.get(), "v3").status.error_code(),
            grpc::StatusCode::UNAVAILABLE);

  std::atomic<bool> done{false};
  CallOutcome waited;
  std::thread caller([&] {
    waited = Call(stub.get(), "v3", /*wait_for_ready=*/true, absl::Seconds(60));
    done = true;
  });
  // The call is parked, not failed: nothing comes back while no v3 exists.
  // (A failed call would return within milliseconds.)
  EXPECT_FALSE(WaitFor([&] { return done.load(); }, absl::Seconds(1)));
  StartServer("three", "v3");
  ASSERT_TRUE(WaitFor([&] { return done.load(); }, kWait));
  caller.join();
  EXPECT_TRUE(waited.status.ok()) << waited.status.error_message();
  EXPECT_EQ(waited.instance, "three");
}

TEST_F(BalancingTest, StoppedInstancesStopReceivingCalls) {
  StartServer("a", "v1");
  StartServer("b", "v1");
  StartServer("c", "v1");
  auto stub = Stub();
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"a", "b", "c"}));

  // Graceful: the server deregisters, then shuts down.
  ASSERT_EQ(servers_["a"]->Terminate(absl::Seconds(10)), 0);
  // Crash: the connection drops at once; the key lives until the TTL.
  ASSERT_TRUE(servers_["b"]->Kill(SIGKILL).ok());
  ASSERT_TRUE(servers_["b"]->Wait(absl::Seconds(10)).ok());

  // After the channel noticed, every call goes to "c" and succeeds.
  int streak = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        CallOutcome outcome = Call(stub.get(), "v1");
        streak =
            (outcome.status.ok() && outcome.instance == "c") ? streak + 1 : 0;
        return streak >= 50;
      },
      kWait, absl::Milliseconds(1)));
  int failures = 0;
  auto counts = Tally(stub.get(), "v1", 100, &failures);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(counts, (std::map<std::string, int>{{"c", 100}}));
}

TEST_F(BalancingTest, CallsKeepFlowingWhileEtcdIsDown) {
  StartServer("a", "v1");
  StartServer("b", "v1");
  auto stub = Stub();
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"a", "b"}));
  ASSERT_TRUE(etcd_->Stop().ok());
  // Longer than the servers' TTL (2 s): the leases would have expired.
  const absl::Time until = absl::Now() + absl::Seconds(4);
  int calls = 0;
  std::map<std::string, int> counts;
  while (absl::Now() < until) {
    CallOutcome outcome = Call(stub.get(), "v1");
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
    ++counts[outcome.instance];
    ++calls;
  }
  EXPECT_GT(calls, 0);
  EXPECT_EQ(counts.size(), 2u) << "both known instances keep serving";
  ASSERT_TRUE(etcd_->Restart().ok());
}

TEST_F(BalancingTest, MalformedRecordsAreSkipped) {
  StartServer("good", "v1");
  auto stub = Stub();
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"good"}));
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"bad-json", "{not json"},
           {"no-address", R"({"node":{"version":"v1"}})"},
           {"no-version", R"({"node":{"address":"127.0.0.1:1"}})"},
           {"bad-address", R"({"node":{"version":"v1","address":"nope"}})"},
           {"huge", std::string(70000, 'x')}}) {
    ASSERT_TRUE(
        etcd_->Etcdctl({"put", absl::StrCat(kPrefix, key), value}).ok());
  }
  // A valid record written after them proves the watch went past them.
  StartServer("later", "v1");
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"good", "later"}));
  int failures = 0;
  auto counts = Tally(stub.get(), "v1", 100, &failures);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(counts.size(), 2u);
}

TEST_F(BalancingTest, EmptyServiceFailsFastAndWaitForReadyWaits) {
  auto stub = Stub();
  const absl::Time start = absl::Now();
  CallOutcome outcome = Call(stub.get(), "v1");
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(outcome.status.error_message(),
              HasSubstr("no instance of hwholiday.srv.app"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "must not hang";

  std::atomic<bool> done{false};
  CallOutcome waited;
  std::thread caller([&] {
    waited = Call(stub.get(), "v1", true, absl::Seconds(60));
    done = true;
  });
  EXPECT_FALSE(WaitFor([&] { return done.load(); }, absl::Seconds(1)));
  StartServer("first", "v1");
  ASSERT_TRUE(WaitFor([&] { return done.load(); }, kWait));
  caller.join();
  EXPECT_TRUE(waited.status.ok()) << waited.status.error_message();
}

TEST_F(BalancingTest, WeightedChildFollowsRegistryWeights) {
  StartServer("w1", "v1", 1);
  StartServer("w3", "v1", 3);
  StartServer("w6", "v1", 6);
  VersionPolicyOptions options;
  options.child_policy = "weighted_round_robin";
  auto stub = Stub(options);
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"w1", "w3", "w6"}));
  int failures = 0;
  auto counts = Tally(stub.get(), "v1", 10000, &failures);
  EXPECT_EQ(failures, 0);
  // Within 2% of the weights' shares.
  EXPECT_NEAR(counts["w1"], 1000, 20);
  EXPECT_NEAR(counts["w3"], 3000, 60);
  EXPECT_NEAR(counts["w6"], 6000, 120);
}

// --- Route documents (README "Route documents") -------------------------

constexpr char kRoutesKey[] = "/vlb/routes/hwholiday.srv.app";

class RoutesTest : public BalancingTest {
 protected:
  void PutRoutes(const std::string& json) {
    etcdserverpb::PutRequest put;
    put.set_key(kRoutesKey);
    put.set_value(json);
    ASSERT_TRUE(client_->Put(put).ok());
  }
  void DeleteRoutes() {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(kRoutesKey);
    ASSERT_TRUE(client_->DeleteRange(del).ok());
  }
  // Waits until a call asking for `version` is answered by `id`.
  static bool ReachesWithin(api::Api::Stub* stub, const std::string& version,
                            const std::string& id) {
    return WaitFor([&] { return Call(stub, version).instance == id; }, kWait,
                   absl::Milliseconds(5));
  }
  // Every one of `n` calls asking for `version` is answered by `id`.
  static bool AllGoTo(api::Api::Stub* stub, const std::string& version,
                      const std::string& id, int n = 50) {
    for (int i = 0; i < n; ++i) {
      if (Call(stub, version).instance != id) return false;
    }
    return true;
  }
  // The instance answering a call for user `user` (header x-user-id),
  // asking for `version` unless empty.
  static std::string UserCall(api::Api::Stub* stub, const std::string& user,
                              const std::string& version = "") {
    grpc::ClientContext context;
    context.AddMetadata("x-user-id", user);
    if (!version.empty()) {
      EXPECT_TRUE(SetVersion(&context, version).ok());
    }
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    api::Request request;
    api::Response response;
    grpc::Status status = stub->ApiTest(&context, request, &response);
    if (!status.ok()) return "<" + status.error_message() + ">";
    return response.output().substr(0, response.output().find(' '));
  }
};

TEST_F(RoutesTest, DocumentAppliesLiveKeepsLastGoodAndDeleteRestoresLocal) {
  StartServer("one", "v1");
  StartServer("two", "v2");
  VersionPolicyOptions local;
  local.default_version = "v1";
  auto stub = Stub(local);
  ASSERT_TRUE(WarmUp(stub.get(), "v2", {"two"}));
  ASSERT_TRUE(AllGoTo(stub.get(), "", "one")) << "local default: v1";

  PutRoutes(R"({"defaultVersion": "v2",
                "rules": [{"name": "pin-v1-callers", "when": {"version": "v1"},
                           "version": "v2"}]})");
  ASSERT_TRUE(ReachesWithin(stub.get(), "v1", "two"));
  EXPECT_TRUE(AllGoTo(stub.get(), "v1", "two")) << "the rule replaces v1";
  EXPECT_TRUE(AllGoTo(stub.get(), "", "two")) << "the document's default";
  EXPECT_TRUE(AllGoTo(stub.get(), "v2", "two"));

  // An invalid document breaks nothing: this channel keeps the last valid
  // one, and a channel that never saw a valid one uses its local config.
  PutRoutes(R"({"defaultVersion": "v1", "rules": "not a list"})");
  auto fresh = Stub(local);
  ASSERT_TRUE(WarmUp(fresh.get(), "v2", {"two"}));
  EXPECT_TRUE(AllGoTo(fresh.get(), "v1", "one")) << "local config";
  EXPECT_TRUE(AllGoTo(fresh.get(), "", "one")) << "local default";
  EXPECT_TRUE(AllGoTo(stub.get(), "v1", "two")) << "last valid document";
  EXPECT_TRUE(AllGoTo(stub.get(), "", "two"));

  DeleteRoutes();
  ASSERT_TRUE(ReachesWithin(stub.get(), "v1", "one"));
  EXPECT_TRUE(AllGoTo(stub.get(), "v1", "one"));
  EXPECT_TRUE(AllGoTo(stub.get(), "", "one")) << "back to the local default";
}

TEST_F(RoutesTest, RulePrecedenceOfTheExampleDocument) {
  StartServer("stable", "1.0.0");
  StartServer("canary", "1.1.0-canary.1");
  StartServer("beta", "2.1.0");
  StartServer("three", "3.0.0");
  auto stub = Stub();
  ASSERT_TRUE(WarmUp(stub.get(), "*", {"stable", "canary", "beta", "three"}));
  PutRoutes(R"({
    "defaultVersion": "1.0.0",
    "fallback": ["1.0.0", "*"],
    "rules": [
      {"name": "gateway-v2-needs-app-v3",
       "when": {"callerService": "hwholiday.srv.gateway",
                "callerVersion": "^2"},
       "version": "3.0.0"},
      {"name": "beta-users", "when": {"header": {"x-beta": "1"}},
       "version": "^2.0.0-0"},
      {"name": "canary", "when": {"version": "1.0.0"},
       "split": [{"version": "1.0.0", "weight": 50},
                 {"version": "1.1.0-canary.1", "weight": 50}],
       "stickyHeader": "x-user-id"}]})");
  // Before the document, 1.0.0 calls reach only "stable"; a beta user's
  // reaching "beta" shows it is in force. This process declares no caller
  // identity, so the first rule never holds for it.
  auto beta_call = [&] {
    grpc::ClientContext context;
    context.AddMetadata("x-beta", "1");
    EXPECT_TRUE(SetVersion(&context, "1.0.0").ok());
    api::Request request;
    api::Response response;
    grpc::Status status = stub->ApiTest(&context, request, &response);
    return status.ok() ? response.output().substr(0, 4) : "fail";
  };
  ASSERT_TRUE(WaitFor([&] { return beta_call() == "beta"; }, kWait));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(beta_call(), "beta");
  EXPECT_TRUE(AllGoTo(stub.get(), "", "stable")) << "the document's default";
  EXPECT_TRUE(AllGoTo(stub.get(), "3.0.0", "three")) << "no rule matches";
  std::map<std::string, int> sides;
  for (int u = 0; u < 100; ++u) {
    ++sides[UserCall(stub.get(), absl::StrCat("u", u))];
  }
  // No x-beta and no version header: the default (1.0.0) is not the
  // canary rule's "when.version" (the call's own text, here none).
  EXPECT_EQ(sides["stable"], 100);
}

TEST_F(RoutesTest, StickySplitSendsEachUserToOneSideInEveryChannel) {
  StartServer("stable", "v1");
  StartServer("canary", "v1-canary");
  auto first = Stub();
  auto second = Stub();
  ASSERT_TRUE(WarmUp(first.get(), "*", {"stable", "canary"}));
  ASSERT_TRUE(WarmUp(second.get(), "*", {"stable", "canary"}));
  PutRoutes(R"({"rules": [{"name": "canary", "when": {"version": "v1"},
      "split": [{"version": "v1", "weight": 90},
                {"version": "v1-canary", "weight": 10}],
      "stickyHeader": "x-user-id"}]})");
  // Without the document v1 calls never reach the canary: a user the hash
  // puts there getting there shows the document is in force. Among
  // user-0 .. user-199 (10% to the canary) there is one.
  auto in_force = [](api::Api::Stub* stub) {
    return WaitFor(
        [&] {
          for (int u = 0; u < 200; ++u) {
            if (UserCall(stub, absl::StrCat("user-", u), "v1") == "canary") {
              return true;
            }
          }
          return false;
        },
        kWait);
  };
  ASSERT_TRUE(in_force(first.get()));
  ASSERT_TRUE(in_force(second.get()));
  int canary = 0;
  for (int u = 0; u < 1000; ++u) {
    const std::string user = absl::StrCat("user-", u);
    const std::string side = UserCall(first.get(), user, "v1");
    ASSERT_TRUE(side == "stable" || side == "canary") << side;
    EXPECT_EQ(UserCall(first.get(), user, "v1"), side) << user;
    EXPECT_EQ(UserCall(second.get(), user, "v1"), side) << user;
    canary += side == "canary";
  }
  // 10% of 1000 users; the hash is fixed, so the count is too
  // (route_table_test checks 10,000 ids against 1%).
  EXPECT_NEAR(canary, 100, 30);
}

// Two client processes declaring different versions of one caller service
// (VLB_CALLER_SERVICE / VLB_CALLER_VERSION): the caller rule applies to the
// one it names, from its very first call.
TEST_F(RoutesTest, CallerRulesFollowEachProcessIdentity) {
  StartServer("one", "v1");
  StartServer("three", "v3");
  PutRoutes(R"({"defaultVersion": "v1",
      "rules": [{"name": "gateway-v2-needs-app-v3",
                 "when": {"callerService": "hwholiday.srv.gateway",
                          "callerVersion": "^2"},
                 "version": "v3"}]})");
  auto run_as = [&](const std::string& version) {
    absl::StatusOr<testing::CommandResult> run = testing::RunCommand(
        VLB_EXAMPLE_CLIENT_BIN,
        {"--target=" + Target(), "--calls=20", "--wait_for_ready"},
        {{"VLB_CALLER_SERVICE", "hwholiday.srv.gateway"},
         {"VLB_CALLER_VERSION", version}},
        kWait);
    EXPECT_TRUE(run.ok()) << run.status();
    if (!run.ok()) return std::map<std::string, int>{};
    EXPECT_EQ(run->exit_code, 0) << run->stdout_text << run->stderr_text;
    std::map<std::string, int> answered;  // "OK <id> <version>: call-n"
    for (absl::string_view line : absl::StrSplit(run->stdout_text, '\n')) {
      if (!absl::ConsumePrefix(&line, "OK ")) continue;
      ++answered[std::string(line.substr(0, line.find(' ')))];
    }
    return answered;
  };
  EXPECT_EQ(run_as("2.4.0"), (std::map<std::string, int>{{"three", 20}}));
  EXPECT_EQ(run_as("1.9.0"), (std::map<std::string, int>{{"one", 20}}));
}

}  // namespace
}  // namespace vlb

namespace vlb {
namespace {

// Who answered each call of a client thread that calls without pause, in
// order; "" for a failed call.
class CallLog {
 public:
  void Add(const CallOutcome& outcome) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!outcome.status.ok()) {
      ++failures_;
      first_failure_ = outcome.status.error_message();
    }
    answered_by_.push_back(outcome.status.ok() ? outcome.instance : "");
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return answered_by_.size();
  }
  int failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }
  std::string first_failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_failure_;
  }
  // The first position >= `from` that starts `n` calls in a row answered
  // by `id`, if any.
  std::optional<size_t> FindStreak(size_t from, const std::string& id, int n) {
    std::lock_guard<std::mutex> lock(mu_);
    int streak = 0;
    for (size_t i = from; i < answered_by_.size(); ++i) {
      streak = answered_by_[i] == id ? streak + 1 : 0;
      if (streak == n) return i + 1 - n;
    }
    return std::nullopt;
  }
  // Calls at positions >= `from` answered by `id`.
  int CountFrom(size_t from, const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    int count = 0;
    for (size_t i = from; i < answered_by_.size(); ++i) {
      count += answered_by_[i] == id;
    }
    return count;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> answered_by_;
  int failures_ = 0;
  std::string first_failure_;
};

class DrainTest : public BalancingTest,
                  public ::testing::WithParamInterface<const char*> {};

INSTANTIATE_TEST_SUITE_P(EveryChild, DrainTest,
                         ::testing::Values("round_robin",
                                           "weighted_round_robin", "random"),
                         [](const auto& param) {
                           return std::string(param.param);
                         });

// A SIGTERM drains the server for --drain_grace_ms before it unregisters:
// under continuous load no call fails, and once the client has seen the
// drain the drained instance gets no new call.
TEST_P(DrainTest, SigtermDrainsWithoutFailingACall) {
  // The grace only has to outlast the client seeing the drained record,
  // a watch event away; the test checks that it did (the key still exists
  // when the client has moved away).
  StartServer("leaving", "v1", 1, {"--drain_grace_ms=5000"});
  StartServer("staying", "v1");
  VersionPolicyOptions options;
  options.child_policy = GetParam();
  auto stub = Stub(options);
  ASSERT_TRUE(WarmUp(stub.get(), "v1", {"leaving", "staying"}));

  CallLog log;
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop.load()) log.Add(Call(stub.get(), "v1"));
  });
  const size_t at_sigterm = log.size();
  ASSERT_TRUE(servers_["leaving"]->Kill(SIGTERM).ok());
  // 50 calls in a row to one of two instances: the client has seen the
  // drain (under random, a chance of 2^-50 without it).
  std::optional<size_t> moved_away;
  const bool moved = WaitFor(
      [&] {
        moved_away = log.FindStreak(at_sigterm, "staying", 50);
        return moved_away.has_value();
      },
      kWait, absl::Milliseconds(5));
  const bool drained_then = KeyDrained("leaving");
  absl::StatusOr<int> exit_status = servers_["leaving"]->Wait(kWait);
  // Calls go on through the instance's exit and the key's removal.
  const bool removed = WaitFor([&] { return !KeyExists("leaving"); }, kWait);
  const size_t after_exit = log.size();
  WaitFor([&] { return log.size() >= after_exit + 50; }, kWait);
  stop = true;
  load.join();

  ASSERT_TRUE(moved) << "the client never moved its calls off the drained "
                        "instance";
  EXPECT_TRUE(drained_then) << "the client moved away before the record "
                               "said drained, or after it was revoked";
  ASSERT_TRUE(exit_status.ok()) << exit_status.status();
  EXPECT_EQ(*exit_status, 0);
  EXPECT_TRUE(removed);
  EXPECT_EQ(log.failures(), 0) << log.first_failure();
  EXPECT_EQ(log.CountFrom(*moved_away, "leaving"), 0);
  EXPECT_GE(log.size(), after_exit + 50);
}

}  // namespace
}  // namespace vlb
