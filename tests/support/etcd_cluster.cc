#include "etcd_cluster.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "etcd_process.h"
#include "nlohmann/json.hpp"
#include "tcp_proxy.h"

namespace vlb::testing {
namespace {

constexpr int kStartAttempts = 3;
constexpr absl::Duration kPoll = absl::Milliseconds(100);
// etcdctl flags for probes: a member that is down or without a leader
// must not stall a wait loop for etcdctl's default 5 s.
const std::vector<std::string> kProbeFlags = {"--dial-timeout=1s",
                                              "--command-timeout=2s"};

std::vector<std::string> WithProbeFlags(std::vector<std::string> args) {
  args.insert(args.end(), kProbeFlags.begin(), kProbeFlags.end());
  return args;
}

absl::StatusOr<EtcdCluster::MemberStatus> ParseStatus(const std::string& text) {
  using json = nlohmann::json;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array() || parsed.empty() ||
      !parsed[0].contains("Status")) {
    return absl::InternalError(
        absl::StrCat("unexpected `etcdctl endpoint status` output: ", text));
  }
  const json& status = parsed[0]["Status"];
  EtcdCluster::MemberStatus result;
  result.id = status["header"].value("member_id", uint64_t{0});
  result.leader = status.value("leader", uint64_t{0});
  result.raft_term = status.value("raftTerm", uint64_t{0});
  result.raft_index = status.value("raftIndex", uint64_t{0});
  return result;
}

// Two distinct free ports per member, distinct across members too.
absl::Status PickPorts(int count, std::vector<int>& ports) {
  std::set<int> seen;
  while (static_cast<int>(ports.size()) < count) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    if (seen.insert(*port).second) ports.push_back(*port);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(
    const Options& options) {
  if (options.size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("EtcdCluster: size must be >= 1, got ", options.size));
  }
  absl::Status status;
  std::string logs;
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
    status = cluster->TryStart(options);
    if (status.ok()) return cluster;
    logs = cluster->LogTails();
  }
  return absl::UnavailableError(
      absl::StrCat("etcd cluster did not start after ", kStartAttempts,
                   " attempts; last error: ", status.message(), "\n", logs));
}

absl::Status EtcdCluster::TryStart(const Options& options) {
  const int n = options.size;
  partitioned_.assign(n, false);
  {
    absl::MutexLock lock(&pids_mu_);
    pids_.assign(n, 0);
  }
  std::vector<int> ports;  // client ports, then real peer ports
  if (absl::Status s = PickPorts(2 * n, ports); !s.ok()) return s;
  std::vector<std::string> peers;
  for (int i = 0; i < n; ++i) {
    TcpProxy::Options proxy;
    proxy.target_port = ports[n + i];
    proxy.identify = [this](const sockaddr_in& peer) {
      return IdentifyPeer(peer);
    };
    absl::StatusOr<std::unique_ptr<TcpProxy>> started =
        TcpProxy::Start(std::move(proxy));
    if (!started.ok()) return started.status();
    proxies_.push_back(*std::move(started));
    names_.push_back(absl::StrCat(options.member.name, "-m", i + 1));
    peers.push_back(
        absl::StrCat(names_[i], "=http://", proxies_[i]->address()));
  }
  const std::string initial_cluster = absl::StrJoin(peers, ",");
  const std::string token =
      absl::StrCat("vlb-cluster-", getpid(), "-", proxies_[0]->port());
  for (int i = 0; i < n; ++i) {
    EtcdProcess::Options member = options.member;
    member.name = names_[i];
    member.client_port = ports[i];
    member.peer_port = ports[n + i];
    member.advertise_peer_url = absl::StrCat("http://", proxies_[i]->address());
    member.initial_cluster = initial_cluster;
    member.cluster_token = token;
    member.wait_healthy = false;
    member.fast_election = false;
    // Ours first: flags given later on etcd's command line win.
    member.extra_flags.insert(
        member.extra_flags.begin(),
        {absl::StrCat("--heartbeat-interval=",
                      absl::ToInt64Milliseconds(options.heartbeat)),
         absl::StrCat("--election-timeout=",
                      absl::ToInt64Milliseconds(options.election_timeout))});
    absl::StatusOr<std::unique_ptr<EtcdProcess>> started =
        EtcdProcess::Start(std::move(member));
    if (!started.ok()) return started.status();
    members_.push_back(*std::move(started));
    UpdatePid(i);
  }
  return WaitForQuorum(options.start_timeout);
}

EtcdCluster::~EtcdCluster() {
  // Members first: a proxy going away under a live member is harmless, and
  // IdentifyPeer (run by the proxies' threads) only needs pids_.
  members_.clear();
  proxies_.clear();
}

std::vector<std::string> EtcdCluster::endpoints(int first) const {
  std::vector<std::string> result;
  if (first >= 0) result.push_back(members_[first]->endpoint());
  for (int i = 0; i < size(); ++i) {
    if (i != first) result.push_back(members_[i]->endpoint());
  }
  return result;
}

std::string EtcdCluster::endpoint_list(int first) const {
  return absl::StrJoin(endpoints(first), ",");
}

absl::Status EtcdCluster::StopMember(int i) {
  absl::Status status = members_[i]->Stop();
  UpdatePid(i);
  return status;
}

void EtcdCluster::KillMember(int i) {
  members_[i]->Kill();
  UpdatePid(i);
}

absl::Status EtcdCluster::RestartMember(int i) {
  absl::Status status = members_[i]->Restart();
  UpdatePid(i);
  return status;
}

void EtcdCluster::Partition(int i) {
  partitioned_[i] = true;
  ApplyPartitions();
}

void EtcdCluster::Heal(int i) {
  partitioned_[i] = false;
  ApplyPartitions();
}

void EtcdCluster::HealAll() {
  partitioned_.assign(partitioned_.size(), false);
  ApplyPartitions();
}

void EtcdCluster::ApplyPartitions() {
  for (int j = 0; j < size(); ++j) {
    // Proxy j carries what others send to j: all of it is cut when j is
    // partitioned, else what partitioned members dial.
    TcpProxy::Cuts cuts;
    cuts.all = partitioned_[j];
    for (int k = 0; k < size(); ++k) {
      if (k != j && partitioned_[k]) cuts.sources.insert(k);
    }
    proxies_[j]->SetCuts(std::move(cuts));
  }
}

void EtcdCluster::UpdatePid(int i) {
  absl::MutexLock lock(&pids_mu_);
  pids_[i] = members_[i]->pid();
}

int EtcdCluster::IdentifyPeer(const sockaddr_in& peer) {
  std::vector<pid_t> pids;
  {
    absl::MutexLock lock(&pids_mu_);
    pids = pids_;
  }
  return FindSocketOwner(peer, pids);
}

absl::StatusOr<EtcdCluster::MemberStatus> EtcdCluster::Status(int i) const {
  absl::StatusOr<std::string> out =
      Etcdctl(i, WithProbeFlags({"endpoint", "status", "-w", "json"}),
              absl::Seconds(5));
  if (!out.ok()) return out.status();
  return ParseStatus(*out);
}

absl::StatusOr<int> EtcdCluster::Leader(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> views;
  while (true) {
    std::vector<std::optional<MemberStatus>> statuses(size());
    views.clear();
    for (int i = 0; i < size(); ++i) {
      absl::StatusOr<MemberStatus> status =
          members_[i]->pid() != 0
              ? Status(i)
              : absl::StatusOr<MemberStatus>(absl::UnavailableError("stopped"));
      if (status.ok()) statuses[i] = *status;
      views.push_back(absl::StrCat(
          names_[i], ": ",
          status.ok()
              ? absl::StrCat("id ", status->id, " leader ", status->leader,
                             " term ", status->raft_term)
              : std::string(status.status().message())));
    }
    for (int i = 0; i < size(); ++i) {
      if (!statuses[i] || !statuses[i]->is_leader()) continue;
      int votes = 0;
      for (const auto& status : statuses) {
        if (status && status->leader == statuses[i]->id) ++votes;
      }
      if (2 * votes > size()) return i;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(std::min(kPoll, deadline - absl::Now()));
  }
  return absl::UnavailableError(absl::StrCat(
      "no leader a majority agrees on after ", absl::FormatDuration(timeout),
      "; members: ", absl::StrJoin(views, "; ")));
}

absl::Status EtcdCluster::WaitForQuorum(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last_error;
  while (true) {
    for (int i = 0; i < size(); ++i) {
      if (members_[i]->pid() != 0 && !members_[i]->running()) {
        return absl::UnavailableError(
            absl::StrCat(names_[i], " exited; see its log"));
      }
    }
    absl::StatusOr<int> leader = Leader(absl::ZeroDuration());
    bool healthy = leader.ok();
    if (!leader.ok()) last_error = std::string(leader.status().message());
    for (int i = 0; healthy && i < size(); ++i) {
      if (members_[i]->pid() == 0 || partitioned_[i]) continue;
      absl::StatusOr<std::string> health =
          Etcdctl(i, WithProbeFlags({"endpoint", "health"}), absl::Seconds(5));
      if (!health.ok()) {
        healthy = false;
        last_error = absl::StrCat(names_[i], ": ", health.status().message());
      }
    }
    if (healthy) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("etcd cluster has no quorum after ",
                       absl::FormatDuration(timeout), ": ", last_error));
    }
    absl::SleepFor(kPoll);
  }
}

absl::Status EtcdCluster::WaitForNoLeader(int i, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "no status";
  while (true) {
    absl::StatusOr<MemberStatus> status = Status(i);
    if (status.ok() && status->leader == 0) return absl::OkStatus();
    last = status.ok() ? absl::StrCat("leader ", status->leader)
                       : std::string(status.status().message());
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(names_[i], " still has a leader after ",
                       absl::FormatDuration(timeout), " (", last, ")"));
    }
    absl::SleepFor(kPoll);
  }
}

absl::StatusOr<std::string> EtcdCluster::Etcdctl(
    int i, const std::vector<std::string>& args, absl::Duration timeout) const {
  return members_[i]->Etcdctl(args, timeout);
}

std::string EtcdCluster::LogTails(size_t max_bytes_per_member) const {
  std::string result;
  for (size_t i = 0; i < members_.size(); ++i) {
    absl::StrAppend(&result, "--- ", names_[i], " log ---\n",
                    members_[i]->LogTail(max_bytes_per_member), "\n");
  }
  return result;
}

}  // namespace vlb::testing
