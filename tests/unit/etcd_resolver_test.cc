// The etcd resolver (src/grpc_adapter/etcd_resolver.cc) as a channel drives
// it, on the fake etcd: its methods run on a real WorkSerializer, its
// results reach a recording ResultHandler, and the hop that carries results
// off the etcd dispatcher is a queue the test empties (RunHandOffs), so
// every test is single-threaded and runs on fake time.
#include <grpc/grpc.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fake_etcd.h"
#include "fake_etcd_client.h"
#include "grpc_adapter/core.h"
#include "grpc_adapter/etcd_resolver_internal.h"
#include "grpc_adapter/instance_attribute.h"
#include "grpc_adapter/route_document_arg.h"
#include "gtest/gtest.h"
#include "vlb/service_instance.h"

namespace vlb::grpc_adapter {
namespace {

using ::vlb::testing::FakeEtcd;
using Result = grpc_core::Resolver::Result;
using Endpoints = std::vector<std::string>;

constexpr char kService[] = "hwholiday.srv.app";
constexpr char kPrefix[] = "/hwholiday/srv/app/";
constexpr char kRoutesKey[] = "/vlb/routes/hwholiday.srv.app";
// A channel arg the resolver must pass through with every result.
constexpr char kMarkerArg[] = "vlb.test.marker";

std::string Key(const std::string& id) { return kPrefix + id; }

std::string Record(const std::string& id, const std::string& version,
                   const std::string& address) {
  ServiceInstance instance;
  instance.name = "app";
  instance.path = "/hwholiday/srv/app";
  instance.id = id;
  instance.version = version;
  instance.address = address;
  return EncodeServiceRecord(instance);
}

// "<id> <address> <versions>" per address, sorted (the order of a result
// means nothing); "<error: ...>" for an error result.
Endpoints Describe(const Result& result) {
  if (!result.addresses.ok()) {
    return {
        absl::StrCat("<error: ", result.addresses.status().ToString(), ">")};
  }
  Endpoints out;
  for (const grpc_core::ServerAddress& address : *result.addresses) {
    const InstanceAttribute* attribute = InstanceAttribute::Of(address);
    if (attribute == nullptr) {
      out.push_back("<no instance attribute>");
      continue;
    }
    out.push_back(absl::StrCat(attribute->instance().id, " ",
                               attribute->instance().address, " ",
                               absl::StrJoin(attribute->versions(), ",")));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class RecordingHandler final : public grpc_core::Resolver::ResultHandler {
 public:
  explicit RecordingHandler(std::shared_ptr<std::vector<Result>> results)
      : results_(std::move(results)) {}
  void ReportResult(Result result) override {
    results_->push_back(std::move(result));
  }

 private:
  std::shared_ptr<std::vector<Result>> results_;
};

class EtcdResolverTest : public ::testing::Test {
 protected:
  EtcdResolverTest() { grpc_init(); }

  ~EtcdResolverTest() override {
    if (resolver_ != nullptr) Shutdown();
    RunHandOffs();
    // Answers still in flight end (CANCELLED) before the fake etcd goes.
    client_->Close();
    grpc_shutdown();
  }

  void Start(absl::Duration data_loss_grace = absl::Seconds(10)) {
    grpc_core::ResolverArgs args;
    absl::StatusOr<grpc_core::URI> uri =
        grpc_core::URI::Parse(absl::StrCat("etcd:///", kService));
    ASSERT_TRUE(uri.ok()) << uri.status();
    args.uri = *std::move(uri);
    args.args = grpc_core::ChannelArgs().Set(kMarkerArg, 7);
    args.work_serializer = work_serializer_;
    args.result_handler = std::make_unique<RecordingHandler>(results_);
    EtcdResolverOptions options;
    options.service = kService;
    options.watcher.data_loss_grace = data_loss_grace;
    options.routes_key = kRoutesKey;
    options.hand_off = [this](std::function<void()> fn) {
      hand_offs_.push_back(std::move(fn));
    };
    resolver_ = MakeEtcdResolver(std::move(args), client_, std::move(options));
    InSerializer([this] { resolver_->StartLocked(); });
  }

  // Orphans the resolver, as a channel does on shutdown.
  void Shutdown() {
    InSerializer([this] { resolver_.reset(); });
  }

  // Nothing else runs in the serializer, so `fn` runs before Run() returns;
  // the flag proves it did.
  void InSerializer(std::function<void()> fn) {
    bool ran = false;
    grpc_core::ExecCtx exec_ctx;
    work_serializer_->Run(
        [&ran, &fn] {
          fn();
          ran = true;
        },
        DEBUG_LOCATION);
    ASSERT_TRUE(ran);
  }

  // Runs the queued hand-offs (each reports the newest result); returns
  // how many there were.
  size_t RunHandOffs() {
    size_t ran = 0;
    while (!hand_offs_.empty()) {
      std::function<void()> fn = std::move(hand_offs_.front());
      hand_offs_.erase(hand_offs_.begin());
      fn();
      ++ran;
    }
    return ran;
  }

  // Lets the fake etcd answer what is due now, then hands results over.
  void Settle() {
    etcd_.RunUntilIdle();
    RunHandOffs();
  }

  // Advances fake time in steps of 100 ms, handing results over after
  // each, until a result newer than the current last one arrives or
  // `limit` has passed.
  void AdvanceUntilNewResult(absl::Duration limit) {
    const size_t before = results_->size();
    for (absl::Duration t; t < limit && results_->size() == before;
         t += absl::Milliseconds(100)) {
      etcd_.AdvanceTime(absl::Milliseconds(100));
      RunHandOffs();
    }
  }

  Endpoints Last() const {
    if (results_->empty()) return {"<no result>"};
    return Describe(results_->back());
  }

  FakeEtcd etcd_;
  std::shared_ptr<testing::FakeEtcdClient> client_ = etcd_.NewClient();
  std::shared_ptr<grpc_core::WorkSerializer> work_serializer_ =
      std::make_shared<grpc_core::WorkSerializer>();
  std::shared_ptr<std::vector<Result>> results_ =
      std::make_shared<std::vector<Result>>();
  std::vector<std::function<void()>> hand_offs_;
  grpc_core::OrphanablePtr<grpc_core::Resolver> resolver_;
};

TEST_F(EtcdResolverTest, InitialReadReportsEachAddressWithItsVersions) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  etcd_.Put(Key("b"), Record("b", "v2", "127.0.0.1:8002"));
  Start();
  Settle();
  ASSERT_EQ(results_->size(), 1u);
  EXPECT_EQ(Last(), (Endpoints{"a 127.0.0.1:8001 v1", "b 127.0.0.1:8002 v2"}));
  const Result& result = results_->back();
  EXPECT_EQ(result.args.GetInt(kMarkerArg), 7);
  EXPECT_TRUE(result.resolution_note.empty()) << result.resolution_note;
}

TEST_F(EtcdResolverTest, SharedAddressCarriesTheVersionsOfEveryRecord) {
  // A v2 server took the port of a v1 server whose lease has not expired.
  etcd_.Put(Key("old"), Record("old", "v1", "127.0.0.1:8001"));
  etcd_.Put(Key("new"), Record("new", "v2", "127.0.0.1:8001"));
  Start();
  Settle();
  EXPECT_EQ(Last(), Endpoints{"new 127.0.0.1:8001 v2,v1"});
}

TEST_F(EtcdResolverTest, WatchedPutsAndDeletesUpdateTheAddresses) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  Start();
  Settle();
  etcd_.Put(Key("b"), Record("b", "v2", "127.0.0.1:8002"));
  Settle();
  EXPECT_EQ(Last(), (Endpoints{"a 127.0.0.1:8001 v1", "b 127.0.0.1:8002 v2"}));
  etcd_.Delete(Key("a"));
  Settle();
  EXPECT_EQ(Last(), Endpoints{"b 127.0.0.1:8002 v2"});
  etcd_.Delete(Key("b"));
  Settle();
  EXPECT_EQ(Last(), Endpoints{});  // an empty list, not an error
  EXPECT_EQ(results_->size(), 4u);
}

TEST_F(EtcdResolverTest, BurstWaitsAsOneResultAndTheNewestWins) {
  Start();
  Settle();
  const size_t before = results_->size();
  // Each event is delivered on its own while the channel has not taken
  // the first result yet.
  for (int i = 1; i <= 5; ++i) {
    etcd_.Put(
        Key(absl::StrCat("i", i)),
        Record(absl::StrCat("i", i), "v1", absl::StrCat("127.0.0.1:800", i)));
    etcd_.RunUntilIdle();
  }
  EXPECT_EQ(hand_offs_.size(), 1u);
  EXPECT_EQ(RunHandOffs(), 1u);
  ASSERT_EQ(results_->size(), before + 1);
  EXPECT_EQ(Last().size(), 5u);
  // Once taken, the next change needs a hand-off of its own.
  etcd_.Delete(Key("i1"));
  etcd_.RunUntilIdle();
  EXPECT_EQ(RunHandOffs(), 1u);
  EXPECT_EQ(Last().size(), 4u);
}

TEST_F(EtcdResolverTest, CompactedWatchReadsAgain) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  Start();
  Settle();
  const size_t reads = etcd_.CallsOf("Range").size();
  etcd_.SetUnavailable(true);  // the watch falls behind...
  etcd_.Put(Key("b"), Record("b", "v1", "127.0.0.1:8002"));
  etcd_.Delete(Key("a"));
  ASSERT_TRUE(etcd_.Compact(etcd_.revision()).ok());  // ...past compaction
  etcd_.SetUnavailable(false);
  Settle();
  EXPECT_GT(etcd_.CallsOf("Range").size(), reads);
  EXPECT_EQ(Last(), Endpoints{"b 127.0.0.1:8002 v1"});
  etcd_.Put(Key("c"), Record("c", "v1", "127.0.0.1:8003"));  // watched again
  Settle();
  EXPECT_EQ(Last(), (Endpoints{"b 127.0.0.1:8002 v1", "c 127.0.0.1:8003 v1"}));
}

TEST_F(EtcdResolverTest, DataLossKeepsLostInstancesForTheGraceThenDrops) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  etcd_.Put(Key("b"), Record("b", "v1", "127.0.0.1:8002"));
  Start(/*data_loss_grace=*/absl::Seconds(4));
  Settle();
  etcd_.Wipe();
  Settle();
  EXPECT_EQ(Last(), (Endpoints{"a 127.0.0.1:8001 v1", "b 127.0.0.1:8002 v1"}));
  etcd_.AdvanceTime(absl::Seconds(1));
  etcd_.Put(Key("a"), Record("a", "v2", "127.0.0.1:8001"));  // registers again
  Settle();
  EXPECT_EQ(Last(), (Endpoints{"a 127.0.0.1:8001 v2", "b 127.0.0.1:8002 v1"}));
  etcd_.AdvanceTime(absl::Milliseconds(2999));
  RunHandOffs();
  EXPECT_EQ(Last(), (Endpoints{"a 127.0.0.1:8001 v2", "b 127.0.0.1:8002 v1"}))
      << "b is held until the grace ends";
  etcd_.AdvanceTime(absl::Milliseconds(1));  // grace over: b goes
  RunHandOffs();
  EXPECT_EQ(Last(), Endpoints{"a 127.0.0.1:8001 v2"});
}

TEST_F(EtcdResolverTest, UnreachableEtcdFailsCallsUntilItAnswers) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  etcd_.SetUnavailable(true);
  Start();
  AdvanceUntilNewResult(absl::Seconds(2));
  ASSERT_FALSE(results_->empty());
  const Result& failed = results_->back();
  ASSERT_FALSE(failed.addresses.ok());
  EXPECT_EQ(failed.addresses.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(failed.addresses.status().message(),
                               "vlb: cannot resolve hwholiday.srv.app: "))
      << failed.addresses.status();
  EXPECT_EQ(failed.resolution_note, failed.addresses.status().message());
  EXPECT_EQ(failed.args.GetInt(kMarkerArg), 7);
  etcd_.SetUnavailable(false);
  AdvanceUntilNewResult(absl::Seconds(10));  // the next retry succeeds
  EXPECT_EQ(Last(), Endpoints{"a 127.0.0.1:8001 v1"});
}

TEST_F(EtcdResolverTest, OutageAfterASnapshotKeepsTheAddresses) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  Start();
  Settle();
  const size_t before = results_->size();
  etcd_.SetUnavailable(true);
  etcd_.EndWatches(absl::AbortedError("etcd cancelled the watch"));
  etcd_.AdvanceTime(absl::Seconds(5));  // reads fail, with backoff
  RunHandOffs();
  EXPECT_EQ(results_->size(), before);  // nothing replaces the addresses
  etcd_.SetUnavailable(false);
  etcd_.Put(Key("b"), Record("b", "v1", "127.0.0.1:8002"));
  AdvanceUntilNewResult(absl::Seconds(10));
  EXPECT_EQ(Last(), (Endpoints{"a 127.0.0.1:8001 v1", "b 127.0.0.1:8002 v1"}));
}

TEST_F(EtcdResolverTest, ReresolutionReadsAgain) {
  Start();
  Settle();
  const size_t reads = etcd_.CallsOf("Range").size();
  InSerializer([this] { resolver_->RequestReresolutionLocked(); });
  Settle();
  EXPECT_EQ(etcd_.CallsOf("Range").size(), reads + 1);
}

// The channel may shut the resolver down while a read is in flight: the
// answer arrives later on the shared client and must find nothing to call.
TEST_F(EtcdResolverTest, ShutDownWithAReadInFlightReportsNothing) {
  etcd_.SetSlow(absl::Seconds(1));
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  Start();
  etcd_.RunUntilIdle();
  ASSERT_TRUE(results_->empty());
  Shutdown();
  etcd_.AdvanceTime(absl::Seconds(2));
  etcd_.Put(Key("b"), Record("b", "v1", "127.0.0.1:8002"));
  etcd_.AdvanceTime(absl::Seconds(2));
  EXPECT_EQ(RunHandOffs(), 0u);
  EXPECT_TRUE(results_->empty());
  EXPECT_EQ(etcd_.watch_count(), 0u);
  EXPECT_EQ(client_.use_count(), 1);  // the resolver let go of the client
}

// A result already on its way when the channel shuts the resolver down is
// dropped; the hand-off keeps the resolver alive until it ran.
TEST_F(EtcdResolverTest, ResultInFlightAtShutdownIsNotReported) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  Start();
  etcd_.RunUntilIdle();
  ASSERT_EQ(hand_offs_.size(), 1u);
  Shutdown();
  EXPECT_EQ(RunHandOffs(), 1u);
  EXPECT_TRUE(results_->empty());
  EXPECT_EQ(client_.use_count(), 1);
}

// The default version of the route document a result carries; "none".
std::string RouteOf(const Result& result) {
  const RouteDocumentArg* arg = result.args.GetObject<RouteDocumentArg>();
  if (arg == nullptr) return "none";
  return arg->document().default_version.value_or("?");
}

TEST_F(EtcdResolverTest, ResultsCarryTheRouteDocumentInForce) {
  etcd_.Put(kRoutesKey, R"({"defaultVersion": "v1"})");
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  Start();
  Settle();
  ASSERT_EQ(results_->size(), 1u);
  EXPECT_EQ(RouteOf(results_->back()), "v1");
  EXPECT_EQ(results_->back().args.GetInt(kMarkerArg), 7);
}

TEST_F(EtcdResolverTest, RouteChangesAreDeliveredWithTheSameAddresses) {
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  Start();
  Settle();
  ASSERT_EQ(RouteOf(results_->back()), "none");
  etcd_.Put(kRoutesKey, R"({"defaultVersion": "v2"})");
  Settle();
  EXPECT_EQ(RouteOf(results_->back()), "v2");
  EXPECT_EQ(Last(), Endpoints{"a 127.0.0.1:8001 v1"});
  // An invalid document changes nothing: no new result.
  const size_t before = results_->size();
  etcd_.Put(kRoutesKey, R"({"defaultVersion": 2})");
  Settle();
  EXPECT_EQ(results_->size(), before);
  etcd_.Delete(kRoutesKey);
  Settle();
  EXPECT_EQ(RouteOf(results_->back()), "none");
  EXPECT_EQ(Last(), Endpoints{"a 127.0.0.1:8001 v1"});
}

TEST_F(EtcdResolverTest, RouteDocumentStaysWithLaterAddressChanges) {
  Start();
  Settle();
  ASSERT_EQ(Last(), Endpoints{});
  etcd_.Put(kRoutesKey, R"({"defaultVersion": "v3"})");
  Settle();
  EXPECT_EQ(RouteOf(results_->back()), "v3");
  EXPECT_EQ(Last(), Endpoints{});
  etcd_.Put(Key("a"), Record("a", "v3", "127.0.0.1:8001"));
  Settle();
  EXPECT_EQ(Last(), Endpoints{"a 127.0.0.1:8001 v3"});
  EXPECT_EQ(RouteOf(results_->back()), "v3");
}

TEST_F(EtcdResolverTest, FirstAddressesWaitForTheRouteDocumentsFirstRead) {
  etcd_.Put(kRoutesKey, R"({"defaultVersion": "v1"})");
  etcd_.Put(Key("a"), Record("a", "v1", "127.0.0.1:8001"));
  // The route read goes out first; it answers a second late.
  int ranges = 0;
  etcd_.SetCallHook([&ranges](const testing::FakeCall& call) {
    testing::FakeCallOutcome outcome;
    if (call.method == "Range" && ranges++ == 0) {
      outcome.delay = absl::Seconds(1);
    }
    return outcome;
  });
  Start();
  Settle();
  EXPECT_TRUE(results_->empty()) << "addresses sent before the rules known";
  AdvanceUntilNewResult(absl::Seconds(2));
  ASSERT_EQ(results_->size(), 1u);
  EXPECT_EQ(RouteOf(results_->back()), "v1");
  EXPECT_EQ(Last(), Endpoints{"a 127.0.0.1:8001 v1"});
}

}  // namespace
}  // namespace vlb::grpc_adapter
