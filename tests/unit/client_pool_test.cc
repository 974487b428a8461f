// One etcd client per cluster per process: channels to the same cluster
// share it, whatever order their endpoints are listed in.
#include "discovery/client_pool.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
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

TEST(ClientPoolTest, OtherCredentialsOrTimeoutsGetTheirOwnClient) {
  etcd::ClientOptions base = Options({"127.0.0.5:2379"}, "alice");
  etcd::ClientOptions password = base;
  password.password = "other";
  etcd::ClientOptions timeout = base;
  timeout.request_timeout = absl::Seconds(1);
  auto a = AcquireEtcdClient(base);
  auto b = AcquireEtcdClient(password);
  auto c = AcquireEtcdClient(timeout);
  auto d = AcquireEtcdClient(base);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_NE(a->get(), b->get());
  EXPECT_NE(a->get(), c->get());
  EXPECT_EQ(a->get(), d->get());
}

// A task posted to the client held the last reference, so it was dropped
// on the client's own dispatcher thread, where Close() used to abort.
TEST(ClientPoolTest, LastReferenceMayBeDroppedOnTheDispatcherThread) {
  auto acquired = AcquireEtcdClient(Options({"127.0.0.6:2379"}));
  ASSERT_TRUE(acquired.ok());
  std::shared_ptr<etcd::Client> client = *std::move(acquired);
  std::weak_ptr<etcd::Client> weak = client;
  etcd::Client* raw = client.get();
  raw->RunAfter(absl::Milliseconds(50), [held = std::move(client)]() mutable {
    held.reset();  // the last reference, on the dispatcher thread
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!weak.expired() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(weak.expired());
}

// The last holder may be a thread the closing client needs: a gRPC executor
// thread destroys a channel's resolver, and gRPC queues the client's stream
// completions, which Close() waits for, onto that same thread. Here the
// client's running task needs the releasing thread to move on; an inline
// Close() (waiting for that task) ended only when the task gave up.
TEST(ClientPoolTest, LettingGoDoesNotWaitForTheClose) {
  auto acquired = AcquireEtcdClient(Options({"127.0.0.7:2379"}));
  ASSERT_TRUE(acquired.ok());
  std::shared_ptr<etcd::Client> client = *std::move(acquired);
  struct Signals {
    absl::Notification task_running;
    absl::Notification released;
    absl::Notification task_done;
    bool saw_release = false;  // written before task_done
  };
  auto signals = std::make_shared<Signals>();
  client->RunAfter(absl::ZeroDuration(), [signals] {
    signals->task_running.Notify();
    signals->saw_release =
        signals->released.WaitForNotificationWithTimeout(absl::Seconds(20));
    signals->task_done.Notify();
  });
  ASSERT_TRUE(
      signals->task_running.WaitForNotificationWithTimeout(absl::Seconds(20)));
  client.reset();  // the last reference, while the task runs
  signals->released.Notify();
  ASSERT_TRUE(
      signals->task_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(signals->saw_release)
      << "letting go of the last reference waited for the client to close";
}

TEST(ClientPoolTest, BadOptionsAreErrors) {
  EXPECT_EQ(AcquireEtcdClient(Options({"no-port"})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vlb::internal
