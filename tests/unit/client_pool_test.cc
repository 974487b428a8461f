// One etcd client per cluster per process: channels to the same cluster
// share it, whatever order their endpoints are listed in.
#include "discovery/client_pool.h"

#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

etcd::ClientOptions Options(std::vector<std::string> endpoints,
                            std::string user = "") {
  etcd::ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.username = user;
  options.password = user.empty() ? "" : "secret";
  return options;
}

TEST(ClientPoolTest, SameClusterSharesOneClient) {
  // Clients connect lazily, so no etcd is needed here.
  auto a = AcquireEtcdClient(Options({"127.0.0.1:2379", "127.0.0.2:2379"}));
  auto b = AcquireEtcdClient(Options({"127.0.0.2:2379", "127.0.0.1:2379"}));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

TEST(ClientPoolTest, OtherClusterOrUserGetsItsOwnClient) {
  auto a = AcquireEtcdClient(Options({"127.0.0.1:2379"}));
  auto other = AcquireEtcdClient(Options({"127.0.0.3:2379"}));
  auto user = AcquireEtcdClient(Options({"127.0.0.1:2379"}, "alice"));
  ASSERT_TRUE(a.ok() && other.ok() && user.ok());
  EXPECT_NE(a->get(), other->get());
  EXPECT_NE(a->get(), user->get());
}

TEST(ClientPoolTest, ReleasedClientIsClosedAndReplaced) {
  std::weak_ptr<etcd::Client> weak;
  {
    auto a = AcquireEtcdClient(Options({"127.0.0.4:2379"}));
    ASSERT_TRUE(a.ok());
    weak = *a;
  }
  EXPECT_TRUE(weak.expired()) << "the pool must not keep clients alive";
  auto b = AcquireEtcdClient(Options({"127.0.0.4:2379"}));
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*b, nullptr);
}

TEST(ClientPoolTest, BadOptionsAreErrors) {
  EXPECT_EQ(AcquireEtcdClient(Options({"no-port"})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vlb::internal
