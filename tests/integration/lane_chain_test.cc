// Lanes across a chain of three real services, gateway -> app -> user, each
// hop forwarding with vlb::PropagateRoutingHeaders over an etcd: channel
// (forwarding_echo.h): the gateway on the async API, the baseline app on the
// callback API, the laned app on the sync API. Real etcd, registrars and
// in-process servers on loopback ports of the OS's choosing.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "echo.grpc.pb.h"
#include "echo_service.h"
#include "forwarding_echo.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration_env.h"
#include "vlb/grpc.h"
#include "vlb/policy_names.h"
#include "vlb/propagation.h"
#include "vlb/registrar.h"
#include "wait_for.h"

namespace vlb {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Each;
using ::testing::EndsWith;
using ::testing::Eq;
using ::testing::Not;
using ::testing::StartsWith;
using ::vlb::testing::AsyncForwarder;
using ::vlb::testing::CallbackForwarder;
using ::vlb::testing::EchoService;
using ::vlb::testing::EtcdGrpcTest;
using ::vlb::testing::NextHop;
using ::vlb::testing::SyncForwarder;
using ::vlb::testing::WaitFor;

constexpr char kGatewayService[] = "vlb.test.gateway";
constexpr char kAppService[] = "vlb.test.app";
constexpr char kUserService[] = "vlb.test.user";
constexpr char kLane[] = "feature-x";
constexpr absl::Duration kWait = ::vlb::testing::kEtcdTestWait;
// Enough calls that a policy spreading them over the wrong set of two or
// three instances would show it.
constexpr int kCalls = 20;

// The paths a call without a lane (or with a lane nobody has) may take.
auto IsBaselinePath() {
  return AnyOf(Eq("gateway>app>user-v1"), Eq("gateway>app>user-v2"));
}

// One server registered in etcd; `service` or `async` is set.
struct Instance {
  std::unique_ptr<grpc::Service> service;
  std::unique_ptr<AsyncForwarder> async;
  std::unique_ptr<grpc::Server> server;
  // Outlives the registrar, whose callback notifies it.
  std::unique_ptr<absl::Notification> registered;
  std::unique_ptr<Registrar> registrar;
  std::string address;
};

class LaneChainTest : public EtcdGrpcTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EtcdGrpcTest::SetUp());
    AddUser("user-v1", "v1", "");
    AddUser("user-v2", "v2", "");
    AddUser("user-x", "v1", kLane);
    Instance app;
    app.service = std::make_unique<CallbackForwarder>("app", ToUser());
    app_ = Serve(std::move(app), kAppService, "app", "v1", "");
    Instance gateway;
    gateway.async = std::make_unique<AsyncForwarder>("gateway", ToApp());
    gateway_ = Serve(std::move(gateway), kGatewayService, "gateway", "v1", "");
  }

  void TearDown() override {
    for (auto& instance : instances_) {
      if (instance->registrar != nullptr) instance->registrar->Stop();
      if (instance->server != nullptr) instance->server->Shutdown();
      if (instance->async != nullptr) instance->async->Stop();
    }
  }

  void AddUser(const std::string& id, const std::string& version,
               const std::string& lane) {
    Instance user;
    user.service = std::make_unique<EchoService>(id);
    Serve(std::move(user), kUserService, id, version, lane);
  }

  // The app instance of lane feature-x, on the sync API.
  const Instance* AddLanedApp() {
    Instance app;
    app.service = std::make_unique<SyncForwarder>("app-x", ToUser());
    return Serve(std::move(app), kAppService, "app-x", "v1", kLane);
  }

  // Starts `instance`'s server on a loopback port and registers it as
  // instance `id` of `service`.
  const Instance* Serve(Instance instance, const std::string& service,
                        const std::string& id, const std::string& version,
                        const std::string& lane) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(instance.async != nullptr
                                ? instance.async->service()
                                : instance.service.get());
    std::unique_ptr<grpc::ServerCompletionQueue> queue;
    if (instance.async != nullptr) queue = builder.AddCompletionQueue();
    instance.server = builder.BuildAndStart();
    EXPECT_NE(instance.server, nullptr);
    if (instance.async != nullptr) instance.async->Start(std::move(queue));
    instance.address = absl::StrCat("127.0.0.1:", port);
    instances_.push_back(std::make_unique<Instance>(std::move(instance)));
    Instance* served = instances_.back().get();
    RegistrarOptions options = ::vlb::testing::Registration(
        {etcd_->endpoint()}, service, id, version, served->address);
    options.lane = lane;
    served->registered = std::make_unique<absl::Notification>();
    auto registrar = Registrar::Create(
        options, [registered = served->registered.get()](RegistrarEvent event,
                                                         const absl::Status&) {
          if (event == RegistrarEvent::kRegistered) registered->Notify();
        });
    EXPECT_TRUE(registrar.ok()) << registrar.status();
    if (!registrar.ok()) return served;
    served->registrar = *std::move(registrar);
    // On a loaded machine the first attempt can fail (etcd's client gives a
    // connection 100 ms); the registrar goes on trying in the background.
    const absl::Status started = served->registrar->Start();
    EXPECT_TRUE(served->registered->WaitForNotificationWithTimeout(kWait))
        << id << " not registered; first attempt: " << started;
    return served;
  }

  // Every hop carries the lane and the version.
  NextHop Next(const std::string& service,
               const VersionPolicyOptions& options) {
    return NextHop{vlbtest::Echo::NewStub(ChannelTo(service, options)),
                   RoutingHeaders{{kDefaultLaneHeader, kDefaultVersionHeader}}};
  }
  // app has only v1: a version asked for user must not fail at app.
  NextHop ToApp() {
    VersionPolicyOptions any_app;
    any_app.fallback = {"*"};
    return Next(kAppService, any_app);
  }
  NextHop ToUser() { return Next(kUserService, VersionPolicyOptions{}); }

  // One call entering the chain at `entry` (directly, not through etcd)
  // with `metadata`: the path it took, or "ERR <message>".
  std::string Call(const Instance* entry,
                   const std::map<std::string, std::string>& metadata) {
    std::unique_ptr<vlbtest::Echo::Stub>& stub = stubs_[entry->address];
    if (stub == nullptr) {
      stub = vlbtest::Echo::NewStub(grpc::CreateChannel(
          entry->address, grpc::InsecureChannelCredentials()));
    }
    grpc::ClientContext context;
    for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    vlbtest::EchoRequest request;
    vlbtest::EchoReply reply;
    grpc::Status status = stub->Unary(&context, request, &reply);
    return status.ok() ? reply.instance()
                       : absl::StrCat("ERR ", status.error_message());
  }

  // A call at the gateway with lane `lane` ("": none).
  std::string AtGateway(const std::string& lane) {
    if (lane.empty()) return Call(gateway_, {});
    return Call(gateway_, {{kDefaultLaneHeader, lane}});
  }

  // The paths of kCalls calls at the gateway with lane `lane`.
  std::vector<std::string> PathsAtGateway(const std::string& lane) {
    std::vector<std::string> paths;
    paths.reserve(kCalls);
    for (int i = 0; i < kCalls; ++i) paths.push_back(AtGateway(lane));
    return paths;
  }

  // True once a lane call at the gateway took `path`: every instance on it
  // is READY in the channels of the hops before it.
  bool LaneCallsReach(const std::string& path) {
    return WaitFor([&] { return AtGateway(kLane) == path; }, kWait);
  }

  std::vector<std::unique_ptr<Instance>> instances_;
  const Instance* gateway_ = nullptr;
  const Instance* app_ = nullptr;
  std::map<std::string, std::unique_ptr<vlbtest::Echo::Stub>> stubs_;
};

// The propagated version picks user's version, whichever server API the
// forwarding hop uses.
TEST_F(LaneChainTest, VersionHeaderReachesTheUserVersionThroughEveryApi) {
  const Instance* laned_app = AddLanedApp();
  const std::vector<std::pair<const Instance*, std::string>> entries = {
      {gateway_, "gateway>"},  // async API
      {app_, "app>"},          // callback API
      {laned_app, "app-x>"},   // sync API
  };
  for (const auto& entry_and_hop : entries) {
    const Instance* entry = entry_and_hop.first;
    const std::string& hop = entry_and_hop.second;
    SCOPED_TRACE(hop);
    const std::map<std::string, std::string> v2 = {
        {kDefaultVersionHeader, "v2"}};
    ASSERT_TRUE(WaitFor(
        [&] { return absl::EndsWith(Call(entry, v2), ">user-v2"); }, kWait));
    for (int i = 0; i < kCalls; ++i) {
      const std::string path = Call(entry, v2);
      EXPECT_THAT(path, StartsWith(hop));
      EXPECT_THAT(path, EndsWith(">user-v2"));
      EXPECT_THAT(Call(entry, {{kDefaultVersionHeader, "v1"}}),
                  AllOf(StartsWith(hop), Not(EndsWith("user-v2"))));
    }
  }
}

// (a) app has no instance of the lane: app's baseline serves the call, and
// the lane still reaches user's laned instance.
TEST_F(LaneChainTest, LaneReachesTheLanedUserThroughTheBaselineApp) {
  ASSERT_TRUE(LaneCallsReach("gateway>app>user-x"));
  EXPECT_THAT(PathsAtGateway(kLane), Each(Eq("gateway>app>user-x")));
}

// (b) Calls without a lane never reach laned instances, even when those are
// READY (shown by a lane call reaching one).
TEST_F(LaneChainTest, CallsWithoutALaneReachOnlyTheBaseline) {
  ASSERT_TRUE(LaneCallsReach("gateway>app>user-x"));
  EXPECT_THAT(PathsAtGateway(""), Each(IsBaselinePath()));
}

// (c) A lane no instance has: the baseline serves it.
TEST_F(LaneChainTest, UnknownLaneFallsBackToTheBaseline) {
  ASSERT_TRUE(LaneCallsReach("gateway>app>user-x"));
  EXPECT_THAT(PathsAtGateway("feature-nobody-has"), Each(IsBaselinePath()));
}

// (d) Once app has an instance of the lane, lane calls go through it, and
// calls without a lane still do not.
TEST_F(LaneChainTest, LaneGoesThroughTheLanedAppOnceThereIsOne) {
  AddLanedApp();
  ASSERT_TRUE(LaneCallsReach("gateway>app-x>user-x"));
  EXPECT_THAT(PathsAtGateway(kLane), Each(Eq("gateway>app-x>user-x")));
  EXPECT_THAT(PathsAtGateway(""), Each(IsBaselinePath()));
}

}  // namespace
}  // namespace vlb
