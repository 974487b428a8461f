#include "etcd_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "child_process.h"

namespace vlb::testing {
namespace {

constexpr int kStartAttempts = 3;

}  // namespace

absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  int error = errno;
  close(fd);
  if (port < 0) {
    return absl::InternalError(
        absl::StrCat("bind 127.0.0.1:0: ", std::strerror(error)));
  }
  return port;
}

namespace {

bool PortAccepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // Loopback connects succeed or are refused at once, so blocking is fine.
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string ResolveBinary(const std::string& configured, const char* env_var,
                          const char* fallback) {
  if (!configured.empty()) return configured;
  const char* from_env = getenv(env_var);
  if (from_env != nullptr && *from_env != '\0') return from_env;
  return fallback;
}

void AppendToLog(const std::string& path, const std::string& line) {
  std::ofstream log(path, std::ios::app);
  log << line << "\n";
}

constexpr char kDirPrefix[] = "vlb-etcd-";
constexpr char kOwnerFile[] = "owner.pid";

// A test that crashes or is killed by ctest's timeout never runs our
// destructor (its etcd dies with it, see ChildProcess::Options), so its temp
// dir would pile up. Each dir records its owner's pid; dirs of owners that
// no longer exist are removed here. Dirs without the file may be in the
// middle of being set up and are left alone.
void RemoveStaleDirs(const std::string& base) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(base, error)) {
    if (entry.path().filename().string().rfind(kDirPrefix, 0) != 0) continue;
    std::ifstream owner_file(entry.path() / kOwnerFile);
    pid_t owner = 0;
    if (!(owner_file >> owner) || owner <= 0) continue;
    if (kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    std::filesystem::remove_all(entry.path(), ignored);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Start(
    Options options) {
  std::unique_ptr<EtcdProcess> etcd(new EtcdProcess(std::move(options)));
  absl::StatusOr<std::string> etcd_path = FindExecutable(
      ResolveBinary(etcd->options_.etcd_binary, "VLB_ETCD_BIN", "etcd"));
  if (!etcd_path.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(etcd_path.status().message(),
                     "; install etcd-server or set VLB_ETCD_BIN"));
  }
  absl::StatusOr<std::string> etcdctl_path = FindExecutable(ResolveBinary(
      etcd->options_.etcdctl_binary, "VLB_ETCDCTL_BIN", "etcdctl"));
  if (!etcdctl_path.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(etcdctl_path.status().message(),
                     "; install etcd-client or set VLB_ETCDCTL_BIN"));
  }
  etcd->etcd_path_ = *std::move(etcd_path);
  etcd->etcdctl_path_ = *std::move(etcdctl_path);

  const char* tmp = getenv("TMPDIR");
  const std::string base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  RemoveStaleDirs(base);
  std::string dir_template = absl::StrCat(base, "/", kDirPrefix, "XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp ", dir_template, ": ", std::strerror(errno)));
  }
  etcd->temp_dir_ = dir_template;
  std::ofstream(absl::StrCat(etcd->temp_dir_, "/", kOwnerFile)) << getpid();
  etcd->data_dir_ = absl::StrCat(etcd->temp_dir_, "/data");
  etcd->log_path_ = absl::StrCat(etcd->temp_dir_, "/etcd.log");

  const bool fixed_ports =
      etcd->options_.client_port != 0 && etcd->options_.peer_port != 0;
  const int attempts = fixed_ports ? 1 : kStartAttempts;
  absl::Status status;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (fixed_ports) {
      etcd->client_port_ = etcd->options_.client_port;
      etcd->peer_port_ = etcd->options_.peer_port;
    } else {
      absl::StatusOr<int> client_port = PickFreePort();
      absl::StatusOr<int> peer_port = PickFreePort();
      if (!client_port.ok()) return client_port.status();
      if (!peer_port.ok()) return peer_port.status();
      if (*client_port == *peer_port) continue;
      etcd->client_port_ = *client_port;
      etcd->peer_port_ = *peer_port;
    }
    status = etcd->Launch();
    if (status.ok()) return etcd;
    etcd->Kill();
    // A half-started member may have written its identity for the old
    // ports; the next attempt must start from nothing.
    std::error_code ignored;
    std::filesystem::remove_all(etcd->data_dir_, ignored);
  }
  return absl::UnavailableError(absl::StrCat(
      "etcd did not start after ", attempts, " attempt(s); last error: ",
      status.message(), "\n--- etcd log ---\n", etcd->LogTail()));
}

EtcdProcess::~EtcdProcess() {
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(temp_dir_, ignored);
}

std::string EtcdProcess::endpoint() const {
  return absl::StrCat("127.0.0.1:", client_port_);
}

std::string EtcdProcess::client_url() const {
  return absl::StrCat(tls() ? "https://" : "http://", endpoint());
}

bool EtcdProcess::running() {
  return process_ != nullptr && process_->Running();
}

absl::Status EtcdProcess::Launch() {
  const std::string peer_url = absl::StrCat("http://127.0.0.1:", peer_port_);
  const std::string advertised_peer_url = options_.advertise_peer_url.empty()
                                              ? peer_url
                                              : options_.advertise_peer_url;
  std::vector<std::string> args = {
      absl::StrCat("--name=", options_.name),
      absl::StrCat("--data-dir=", data_dir_),
      absl::StrCat("--listen-client-urls=", client_url()),
      absl::StrCat("--advertise-client-urls=", client_url()),
      absl::StrCat("--listen-peer-urls=", peer_url),
      absl::StrCat("--initial-advertise-peer-urls=", advertised_peer_url),
      absl::StrCat("--initial-cluster=",
                   options_.initial_cluster.empty()
                       ? absl::StrCat(options_.name, "=", advertised_peer_url)
                       : options_.initial_cluster),
      // Unique per instance, so two test clusters could never join.
      absl::StrCat("--initial-cluster-token=",
                   options_.cluster_token.empty()
                       ? absl::StrCat("vlb-", client_port_, "-", getpid())
                       : options_.cluster_token),
      "--initial-cluster-state=new",
      // capnslog, 3.4's default, is deprecated and warns about it.
      "--logger=zap",
      "--log-outputs=stderr",
  };
  if (options_.fast_election) {
    args.push_back("--heartbeat-interval=10");
    args.push_back("--election-timeout=100");
  }
  AppendTlsFlags(args);
  args.insert(args.end(), options_.extra_flags.begin(),
              options_.extra_flags.end());
  AppendToLog(
      log_path_,
      absl::StrCat("=== vlb EtcdProcess: ", absl::FormatTime(absl::Now()),
                   " starting ", etcd_path_, " ", absl::StrJoin(args, " ")));
  ChildProcess::Options child;
  child.program = etcd_path_;
  child.args = std::move(args);
  child.output_path = log_path_;
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Spawn(std::move(child));
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  if (!options_.wait_healthy) return absl::OkStatus();
  return WaitHealthy();
}

void EtcdProcess::AppendTlsFlags(std::vector<std::string>& args) const {
  if (!tls()) return;
  const Options::Tls& tls = options_.tls;
  args.push_back(absl::StrCat("--cert-file=", tls.server_cert_file));
  args.push_back(absl::StrCat("--key-file=", tls.server_key_file));
  if (tls.client_cert_auth) {
    args.push_back(absl::StrCat("--trusted-ca-file=", tls.ca_file));
    args.push_back("--client-cert-auth");
  }
}

absl::Status EtcdProcess::WaitHealthy() {
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  std::string last_error = "client port never accepted a connection";
  while (true) {
    if (!process_->Running()) {
      absl::StatusOr<int> status = process_->Wait(absl::ZeroDuration());
      return absl::UnavailableError(
          absl::StrCat("etcd exited during startup (wait status ",
                       status.value_or(-1), "); see its log"));
    }
    // The TCP probe is cheap; etcdctl (a process spawn) only runs once the
    // port is open. The health check commits through raft, so it passes only
    // once the member has become leader and serves requests.
    if (PortAccepts(client_port_)) {
      absl::StatusOr<std::string> health = Etcdctl(
          {"endpoint", "health", "--dial-timeout=1s", "--command-timeout=2s"},
          absl::Seconds(5));
      if (health.ok()) return absl::OkStatus();
      last_error = std::string(health.status().message());
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "etcd not healthy after ",
          absl::FormatDuration(options_.start_timeout), ": ", last_error));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status EtcdProcess::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  (void)process_->Kill(SIGTERM);
  // A paused etcd would not act on SIGTERM until continued.
  (void)process_->Kill(SIGCONT);
  absl::StatusOr<int> status = process_->Wait(options_.stop_timeout);
  absl::Status result = absl::OkStatus();
  if (!status.ok()) {
    process_->Kill(SIGKILL).IgnoreError();
    (void)process_->Wait(absl::InfiniteDuration());
    result = absl::DeadlineExceededError(absl::StrCat(
        "etcd ignored SIGTERM for ",
        absl::FormatDuration(options_.stop_timeout), "; killed it"));
  }
  process_.reset();
  return result;
}

void EtcdProcess::Kill() {
  // ~ChildProcess SIGKILLs and reaps.
  process_.reset();
}

absl::Status EtcdProcess::Pause() {
  if (process_ == nullptr) return absl::FailedPreconditionError("not running");
  return process_->Suspend(absl::Seconds(10));
}

absl::Status EtcdProcess::Resume() {
  if (process_ == nullptr) return absl::FailedPreconditionError("not running");
  return process_->Kill(SIGCONT);
}

absl::Status EtcdProcess::Restart() {
  // A Stop() that had to SIGKILL still leaves etcd stopped, which is all a
  // restart needs.
  Stop().IgnoreError();
  absl::Status status = Launch();
  if (!status.ok()) {
    Kill();
    return absl::UnavailableError(absl::StrCat(
        "etcd restart on ", endpoint(), " failed: ", status.message(),
        "\n--- etcd log ---\n", LogTail()));
  }
  return status;
}

absl::Status EtcdProcess::Wipe() {
  Kill();
  std::error_code error;
  std::filesystem::remove_all(data_dir_, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("removing ", data_dir_, ": ", error.message()));
  }
  return Restart();
}

absl::StatusOr<std::string> EtcdProcess::Etcdctl(
    const std::vector<std::string>& args, absl::Duration timeout) const {
  std::vector<std::string> full_args = {
      absl::StrCat("--endpoints=", tls() ? client_url() : endpoint())};
  if (tls()) {
    const Options::Tls& tls = options_.tls;
    full_args.push_back(absl::StrCat("--cacert=", tls.ca_file));
    if (!tls.client_cert_file.empty()) {
      full_args.push_back(absl::StrCat("--cert=", tls.client_cert_file));
      full_args.push_back(absl::StrCat("--key=", tls.client_key_file));
    }
  }
  full_args.insert(full_args.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> result =
      RunCommand(etcdctl_path_, full_args, {{"ETCDCTL_API", "3"}}, timeout);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("etcdctl ", absl::StrJoin(full_args, " "), " exited with ",
                     result->exit_code, ": ", result->stderr_text));
  }
  return std::move(result->stdout_text);
}

std::string EtcdProcess::LogTail(size_t max_bytes) const {
  std::ifstream log(log_path_, std::ios::binary);
  if (!log) return "(no log)";
  std::stringstream contents;
  contents << log.rdbuf();
  std::string text = contents.str();
  if (text.size() <= max_bytes) return text;
  std::string tail = text.substr(text.size() - max_bytes);
  // Start at a line boundary so the first line is not a fragment.
  size_t newline = tail.find('\n');
  if (newline != std::string::npos) tail.erase(0, newline + 1);
  return tail;
}

}  // namespace vlb::testing
