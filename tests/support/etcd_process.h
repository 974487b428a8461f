// A real etcd server for integration tests, in its own temp dir on loopback
// ports it picked itself, so tests can run in parallel (ctest -j).
//
// Not thread-safe, except that Etcdctl() and the accessors may be called
// concurrently with each other (not with Stop/Kill/Restart/Wipe).
#ifndef VLB_TESTS_SUPPORT_ETCD_PROCESS_H_
#define VLB_TESTS_SUPPORT_ETCD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "child_process.h"

namespace vlb::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then
// released): another process may take it before the caller binds it.
absl::StatusOr<int> PickFreePort();

class EtcdProcess {
 public:
  struct Options {
    std::string name = "vlb-test";  // --name, also the member name
    // Appended to the command line, e.g. "--auto-compaction-retention=1",
    // "--heartbeat-interval=10", "--election-timeout=100".
    std::vector<std::string> extra_flags;
    // Adds --heartbeat-interval=10 --election-timeout=100: a single member
    // then elects itself in ~0.1 s instead of ~1 s, on every start and
    // restart. It also lowers etcd's minimum lease TTL (1.5 s -> 0.15 s);
    // turn it off for tests that depend on etcd's default timing.
    bool fast_election = true;
    // Empty: $VLB_ETCD_BIN / $VLB_ETCDCTL_BIN, else looked up in $PATH.
    std::string etcd_binary;
    std::string etcdctl_binary;
    // How long a start may take until `etcdctl endpoint health` passes.
    absl::Duration start_timeout = absl::Seconds(30);
    // How long Stop() waits after SIGTERM before it SIGKILLs.
    absl::Duration stop_timeout = absl::Seconds(10);

    // Membership, for members of a multi-member cluster (EtcdCluster sets
    // these); the defaults make a single-member cluster of its own.
    // Ports to use; 0: picked by Start() (both must be set, or neither).
    int client_port = 0;
    int peer_port = 0;
    // --initial-advertise-peer-urls; empty: the listen peer URL.
    std::string advertise_peer_url;
    // --initial-cluster; empty: "<name>=<advertised peer URL>".
    std::string initial_cluster;
    // --initial-cluster-token; empty: unique per process and port.
    std::string cluster_token;
    // false: Start() and Restart() return once etcd runs, without waiting
    // until it serves requests, which a cluster member cannot do until a
    // quorum of members runs.
    bool wait_healthy = true;

    // TLS on the client URLs (https://) when server_cert_file is set; the
    // peer URLs stay plaintext. etcdctl (health checks, Etcdctl()) then
    // verifies etcd with ca_file and, with client_cert_auth, presents
    // client_cert_file / client_key_file.
    struct Tls {
      std::string server_cert_file;   // --cert-file
      std::string server_key_file;    // --key-file
      std::string ca_file;            // --trusted-ca-file with client_cert_auth
      bool client_cert_auth = false;  // --client-cert-auth
      std::string client_cert_file;
      std::string client_key_file;
    };
    Tls tls;
  };

  // Starts etcd and waits until it is healthy. Ports are picked by binding
  // port 0 and released before etcd binds them, so another process may grab
  // one in between; the start is then retried on new ports (3 attempts).
  // With Options::client_port and peer_port set there is one attempt.
  static absl::StatusOr<std::unique_ptr<EtcdProcess>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<EtcdProcess>> Start() {
    return Start(Options());
  }

  // Kills etcd and deletes the temp dir.
  ~EtcdProcess();

  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // "127.0.0.1:<client port>", the form vlb::EtcdOptions takes.
  std::string endpoint() const;
  // "http://127.0.0.1:<client port>", or "https://..." with TLS.
  std::string client_url() const;
  int client_port() const { return client_port_; }
  const std::string& data_dir() const { return data_dir_; }
  bool running();
  // The pid of the running etcd; 0 when stopped.
  pid_t pid() const { return process_ != nullptr ? process_->pid() : 0; }

  // SIGTERM, then SIGKILL after Options::stop_timeout. Idempotent.
  absl::Status Stop();
  // SIGKILL, as in a crash: no graceful shutdown. Idempotent.
  void Kill();
  // SIGSTOP / SIGCONT: etcd keeps its sockets but answers nothing, like a
  // hung server or a network partition.
  absl::Status Pause();
  absl::Status Resume();
  // Stops etcd if it runs, then starts it again on the same ports with the
  // same data dir (so keys and leases survive) and waits until healthy.
  absl::Status Restart();
  // Kills etcd, deletes its data and starts an empty etcd on the same ports,
  // for "etcd came back empty" tests. The cluster id stays the same (etcd
  // derives it from the flags); the revision starts over at 1 and all
  // leases are gone.
  absl::Status Wipe();

  // Runs `etcdctl --endpoints=<endpoint> args...` (API v3) and returns its
  // stdout. A non-zero exit is an error carrying stderr.
  absl::StatusOr<std::string> Etcdctl(
      const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(10)) const;

  // The end of etcd's log (all runs, with a marker line per start), for
  // failure messages.
  std::string LogTail(size_t max_bytes = 8192) const;

 private:
  explicit EtcdProcess(Options options) : options_(std::move(options)) {}

  // Starts etcd on the current ports and data dir and waits until healthy.
  absl::Status Launch();
  absl::Status WaitHealthy();
  bool tls() const { return !options_.tls.server_cert_file.empty(); }
  // etcd's TLS flags, when Options::tls asks for TLS.
  void AppendTlsFlags(std::vector<std::string>& args) const;

  Options options_;
  std::string etcd_path_;
  std::string etcdctl_path_;
  std::string temp_dir_;
  std::string data_dir_;
  std::string log_path_;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_ETCD_PROCESS_H_
