// Starting without etcd: the opt-in on-disk copy of the instances
// (PluginOptions::snapshot_dir) lets a process route while no etcd member
// answers, and never wins over a live etcd. Real etcd, in-process servers.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "echo.grpc.pb.h"
#include "echo_service.h"
#include "etcd/client.h"
#include "gtest/gtest.h"
#include "integration_env.h"
#include "nlohmann/json.hpp"
#include "vlb/grpc.h"
#include "vlb/service_instance.h"
#include "wait_for.h"

namespace vlb {
namespace {

using ::vlb::testing::EtcdTest;
using ::vlb::testing::ServedEcho;
using ::vlb::testing::WaitFor;

constexpr char kService[] = "vlb.test.snap";
constexpr char kPrefix[] = "/vlb/test/snap/";
constexpr absl::Duration kWait = ::vlb::testing::kEtcdTestWait;

std::string SnapshotDir() {
  static const std::string dir = [] {
    char pattern[] = "/tmp/vlb-snapshot-test-XXXXXX";
    const char* made = mkdtemp(pattern);
    return std::string(made != nullptr ? made : "/tmp");
  }();
  return dir;
}

std::string SnapshotFile() {
  return absl::StrCat(SnapshotDir(), "/", kService, ".json");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Not EtcdGrpcTest: the plugins are registered with a snapshot dir.
class SnapshotTest : public EtcdTest {
 protected:
  static void SetUpTestSuite() {
    PluginOptions options;
    options.snapshot_dir = SnapshotDir();
    ASSERT_TRUE(RegisterGrpcPlugins(options).ok());
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(SnapshotDir(), ignored);
  }

  void SetUp() override {
    std::filesystem::remove(SnapshotFile());
    ASSERT_NO_FATAL_FAILURE(EtcdTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(ConnectClient());
  }

  void TearDown() override {
    client_.reset();
    for (auto& [name, echo] : servers_) echo.server->Shutdown();
  }

  // Starts a server and returns its address.
  std::string StartServer(const std::string& name) {
    const ServedEcho& echo = servers_[name] = ::vlb::testing::ServeEcho(name);
    EXPECT_NE(echo.server, nullptr);
    return echo.address;
  }

  void Put(const std::string& id, const std::string& address) {
    ServiceInstance instance;
    instance.id = id;
    instance.version = "v1";
    instance.address = address;
    absl::Status status = ::vlb::testing::PutServiceRecord(
        *client_, absl::StrCat(kPrefix, id), instance);
    ASSERT_TRUE(status.ok()) << status;
  }

  std::unique_ptr<vlbtest::Echo::Stub> Stub() {
    return vlbtest::Echo::NewStub(ChannelTo(kService));
  }

  static std::string Call(vlbtest::Echo::Stub* stub) {
    return ::vlb::testing::CallEcho(stub);
  }

  std::map<std::string, ServedEcho> servers_;
};

TEST_F(SnapshotTest, ProcessStartingWithoutEtcdRoutesFromTheSavedCopy) {
  Put("saved", StartServer("saved"));
  {
    auto stub = Stub();
    ASSERT_TRUE(WaitFor([&] { return Call(stub.get()) == "saved"; }, kWait));
    ASSERT_TRUE(WaitFor(
        [&] { return absl::StrContains(ReadFile(SnapshotFile()), "saved"); },
        kWait));
  }
  // Every etcd member down: a new channel has only the file.
  ASSERT_TRUE(etcd_->Stop().ok());
  auto stub = Stub();
  EXPECT_TRUE(WaitFor([&] { return Call(stub.get()) == "saved"; }, kWait))
      << Call(stub.get());
}

TEST_F(SnapshotTest, LiveEtcdIsAlwaysPreferredToTheSavedCopy) {
  // A file naming another instance, as if left by an earlier run.
  const std::string stale_address = StartServer("stale");
  const std::string live_address = StartServer("live");
  std::filesystem::create_directories(SnapshotDir());
  ServiceInstance stale;
  stale.id = "stale";
  stale.version = "v1";
  stale.address = stale_address;
  {
    std::ofstream out(SnapshotFile());
    out << R"({"service":")" << kService << R"(","revision":1,"instances":[)"
        << R"({"key":")" << kPrefix << R"(stale","mod_revision":1,"value":)"
        << nlohmann::json(EncodeServiceRecord(stale)).dump() << "}]}";
  }
  Put("live", live_address);
  auto stub = Stub();
  ASSERT_TRUE(WaitFor([&] { return Call(stub.get()) == "live"; }, kWait));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(Call(stub.get()), "live");
  // And the file now says what etcd says.
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string text = ReadFile(SnapshotFile());
        return absl::StrContains(text, "live") &&
               !absl::StrContains(text, "stale");
      },
      kWait));
}

}  // namespace
}  // namespace vlb
