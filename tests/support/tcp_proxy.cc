#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vlb::testing {
namespace {

// Per direction; reading stops while this much waits to be written.
constexpr size_t kMaxBuffered = size_t{256} * 1024;
// A connection whose dialer could not be named is asked about again this
// often, for this long: the dialer's pid may not have been recorded yet, and
// /proc/net/tcp, read while sockets come and go, can miss a line.
constexpr absl::Duration kReidentifyEvery = absl::Milliseconds(20);
constexpr absl::Duration kReidentifyFor = absl::Seconds(3);

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

void SetNoDelay(int fd) {
  // The proxy writes what it reads at once; Nagle plus delayed ACKs would
  // add 40 ms stalls to small messages such as raft heartbeats.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// A blocking connect (loopback answers at once, or refuses), bounded in case
// the target's accept queue is full; the socket is non-blocking afterwards.
int ConnectTarget(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval timeout = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    close(fd);
    return -1;
  }
  SetNoDelay(fd);
  return fd;
}

// The inode of the socket bound to `key` in a /proc/net/tcp{,6} table, or
// "" if there is none.
std::string FindSocketInode(const std::string& table, const std::string& key) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid,
        timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >>
        retransmits >> uid >> timeout >> inode;
    if (local == key && !inode.empty() && inode != "0") return inode;
  }
  return "";
}

bool ProcessHoldsSocket(pid_t pid, const std::string& link) {
  const std::string dir = absl::StrCat("/proc/", pid, "/fd");
  DIR* fds = opendir(dir.c_str());
  if (fds == nullptr) return false;
  bool found = false;
  char target[64];
  while (dirent* entry = readdir(fds)) {
    if (entry->d_name[0] == '.') continue;
    const std::string path = absl::StrCat(dir, "/", entry->d_name);
    ssize_t n = readlink(path.c_str(), target, sizeof(target) - 1);
    if (n > 0 && link.compare(0, std::string::npos, target,
                              static_cast<size_t>(n)) == 0) {
      found = true;
      break;
    }
  }
  closedir(fds);
  return found;
}

// Reads into `buffer` until the socket would block; false on a read error.
bool ReadInto(int fd, std::string& buffer, bool& eof) {
  char chunk[16384];
  while (buffer.size() < kMaxBuffered) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      eof = true;
      return true;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
  return true;
}

// Writes as much of `buffer` as the socket takes; false on a write error.
bool Flush(int fd, std::string& buffer) {
  size_t written = 0;
  while (written < buffer.size()) {
    ssize_t n = send(fd, buffer.data() + written, buffer.size() - written,
                     MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  buffer.erase(0, written);
  return true;
}

}  // namespace

int FindSocketOwner(const sockaddr_in& address,
                    const std::vector<pid_t>& pids) {
  // The kernel prints addresses as the raw 32-bit words in hex and the port
  // in host order; IPv4 sockets of dual-stack programs appear in tcp6 as
  // ::ffff:a.b.c.d.
  const uint32_t raw = address.sin_addr.s_addr;
  const int port = ntohs(address.sin_port);
  std::string inode =
      FindSocketInode("/proc/net/tcp", absl::StrFormat("%08X:%04X", raw, port));
  if (inode.empty()) {
    inode = FindSocketInode(
        "/proc/net/tcp6",
        absl::StrFormat("0000000000000000FFFF0000%08X:%04X", raw, port));
  }
  if (inode.empty()) return -1;
  const std::string link = absl::StrCat("socket:[", inode, "]");
  for (size_t i = 0; i < pids.size(); ++i) {
    if (pids[i] > 0 && ProcessHoldsSocket(pids[i], link)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

struct TcpProxy::Connection {
  Connection(int dialer, int target, const sockaddr_in& dialer_address,
             int source_id)
      : a(dialer),
        b(target),
        peer(dialer_address),
        source(source_id),
        accepted_at(absl::Now()) {}
  ~Connection() {
    close(a);
    close(b);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const int a;             // accepted from the dialer
  const int b;             // to the target
  const sockaddr_in peer;  // the dialer's address
  int source;              // kUnknownSource until identified
  const absl::Time accepted_at;
  absl::Time identified_at = accepted_at;  // when `source` was last asked
  std::string a_to_b;                      // read from a, not yet written to b
  std::string b_to_a;
  bool a_eof = false;  // a sent FIN
  bool b_eof = false;
  bool b_shut = false;  // FIN passed on to b
  bool a_shut = false;
};

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(Options options) {
  if (options.target_port <= 0 || options.target_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("TcpProxy: bad target_port ", options.target_port));
  }
  int listen_fd =
      socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return ErrnoError("socket");
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd, 128) != 0 ||
      getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status error = ErrnoError("TcpProxy: listen on 127.0.0.1:0");
    close(listen_fd);
    return error;
  }
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    absl::Status error = ErrnoError("eventfd");
    close(listen_fd);
    return error;
  }
  std::unique_ptr<TcpProxy> proxy(new TcpProxy(std::move(options), listen_fd,
                                               wake_fd, ntohs(addr.sin_port)));
  proxy->thread_ = std::thread([p = proxy.get()] { p->Run(); });
  return proxy;
}

TcpProxy::TcpProxy(Options options, int listen_fd, int wake_fd, int port)
    : options_(std::move(options)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port) {}

TcpProxy::~TcpProxy() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  thread_.join();
  connections_.clear();
  close(listen_fd_);
  close(wake_fd_);
}

std::string TcpProxy::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void TcpProxy::Cut() {
  Cuts cuts;
  cuts.all = true;
  SetCuts(std::move(cuts));
}

void TcpProxy::CutFrom(int source) {
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    cuts_.sources.insert(source);
    generation = ++cut_requested_;
  }
  WaitApplied(generation);
}

void TcpProxy::Restore() { SetCuts(Cuts()); }

void TcpProxy::SetCuts(Cuts cuts) {
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    cuts_ = std::move(cuts);
    generation = ++cut_requested_;
  }
  WaitApplied(generation);
}

TcpProxy::Stats TcpProxy::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void TcpProxy::WaitApplied(uint64_t generation) {
  Wake();
  absl::MutexLock lock(&mu_);
  while (cut_applied_ < generation) applied_.Wait(&mu_);
}

void TcpProxy::Wake() {
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

void TcpProxy::Run() {
  std::vector<pollfd> fds;
  while (true) {
    Cuts cuts;
    uint64_t requested;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      cuts = cuts_;
      requested = cut_requested_;
    }
    const bool asking = Reidentify();
    ApplyCuts(cuts);
    PublishStats();
    {
      absl::MutexLock lock(&mu_);
      cut_applied_ = requested;
      applied_.SignalAll();
    }
    fds.assign({{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    for (const auto& c : connections_) {
      int16_t a_events = 0, b_events = 0;
      if (!c->a_eof && c->a_to_b.size() < kMaxBuffered) a_events |= POLLIN;
      if (!c->b_eof && c->b_to_a.size() < kMaxBuffered) b_events |= POLLIN;
      if (!c->b_to_a.empty()) a_events |= POLLOUT;
      if (!c->a_to_b.empty()) b_events |= POLLOUT;
      fds.push_back({c->a, a_events, 0});
      fds.push_back({c->b, b_events, 0});
    }
    const int timeout_ms =
        asking ? static_cast<int>(absl::ToInt64Milliseconds(kReidentifyEvery))
               : -1;
    if (poll(fds.data(), fds.size(), timeout_ms) < 0) continue;  // EINTR
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t ignored = read(wake_fd_, &count, sizeof(count));
      (void)ignored;
    }
    // Pump before accepting: fds[2 + 2i] belong to connections_[i].
    std::vector<std::unique_ptr<Connection>> kept;
    for (size_t i = 0; i < connections_.size(); ++i) {
      if (Pump(*connections_[i], fds[2 + 2 * i].revents,
               fds[3 + 2 * i].revents)) {
        kept.push_back(std::move(connections_[i]));
      }
    }
    connections_ = std::move(kept);
    if (fds[1].revents != 0) Accept(cuts);
  }
}

bool TcpProxy::Reidentify() {
  if (!options_.identify) return false;
  const absl::Time now = absl::Now();
  bool asking = false;
  for (auto& c : connections_) {
    if (c->source != kUnknownSource || now - c->accepted_at > kReidentifyFor) {
      continue;
    }
    if (now - c->identified_at >= kReidentifyEvery) {
      c->source = options_.identify(c->peer);
      c->identified_at = now;
    }
    asking = asking || c->source == kUnknownSource;
  }
  return asking;
}

void TcpProxy::ApplyCuts(const Cuts& cuts) {
  std::vector<std::unique_ptr<Connection>> kept;
  for (auto& connection : connections_) {
    if (cuts.Covers(connection->source)) {
      ++dropped_;  // ~Connection closes both sockets
    } else {
      kept.push_back(std::move(connection));
    }
  }
  connections_ = std::move(kept);
}

void TcpProxy::Accept(const Cuts& cuts) {
  while (true) {
    sockaddr_in peer = {};
    socklen_t len = sizeof(peer);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, or an error the next poll() reports again
    }
    int source = kUnknownSource;
    if (!cuts.all && options_.identify) source = options_.identify(peer);
    if (cuts.Covers(source)) {
      close(fd);
      ++refused_;
      continue;
    }
    int target = ConnectTarget(options_.target_port);
    if (target < 0) {
      close(fd);  // the target is down: the dialer sees a refusal
      continue;
    }
    SetNoDelay(fd);
    connections_.push_back(
        std::make_unique<Connection>(fd, target, peer, source));
    ++accepted_;
  }
}

bool TcpProxy::Pump(Connection& c, int16_t a_events, int16_t b_events) {
  constexpr int16_t kReadable = POLLIN | POLLHUP;
  if (((a_events | b_events) & (POLLERR | POLLNVAL)) != 0) return false;
  if ((a_events & kReadable) != 0 && !c.a_eof &&
      !ReadInto(c.a, c.a_to_b, c.a_eof)) {
    return false;
  }
  if ((b_events & kReadable) != 0 && !c.b_eof &&
      !ReadInto(c.b, c.b_to_a, c.b_eof)) {
    return false;
  }
  if (!Flush(c.b, c.a_to_b) || !Flush(c.a, c.b_to_a)) return false;
  // Pass half-closes on once everything before them has been written.
  if (c.a_eof && c.a_to_b.empty() && !c.b_shut) {
    shutdown(c.b, SHUT_WR);
    c.b_shut = true;
  }
  if (c.b_eof && c.b_to_a.empty() && !c.a_shut) {
    shutdown(c.a, SHUT_WR);
    c.a_shut = true;
  }
  return !(c.a_shut && c.b_shut);
}

void TcpProxy::PublishStats() {
  Stats stats;
  stats.open = static_cast<int>(connections_.size());
  stats.accepted = accepted_;
  stats.refused = refused_;
  stats.dropped = dropped_;
  for (const auto& connection : connections_) {
    ++stats.open_by_source[connection->source];
  }
  absl::MutexLock lock(&mu_);
  stats_ = std::move(stats);
}

}  // namespace vlb::testing
