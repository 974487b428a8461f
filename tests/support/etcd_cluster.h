// A real multi-member etcd cluster for integration tests, on loopback ports
// it picked itself, each member in its own temp dir (an EtcdProcess).
//
// Peer links go through one TcpProxy per member: member i advertises its
// proxy's address as its peer URL, and the proxy forwards to i's real peer
// port, so every raft message to i passes through proxy i. Partition(i) cuts
// i off both ways while its client port stays reachable, like a member on
// the wrong side of a network split: proxy i refuses everything (nobody
// reaches i), and every other proxy refuses the connections that i itself
// dialed (i reaches nobody). Which member dialed a connection is read from
// the kernel (FindSocketOwner: the process holding the connecting socket),
// so the cut does not depend on etcd's protocol.
//
// Thread-safety: the accessors, Etcdctl(), Status(), Leader() and the
// WaitFor...() methods may be called concurrently with each other; the
// methods that start, stop or partition members may not (call them from the
// test's main thread: a member dies when the thread that started it exits,
// see ChildProcess::Options::kill_with_parent).
#ifndef VLB_TESTS_SUPPORT_ETCD_CLUSTER_H_
#define VLB_TESTS_SUPPORT_ETCD_CLUSTER_H_

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd_process.h"
#include "tcp_proxy.h"

namespace vlb::testing {

class EtcdCluster {
 public:
  struct Options {
    int size = 3;
    // Settings of every member: binaries, extra flags, stop timeout. `name`
    // is the prefix of the member names (<name>-m1...). Ports, membership,
    // fast_election and wait_healthy are set by the cluster.
    EtcdProcess::Options member;
    // etcd's --heartbeat-interval and --election-timeout. etcd's defaults:
    // slower to fail over than EtcdProcess's fast_election, but no spurious
    // elections on a loaded machine.
    absl::Duration heartbeat = absl::Milliseconds(100);
    absl::Duration election_timeout = absl::Seconds(1);
    // How long Start() waits for a quorum, per attempt.
    absl::Duration start_timeout = absl::Seconds(30);
  };

  // One member's view, from `etcdctl endpoint status`.
  struct MemberStatus {
    uint64_t id = 0;
    uint64_t leader = 0;  // 0: it knows no leader
    uint64_t raft_term = 0;
    uint64_t raft_index = 0;
    bool is_leader() const { return id != 0 && id == leader; }
  };

  // Starts all members and waits for a quorum: a leader every member agrees
  // on. Ports are picked free and released before etcd binds them, so the
  // whole start is retried on new ports when a member fails (3 attempts).
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      const Options& options);
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start() {
    return Start(Options());
  }

  // Kills every member (SIGKILL), stops the proxies, deletes the temp dirs.
  ~EtcdCluster();

  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  EtcdProcess& member(int i) { return *members_[i]; }
  const EtcdProcess& member(int i) const { return *members_[i]; }
  TcpProxy& peer_proxy(int i) { return *proxies_[i]; }
  // Client endpoints, "127.0.0.1:<port>", in member order; with `first` >= 0
  // that member's comes first, then the others in order (clients try the
  // first endpoint first).
  std::vector<std::string> endpoints(int first = -1) const;
  // The same joined with ',': "h1:p1,h2:p2,h3:p3", as in etcd://<list>/...
  std::string endpoint_list(int first = -1) const;

  // SIGTERM, then SIGKILL after the member's stop_timeout. Idempotent.
  absl::Status StopMember(int i);
  // SIGKILL, as in a crash. Idempotent.
  void KillMember(int i);
  // Starts a stopped member again with its data on the same ports. Returns
  // once it runs, not once it serves: it cannot while no quorum runs (see
  // WaitForQuorum()).
  absl::Status RestartMember(int i);
  bool running(int i) { return members_[i]->running(); }

  // Cuts member i's peer links both ways, or restores them.
  void Partition(int i);
  void Heal(int i);
  void HealAll();
  bool partitioned(int i) const { return partitioned_[i]; }

  // `etcdctl endpoint status` of member i (about 10 ms; a few seconds when
  // the member is down or hung).
  absl::StatusOr<MemberStatus> Status(int i) const;
  // The member that leads, seen as leader by a majority of the cluster
  // (itself included), waiting up to `timeout` for one.
  absl::StatusOr<int> Leader(absl::Duration timeout = absl::Seconds(15)) const;
  // Waits until there is a leader (see Leader()) and every running member
  // that is not partitioned serves linearizable reads.
  absl::Status WaitForQuorum(absl::Duration timeout = absl::Seconds(30));
  // Waits until member i has no leader (after a partition or a quorum loss:
  // it notices after an election timeout or two).
  absl::Status WaitForNoLeader(
      int i, absl::Duration timeout = absl::Seconds(15)) const;

  // `etcdctl` against member i alone; see EtcdProcess::Etcdctl().
  absl::StatusOr<std::string> Etcdctl(
      int i, const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(10)) const;

  // The end of every member's log, for failure messages.
  std::string LogTails(size_t max_bytes_per_member = 4096) const;

 private:
  EtcdCluster() = default;

  // One start: ports, proxies, members; then waits for a quorum.
  absl::Status TryStart(const Options& options);
  // Gives each proxy the cuts that the partitioned members need.
  void ApplyPartitions();
  void UpdatePid(int i);
  // The member whose process holds the socket at `peer`, or -1.
  int IdentifyPeer(const sockaddr_in& peer);

  std::vector<std::unique_ptr<TcpProxy>> proxies_;
  std::vector<std::unique_ptr<EtcdProcess>> members_;
  std::vector<std::string> names_;
  std::vector<bool> partitioned_;

  absl::Mutex pids_mu_;
  std::vector<pid_t> pids_ ABSL_GUARDED_BY(pids_mu_);  // 0: not running
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_ETCD_CLUSTER_H_
