// The test harness for multi-member etcd: TcpProxy on its own, then
// EtcdCluster against real etcd members. Partitions are judged by what etcd
// itself reports (who leads, who can commit), not by what the proxies did.
#include "etcd_cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tcp_proxy.h"
#include "wait_for.h"

namespace vlb::testing {
namespace {

using ::testing::Contains;
using ::testing::Key;

constexpr absl::Duration kWait = absl::Seconds(15);

sockaddr_in LoopbackAddress(int port) {
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Connects to 127.0.0.1:port with a 5 s receive timeout; -1 on failure.
int Dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr = LoopbackAddress(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `text` and reads the echo: the text, "EOF" or "ERR".
std::string RoundTrip(int fd, const std::string& text) {
  if (send(fd, text.data(), text.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(text.size())) {
    return "ERR";
  }
  std::string echoed;
  char buffer[256];
  while (echoed.size() < text.size()) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) return "EOF";
    if (n < 0) return "ERR";
    echoed.append(buffer, static_cast<size_t>(n));
  }
  return echoed;
}

// A TCP echo server on 127.0.0.1, one thread per connection.
class EchoListener {
 public:
  EchoListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = LoopbackAddress(0);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "echo listener: " << std::strerror(errno);
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~EchoListener() {
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(fd_);
    for (std::thread& t : echoers_) t.join();
  }
  int port() const { return port_; }

 private:
  void AcceptLoop() {
    while (true) {
      int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      echoers_.emplace_back([fd] {
        char buffer[4096];
        ssize_t n;
        while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
          send(fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
        }
        close(fd);
      });
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::vector<std::thread> echoers_;  // joined once the listener is closed
};

std::unique_ptr<TcpProxy> StartProxy(int target_port,
                                     TcpProxy::SourceIdentifier identify = {}) {
  TcpProxy::Options options;
  options.target_port = target_port;
  options.identify = std::move(identify);
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy =
      TcpProxy::Start(std::move(options));
  EXPECT_TRUE(proxy.ok()) << proxy.status();
  return proxy.ok() ? *std::move(proxy) : nullptr;
}

TEST(TcpProxyTest, ForwardsUntilCutAndAgainAfterRestore) {
  EchoListener echo;
  std::unique_ptr<TcpProxy> proxy = StartProxy(echo.port());
  ASSERT_NE(proxy, nullptr);
  int before = Dial(proxy->port());
  ASSERT_GE(before, 0);
  EXPECT_EQ(RoundTrip(before, "hello"), "hello");
  EXPECT_EQ(proxy->stats().open, 1);

  proxy->Cut();
  // The open connection is gone, and a new one is accepted then closed.
  EXPECT_EQ(RoundTrip(before, "again"), "EOF");
  int during = Dial(proxy->port());
  ASSERT_GE(during, 0);
  EXPECT_THAT(RoundTrip(during, "x"), ::testing::AnyOf("EOF", "ERR"));
  // The dialer sees the close before the proxy publishes its counters.
  EXPECT_TRUE(
      WaitFor([&] { return proxy->stats().refused == 1; }, absl::Seconds(10)));
  EXPECT_EQ(proxy->stats().open, 0);
  EXPECT_EQ(proxy->stats().dropped, 1);

  proxy->Restore();
  int after = Dial(proxy->port());
  ASSERT_GE(after, 0);
  EXPECT_EQ(RoundTrip(after, "back"), "back");
  close(before);
  close(during);
  close(after);
}

TEST(TcpProxyTest, FindSocketOwnerNamesTheProcessHoldingTheSocket) {
  EchoListener echo;
  int fd = Dial(echo.port());
  ASSERT_GE(fd, 0);
  sockaddr_in local = {};
  socklen_t len = sizeof(local);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len), 0);
  // pid 1 holds no socket of ours; this process does.
  EXPECT_EQ(FindSocketOwner(local, {1, getpid()}), 1);
  EXPECT_EQ(FindSocketOwner(local, {1}), -1);
  close(fd);
  EXPECT_EQ(FindSocketOwner(local, {getpid()}), -1);
}

TEST(TcpProxyTest, CutFromDropsOnlyThatSource) {
  EchoListener echo;
  // Source 0 is this process; nothing here comes from source 1.
  std::unique_ptr<TcpProxy> proxy =
      StartProxy(echo.port(), [](const sockaddr_in& peer) {
        return FindSocketOwner(peer, {getpid()});
      });
  ASSERT_NE(proxy, nullptr);
  int fd = Dial(proxy->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(RoundTrip(fd, "a"), "a");
  EXPECT_THAT(proxy->stats().open_by_source, Contains(Key(0)));

  proxy->CutFrom(1);
  EXPECT_EQ(RoundTrip(fd, "b"), "b");
  proxy->CutFrom(0);
  EXPECT_EQ(RoundTrip(fd, "c"), "EOF");
  close(fd);
}

// --- EtcdCluster ---

std::unique_ptr<EtcdCluster> StartCluster() {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start();
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

absl::Status Put(const EtcdCluster& cluster, int i, const std::string& key,
                 const std::string& value) {
  return cluster
      .Etcdctl(i,
               {"put", key, value, "--dial-timeout=1s", "--command-timeout=2s"})
      .status();
}

// A linearizable read through member i: the value, "" if absent.
absl::StatusOr<std::string> Get(const EtcdCluster& cluster, int i,
                                const std::string& key) {
  return cluster.Etcdctl(i, {"get", key, "--print-value-only",
                             "--dial-timeout=1s", "--command-timeout=2s"});
}

// Any member other than `a` and `b`.
int Other(const EtcdCluster& cluster, int a, int b = -1) {
  for (int i = 0; i < cluster.size(); ++i) {
    if (i != a && i != b) return i;
  }
  return -1;
}

TEST(EtcdClusterTest, ElectsOneLeaderAndReplicates) {
  std::unique_ptr<EtcdCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  ASSERT_EQ(cluster->size(), 3);
  absl::StatusOr<int> leader = cluster->Leader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<EtcdCluster::MemberStatus> status = cluster->Status(i);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->is_leader(), i == *leader);
  }
  ASSERT_TRUE(Put(*cluster, 0, "k", "v").ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(*cluster, i, "k").value(), "v\n");
  // The peer links run through the proxies, and each proxy knows which
  // member dialed each of its connections: the other two. A connection may
  // be counted as unknown for a moment (its dialer closed it before the
  // proxy looked, or a process of another test dialed a port it once used
  // and bind() handed to this proxy), so wait for the settled state.
  for (int i = 0; i < 3; ++i) {
    std::map<int, int> sources;
    const bool settled = WaitFor(
        [&] {
          sources = cluster->peer_proxy(i).stats().open_by_source;
          std::set<int> keys;
          for (const auto& [source, count] : sources) keys.insert(source);
          std::set<int> others;
          for (int k = 0; k < 3; ++k) {
            if (k != i) others.insert(k);
          }
          return keys == others;
        },
        kWait);
    EXPECT_TRUE(settled) << "proxy " << i << " sees dialers "
                         << ::testing::PrintToString(sources);
  }
  EXPECT_EQ(cluster->endpoint_list(2),
            absl::StrCat(cluster->member(2).endpoint(), ",",
                         cluster->member(0).endpoint(), ",",
                         cluster->member(1).endpoint()));
}

TEST(EtcdClusterTest, KilledLeaderIsReplacedAndCatchesUpOnRestart) {
  std::unique_ptr<EtcdCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  const int old_leader = cluster->Leader().value();
  cluster->KillMember(old_leader);
  absl::StatusOr<int> leader = cluster->Leader(kWait);
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_NE(*leader, old_leader);
  ASSERT_TRUE(Put(*cluster, *leader, "while-down", "1").ok());

  ASSERT_TRUE(cluster->RestartMember(old_leader).ok());
  ASSERT_TRUE(cluster->WaitForQuorum().ok()) << cluster->LogTails();
  EXPECT_EQ(Get(*cluster, old_leader, "while-down").value(), "1\n");
}

// The partition is real: the cut member's client port answers, but it loses
// its leader and cannot commit, while the other two go on; it catches up
// once healed.
TEST(EtcdClusterTest, PartitionedFollowerCannotCommitTheOthersCan) {
  std::unique_ptr<EtcdCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  const int leader = cluster->Leader().value();
  const int cut = Other(*cluster, leader);
  cluster->Partition(cut);
  ASSERT_TRUE(cluster->WaitForNoLeader(cut, kWait).ok()) << cluster->LogTails();
  absl::StatusOr<int> majority_leader = cluster->Leader(kWait);
  ASSERT_TRUE(majority_leader.ok()) << majority_leader.status();
  EXPECT_NE(*majority_leader, cut);

  const int healthy = Other(*cluster, cut, *majority_leader);
  EXPECT_TRUE(Put(*cluster, healthy, "during", "majority").ok());
  EXPECT_EQ(Get(*cluster, *majority_leader, "during").value(), "majority\n");
  EXPECT_FALSE(Put(*cluster, cut, "during", "minority").ok());
  EXPECT_FALSE(Get(*cluster, cut, "during").ok());
  // Its client port still answers what needs no quorum.
  EXPECT_TRUE(cluster->Status(cut).ok());
  EXPECT_TRUE(cluster->Etcdctl(cut, {"get", "during", "--consistency=s"}).ok());

  cluster->Heal(cut);
  ASSERT_TRUE(cluster->WaitForQuorum().ok()) << cluster->LogTails();
  EXPECT_EQ(Get(*cluster, cut, "during").value(), "majority\n");
}

TEST(EtcdClusterTest, PartitionedLeaderStepsDown) {
  std::unique_ptr<EtcdCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  const int old_leader = cluster->Leader().value();
  cluster->Partition(old_leader);
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<int> leader = cluster->Leader(absl::ZeroDuration());
        return leader.ok() && *leader != old_leader;
      },
      kWait))
      << cluster->LogTails();
  // etcd's check-quorum makes a leader that hears from no majority resign.
  ASSERT_TRUE(cluster->WaitForNoLeader(old_leader, kWait).ok());
  EXPECT_TRUE(Put(*cluster, Other(*cluster, old_leader), "k", "v").ok());
  EXPECT_FALSE(Put(*cluster, old_leader, "k", "lost").ok());

  cluster->HealAll();
  ASSERT_TRUE(cluster->WaitForQuorum().ok()) << cluster->LogTails();
  EXPECT_EQ(Get(*cluster, old_leader, "k").value(), "v\n");
}

TEST(EtcdClusterTest, QuorumLostWithTwoStoppedReturnsWithThem) {
  std::unique_ptr<EtcdCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->StopMember(0).ok());
  ASSERT_TRUE(cluster->StopMember(1).ok());
  EXPECT_FALSE(cluster->running(0));
  ASSERT_TRUE(cluster->WaitForNoLeader(2, kWait).ok());
  EXPECT_FALSE(Put(*cluster, 2, "k", "v").ok());

  ASSERT_TRUE(cluster->RestartMember(0).ok());
  ASSERT_TRUE(cluster->RestartMember(1).ok());
  ASSERT_TRUE(cluster->WaitForQuorum().ok()) << cluster->LogTails();
  EXPECT_TRUE(Put(*cluster, 2, "k", "v").ok());
}

}  // namespace
}  // namespace vlb::testing
