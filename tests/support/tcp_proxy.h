// A loopback TCP forwarder for tests that cut network links: it listens on
// 127.0.0.1:<port it picks> and forwards every connection to 127.0.0.1:<target
// port>, until told to cut them.
//
// A cut drops the connections it covers at once (both sockets closed) and
// refuses new ones (accepted and closed), so the dialer sees a dead link and
// keeps redialing until Restore(). A cut covers every connection (Cut()) or
// only those from given sources (CutFrom()), where a source is what the
// Options::identify callback says a connecting socket belongs to; EtcdCluster
// uses it to tell which etcd member dialed. A connection it cannot name is
// asked about again every 20 ms for 3 s (and counts as unknown meanwhile).
//
// Thread-safety: all methods may be called from any thread. One thread per
// proxy moves the data (poll(2) over all connections); Cut(), CutFrom() and
// Restore() return once that thread has applied them.
#ifndef VLB_TESTS_SUPPORT_TCP_PROXY_H_
#define VLB_TESTS_SUPPORT_TCP_PROXY_H_

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace vlb::testing {

// Which of `pids` holds the TCP socket whose local address is `address` (an
// IPv4 address:port, e.g. what accept() reports as the peer of a loopback
// connection): its index in `pids`, or -1 if none does or the socket is gone.
// Reads /proc/net/tcp{,6} and each process's /proc/<pid>/fd, so it costs a
// few milliseconds; the caller must be allowed to read those (same user).
int FindSocketOwner(const sockaddr_in& address, const std::vector<pid_t>& pids);

class TcpProxy {
 public:
  static constexpr int kUnknownSource = -1;
  // Names the source of a new connection from the connecting socket's
  // address: an id >= 0, or kUnknownSource. Runs on the proxy's thread.
  using SourceIdentifier = std::function<int(const sockaddr_in& peer)>;

  struct Options {
    int target_port = 0;  // on 127.0.0.1; required
    // Optional; without it every connection has kUnknownSource.
    SourceIdentifier identify;
  };

  // Binds the listening port and starts the forwarding thread.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(Options options);

  // Closes every connection and the listening socket; joins the thread.
  ~TcpProxy();

  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"

  // What the proxy refuses: every connection, or those from some sources.
  // While any source is cut, connections of unknown source are cut too: a
  // partition must never leak through a failed identification.
  struct Cuts {
    bool all = false;
    std::set<int> sources;
    bool Covers(int source) const {
      return all || sources.count(source) > 0 ||
             (!sources.empty() && source == kUnknownSource);
    }
  };
  // Replaces the current cuts: drops the open connections they cover and
  // refuses new ones. Lifted cuts do not bring dropped connections back;
  // dialers redial.
  void SetCuts(Cuts cuts);
  // Shorthands: cut everything; add one source; lift every cut.
  void Cut();
  void CutFrom(int source);
  void Restore();

  struct Stats {
    int open = 0;                       // connections being forwarded now
    int64_t accepted = 0;               // connections forwarded since Start()
    int64_t refused = 0;                // connections refused by a cut
    int64_t dropped = 0;                // open connections closed by a cut
    std::map<int, int> open_by_source;  // source id -> open connections
  };
  Stats stats() const;

 private:
  struct Connection;

  TcpProxy(Options options, int listen_fd, int wake_fd, int port);

  // Wakes the forwarding thread and waits until it has applied the cuts of
  // SetCuts() call number `generation`.
  void WaitApplied(uint64_t generation);
  void Wake();
  void Run();
  // Asks again who dialed the connections of unknown source (for a few
  // seconds after each was accepted); true while some are still unknown.
  bool Reidentify();
  void ApplyCuts(const Cuts& cuts);
  void Accept(const Cuts& cuts);
  // Moves data for one connection; false once it should be closed.
  bool Pump(Connection& connection, int16_t a_events, int16_t b_events);
  void PublishStats();

  const Options options_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd that interrupts poll()
  const int port_;

  mutable absl::Mutex mu_;
  Cuts cuts_ ABSL_GUARDED_BY(mu_);
  // SetCuts() calls made and seen by the forwarding thread.
  uint64_t cut_requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t cut_applied_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar applied_;  // signaled when cut_applied_ grows
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Owned by the forwarding thread.
  std::vector<std::unique_ptr<Connection>> connections_;
  int64_t accepted_ = 0;
  int64_t refused_ = 0;
  int64_t dropped_ = 0;

  std::thread thread_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_TCP_PROXY_H_
