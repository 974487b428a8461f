// The registrar against a real etcd: registration, Stop, crashes, outages,
// a wiped store, tampering with the key or lease, Update, fencing and
// failover. Every check reads etcd through etcdctl, so it judges what other
// clients see rather than what the registrar believes.
#include "vlb/registrar.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "child_process.h"
#include "etcd_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "wait_for.h"

#ifndef VLB_REGISTER_BIN
#define VLB_REGISTER_BIN ""
#endif

namespace vlb {
namespace {

using ::testing::HasSubstr;
using ::vlb::testing::ChildProcess;
using ::vlb::testing::EtcdProcess;
using ::vlb::testing::WaitFor;
using json = nlohmann::json;

constexpr char kService[] = "hwholiday.srv.app";
constexpr absl::Duration kTtl = absl::Seconds(2);
// Room for etcd's lease expiry sweep (every 500 ms), a loaded machine under
// `ctest -j`, and retry backoff; a healthy run takes a fraction of it.
constexpr absl::Duration kMargin = absl::Seconds(8);

// What etcdctl reports about one key.
struct KeyState {
  bool exists = false;
  std::string value;
  int64_t lease = 0;
  int64_t create_revision = 0;
};

// What etcdctl reports about one lease; ttl is -1 once it is gone.
struct LeaseState {
  int64_t ttl = -1;
  int64_t granted_ttl = 0;
  std::vector<std::string> keys;
};

std::string LeaseHex(int64_t lease) {
  return absl::StrFormat("%x", static_cast<uint64_t>(lease));
}

absl::StatusOr<json> ParseJson(const std::string& text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(
        absl::StrCat("etcdctl printed non-JSON: ", text));
  }
  return parsed;
}

absl::StatusOr<KeyState> ReadKey(const EtcdProcess& etcd,
                                 const std::string& key) {
  absl::StatusOr<std::string> out = etcd.Etcdctl({"get", key, "-w", "json"});
  if (!out.ok()) return out.status();
  absl::StatusOr<json> parsed = ParseJson(*out);
  if (!parsed.ok()) return parsed.status();
  KeyState state;
  if (!parsed->contains("kvs") || (*parsed)["kvs"].empty()) return state;
  const json& kv = (*parsed)["kvs"][0];
  state.exists = true;
  // etcdctl's JSON carries keys and values base64-encoded.
  if (!absl::Base64Unescape(kv.value("value", std::string()), &state.value)) {
    return absl::InternalError(absl::StrCat("bad base64 in ", *out));
  }
  state.lease = kv.value("lease", int64_t{0});
  state.create_revision = kv.value("create_revision", int64_t{0});
  return state;
}

absl::StatusOr<LeaseState> ReadLease(const EtcdProcess& etcd, int64_t lease) {
  absl::StatusOr<std::string> out = etcd.Etcdctl(
      {"lease", "timetolive", LeaseHex(lease), "--keys", "-w", "json"});
  if (!out.ok()) return out.status();
  absl::StatusOr<json> parsed = ParseJson(*out);
  if (!parsed.ok()) return parsed.status();
  LeaseState state;
  state.ttl = parsed->value("ttl", int64_t{-1});
  state.granted_ttl = parsed->value("granted-ttl", int64_t{0});
  if (parsed->contains("keys") && (*parsed)["keys"].is_array()) {
    for (const json& encoded : (*parsed)["keys"]) {
      std::string key;
      if (absl::Base64Unescape(encoded.get<std::string>(), &key)) {
        state.keys.push_back(std::move(key));
      }
    }
  }
  return state;
}

// Records registrar events for later checks; the registrar calls it from its
// own thread.
class EventLog {
 public:
  RegistrarCallback Callback() {
    return [this](RegistrarEvent event, const absl::Status& detail) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event);
      details_.push_back(detail);
    };
  }

  std::vector<RegistrarEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  int Count(RegistrarEvent event) const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count(events_.begin(), events_.end(), event));
  }

  bool Saw(RegistrarEvent event) const { return Count(event) > 0; }

  // Position of the first `event` at or after `from`, or -1.
  int Find(RegistrarEvent event, int from = 0) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = static_cast<size_t>(std::max(from, 0)); i < events_.size();
         ++i) {
      if (events_[i] == event) return static_cast<int>(i);
    }
    return -1;
  }

  std::string ToString() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> parts;
    for (size_t i = 0; i < events_.size(); ++i) {
      parts.push_back(details_[i].ok()
                          ? std::string(RegistrarEventName(events_[i]))
                          : absl::StrCat(RegistrarEventName(events_[i]), "(",
                                         details_[i].ToString(), ")"));
    }
    return absl::StrCat("events: [", absl::StrJoin(parts, ", "), "]");
  }

 private:
  mutable std::mutex mu_;
  std::vector<RegistrarEvent> events_;
  std::vector<absl::Status> details_;
};

// A loopback port nothing listens on: bound once to let the kernel pick a
// free one, then released without listen().
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class RegistrarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd = EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
  }

  void TearDown() override {
    if (HasFailure() && etcd_ != nullptr) {
      std::cerr << "etcd log tail:\n" << etcd_->LogTail(4096) << "\n";
    }
  }

  // Starts the vlb_register tool against this test's etcd with `args` after
  // the connection flags; its output goes to the returned file path.
  std::unique_ptr<ChildProcess> SpawnTool(std::vector<std::string> args,
                                          std::string* output) const {
    *output = absl::StrCat(etcd_->data_dir(), ".register.out");
    ChildProcess::Options spawn;
    spawn.program = VLB_REGISTER_BIN;
    spawn.args = {absl::StrCat("--etcd=", etcd_->endpoint()),
                  absl::StrCat("--service=", kService)};
    spawn.args.insert(spawn.args.end(), args.begin(), args.end());
    spawn.output_path = *output;
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Spawn(spawn);
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }

  RegistrarOptions Options(const std::string& id = "app-1") const {
    RegistrarOptions options;
    options.etcd.endpoints = {etcd_->endpoint()};
    options.etcd.request_timeout = absl::Seconds(2);
    options.service_name = kService;
    options.instance_id = id;
    options.version = "v1";
    options.address = "127.0.0.1:8089";
    options.weight = 3;
    options.metadata = {{"zone", "a"}};
    options.ttl = kTtl;
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(500);
    return options;
  }

  static std::unique_ptr<Registrar> Make(RegistrarOptions options,
                                         EventLog& log) {
    absl::StatusOr<std::unique_ptr<Registrar>> registrar =
        Registrar::Create(std::move(options), log.Callback());
    EXPECT_TRUE(registrar.ok()) << registrar.status();
    return registrar.ok() ? *std::move(registrar) : nullptr;
  }

  KeyState Key(const std::string& key) const {
    absl::StatusOr<KeyState> state = ReadKey(*etcd_, key);
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : KeyState();
  }

  LeaseState Lease(int64_t lease) const {
    absl::StatusOr<LeaseState> state = ReadLease(*etcd_, lease);
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : LeaseState();
  }

  // Polling helpers must not fail the test when etcd is briefly unreachable,
  // so errors count as "not yet".
  bool KeyUnderLiveLease(const Registrar& registrar) const {
    absl::StatusOr<KeyState> key = ReadKey(*etcd_, registrar.key());
    if (!key.ok() || !key->exists || key->lease == 0) return false;
    if (key->lease != registrar.lease_id()) return false;
    absl::StatusOr<LeaseState> lease = ReadLease(*etcd_, key->lease);
    return lease.ok() && lease->ttl > 0;
  }

  bool KeyAbsent(const std::string& key) const {
    absl::StatusOr<KeyState> state = ReadKey(*etcd_, key);
    return state.ok() && !state->exists;
  }

  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(RegistrarTest, RegisterWritesSeedFormatUnderLease) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  EXPECT_EQ(registrar->key(), "/hwholiday/srv/app/app-1");
  EXPECT_FALSE(registrar->registered());
  EXPECT_EQ(registrar->lease_id(), 0);

  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  EXPECT_TRUE(registrar->registered());
  ASSERT_NE(registrar->lease_id(), 0);

  const KeyState key = Key("/hwholiday/srv/app/app-1");
  ASSERT_TRUE(key.exists);
  EXPECT_EQ(key.lease, registrar->lease_id());
  absl::StatusOr<json> value = ParseJson(key.value);
  ASSERT_TRUE(value.ok()) << value.status();
  const json expected = json::parse(R"({
      "node": {"name": "app", "path": "/hwholiday/srv/app", "id": "app-1",
               "version": "v1", "address": "127.0.0.1:8089"},
      "metadata": {"weight": "3", "zone": "a"}})");
  EXPECT_EQ(*value, expected) << key.value;

  const LeaseState lease = Lease(key.lease);
  EXPECT_GT(lease.ttl, 0);
  EXPECT_EQ(lease.granted_ttl, absl::ToInt64Seconds(kTtl));
  EXPECT_THAT(lease.keys, ::testing::ElementsAre("/hwholiday/srv/app/app-1"));

  // Keep-alive must hold the key well past one TTL.
  EXPECT_FALSE(WaitFor([&] { return !KeyUnderLiveLease(*registrar); }, 2 * kTtl,
                       absl::Milliseconds(200)))
      << "key lost while the registrar was running; " << log.ToString();
  EXPECT_EQ(log.events(),
            std::vector<RegistrarEvent>{RegistrarEvent::kRegistered})
      << log.ToString();
}

TEST_F(RegistrarTest, StopDeletesKeyAtOnce) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  const int64_t lease = registrar->lease_id();
  ASSERT_TRUE(Key(registrar->key()).exists);

  registrar->Stop();
  // No waiting: Stop() revokes the lease before it returns.
  EXPECT_FALSE(Key(registrar->key()).exists);
  EXPECT_EQ(Lease(lease).ttl, -1);
  EXPECT_FALSE(registrar->registered());
  EXPECT_EQ(registrar->lease_id(), 0);
  EXPECT_EQ(log.Count(RegistrarEvent::kStopped), 1) << log.ToString();

  registrar->Stop();  // idempotent
  EXPECT_EQ(log.Count(RegistrarEvent::kStopped), 1) << log.ToString();
  EXPECT_EQ(registrar->Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RegistrarTest, CrashedProcessKeyExpiresWithLease) {
  if (std::string(VLB_REGISTER_BIN).empty()) {
    GTEST_SKIP() << "built without VLB_BUILD_TOOLS";
  }
  std::string output;
  std::unique_ptr<ChildProcess> child =
      SpawnTool({"--id=crash-1", "--version=v1", "--address=127.0.0.9:8089",
                 absl::StrCat("--ttl_seconds=", absl::ToInt64Seconds(kTtl))},
                &output);
  ASSERT_NE(child, nullptr);

  const std::string key = "/hwholiday/srv/app/crash-1";
  const std::string announced = absl::StrCat("registered ", key, " lease=");
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(ReadWholeFile(output), announced); },
      absl::Seconds(15)))
      << ReadWholeFile(output);
  const KeyState before = Key(key);
  ASSERT_TRUE(before.exists);
  EXPECT_THAT(ReadWholeFile(output),
              HasSubstr(absl::StrCat(announced, before.lease)));

  ASSERT_TRUE(child->Kill(SIGKILL).ok());
  ASSERT_TRUE(child->Wait(absl::Seconds(5)).ok());
  const absl::Time killed = absl::Now();
  // Still there: only the lease running out may remove it.
  ASSERT_TRUE(Key(key).exists);

  ASSERT_TRUE(WaitFor([&] { return KeyAbsent(key); }, kTtl + kMargin))
      << "key outlived its lease by more than " << kMargin;
  // The last keep-alive went out at most TTL/3 before the kill.
  EXPECT_GE(absl::Now() - killed, kTtl / 2);
  EXPECT_EQ(Lease(before.lease).ttl, -1);
  unlink(output.c_str());
}

TEST_F(RegistrarTest, ToolRevokesOnSigterm) {
  if (std::string(VLB_REGISTER_BIN).empty()) {
    GTEST_SKIP() << "built without VLB_BUILD_TOOLS";
  }
  std::string output;
  std::unique_ptr<ChildProcess> child = SpawnTool(
      {"--id=term-1", "--version=v7", "--address=127.0.0.9:8089", "--weight=5",
       "--meta=zone=b", "--ttl_seconds=30", "--meta=rack=r3,row=7"},
      &output);
  ASSERT_NE(child, nullptr);

  const std::string key = "/hwholiday/srv/app/term-1";
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(ReadWholeFile(output), "registered "); },
      absl::Seconds(15)))
      << ReadWholeFile(output);
  const KeyState registered = Key(key);
  ASSERT_TRUE(registered.exists);
  absl::StatusOr<json> value = ParseJson(registered.value);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ((*value)["node"]["version"], "v7");
  EXPECT_EQ((*value)["metadata"]["weight"], "5");
  EXPECT_EQ((*value)["metadata"]["zone"], "b");
  // --meta is repeatable and takes comma-separated entries.
  EXPECT_EQ((*value)["metadata"]["rack"], "r3");
  EXPECT_EQ((*value)["metadata"]["row"], "7");

  ASSERT_TRUE(child->Kill(SIGTERM).ok());
  absl::StatusOr<int> status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  // With a 30 s TTL, only the revoke can have removed it this soon.
  EXPECT_FALSE(Key(key).exists);
  EXPECT_THAT(ReadWholeFile(output), HasSubstr("\nstopped\n"));
  unlink(output.c_str());
}

TEST_F(RegistrarTest, ReRegistersAfterEtcdOutageLongerThanTtl) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();

  ASSERT_TRUE(etcd_->Stop().ok());
  const absl::Time stopped = absl::Now();
  // Keep-alive goes unconfirmed for a TTL: the registrar must say so.
  EXPECT_TRUE(
      WaitFor([&] { return log.Saw(RegistrarEvent::kLost); }, kTtl + kMargin))
      << log.ToString();
  EXPECT_FALSE(registrar->registered());
  // Stay down until the lease would have expired.
  const absl::Time lease_dead = stopped + kTtl + absl::Seconds(1);
  WaitFor([&] { return absl::Now() > lease_dead; }, kTtl + absl::Seconds(2));

  ASSERT_TRUE(etcd_->Restart().ok());
  EXPECT_TRUE(WaitFor(
      [&] { return registrar->registered() && KeyUnderLiveLease(*registrar); },
      absl::Seconds(15)))
      << log.ToString();
  const int lost = log.Find(RegistrarEvent::kLost);
  EXPECT_GE(lost, 0) << log.ToString();
  EXPECT_TRUE(WaitFor(
      [&] { return log.Find(RegistrarEvent::kReRegistered, lost) > lost; },
      absl::Seconds(5)))
      << log.ToString();
}

TEST_F(RegistrarTest, ReRegistersOnWipedEtcd) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  const int64_t old_lease = registrar->lease_id();

  ASSERT_TRUE(etcd_->Wipe().ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        return registrar->registered() && registrar->lease_id() != old_lease &&
               KeyUnderLiveLease(*registrar);
      },
      kTtl + kMargin))
      << log.ToString();
  EXPECT_TRUE(WaitFor([&] { return log.Saw(RegistrarEvent::kReRegistered); },
                      absl::Seconds(5)))
      << log.ToString();

  // Healing must keep working against the new store: its revisions restarted
  // from 1, so a watch resumed at the old revision would miss this delete.
  const int64_t new_lease = registrar->lease_id();
  absl::StatusOr<std::string> deleted =
      etcd_->Etcdctl({"del", registrar->key()});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, "1\n");
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<KeyState> key = ReadKey(*etcd_, registrar->key());
        return key.ok() && key->exists && key->lease == new_lease;
      },
      absl::Seconds(10)))
      << "deleted key not written back after the wipe; " << log.ToString();
}

TEST_F(RegistrarTest, HealsDeletedKeyAndRevokedLease) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  const int64_t lease = registrar->lease_id();

  absl::StatusOr<std::string> deleted =
      etcd_->Etcdctl({"del", registrar->key()});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  ASSERT_EQ(*deleted, "1\n");
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<KeyState> key = ReadKey(*etcd_, registrar->key());
        return key.ok() && key->exists && key->lease == lease &&
               registrar->registered();
      },
      absl::Seconds(10)))
      << "deleted key not written back under the same lease; "
      << log.ToString();

  absl::StatusOr<std::string> revoked =
      etcd_->Etcdctl({"lease", "revoke", LeaseHex(lease)});
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  ASSERT_THAT(*revoked, HasSubstr("revoked"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return registrar->registered() && registrar->lease_id() != lease &&
               KeyUnderLiveLease(*registrar);
      },
      absl::Seconds(10)))
      << "not registered again under a new lease; " << log.ToString();
  EXPECT_NE(Key(registrar->key()).lease, lease);
  EXPECT_EQ(Lease(lease).ttl, -1);
}

TEST_F(RegistrarTest, UpdateRewritesValueUnderSameLease) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  const KeyState before = Key(registrar->key());
  ASSERT_TRUE(before.exists);

  ASSERT_TRUE(registrar
                  ->Update("v2", 7,
                           std::map<std::string, std::string>{
                               {"zone", "b"}, {"canary", "true"}})
                  .ok());
  // Update() returns once etcd has the new value.
  KeyState after = Key(registrar->key());
  ASSERT_TRUE(after.exists);
  EXPECT_EQ(after.lease, before.lease);
  EXPECT_EQ(after.create_revision, before.create_revision)
      << "rewritten in place, not deleted and recreated";
  absl::StatusOr<json> value = ParseJson(after.value);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ((*value)["node"]["version"], "v2");
  EXPECT_EQ((*value)["node"]["address"], "127.0.0.1:8089");
  EXPECT_EQ((*value)["metadata"],
            json::parse(R"({"weight": "7", "zone": "b", "canary": "true"})"));

  // Fields left empty are kept.
  ASSERT_TRUE(registrar->Update(std::nullopt, 9, std::nullopt).ok());
  after = Key(registrar->key());
  value = ParseJson(after.value);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ((*value)["node"]["version"], "v2");
  EXPECT_EQ((*value)["metadata"],
            json::parse(R"({"weight": "9", "zone": "b", "canary": "true"})"));
  EXPECT_EQ(after.lease, before.lease);

  // A rejected update leaves etcd alone.
  EXPECT_EQ(registrar->Update("", std::nullopt, std::nullopt).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Key(registrar->key()).value, after.value);
  EXPECT_EQ(registrar->instance().version, "v2");
  EXPECT_EQ(registrar->instance().weight, 9u);
  EXPECT_EQ(log.events(),
            std::vector<RegistrarEvent>{RegistrarEvent::kRegistered})
      << log.ToString();
}

// Drain() and Undrain() rewrite the record in place; an etcdctl edit under
// the registrar's lease is adopted and kept across Update() and a revoked
// lease.
TEST_F(RegistrarTest, DrainUndrainAndAnOperatorEditUnderTheLease) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  const KeyState before = Key(registrar->key());
  ASSERT_TRUE(registrar->Drain().ok());
  KeyState after = Key(registrar->key());
  EXPECT_EQ(after.lease, before.lease);
  EXPECT_EQ(after.create_revision, before.create_revision);
  absl::StatusOr<json> value = ParseJson(after.value);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ((*value)["metadata"],
            json::parse(R"({"weight": "3", "drained": "true", "zone": "a"})"));
  ASSERT_TRUE(registrar->Undrain().ok());
  EXPECT_EQ(Key(registrar->key()).value, before.value);

  // The operator's edit: drained, weight 5, same lease.
  ServiceInstance edited = registrar->instance();
  edited.drained = true;
  edited.weight = 5;
  ASSERT_TRUE(
      etcd_
          ->Etcdctl({"put", registrar->key(), EncodeServiceRecord(edited),
                     absl::StrCat("--lease=", LeaseHex(registrar->lease_id()))})
          .ok());
  ASSERT_TRUE(WaitFor([&] { return registrar->instance().drained; }, kMargin))
      << "the operator's drain was not adopted";
  EXPECT_EQ(registrar->instance().weight, 5u);
  ASSERT_TRUE(registrar->Update("v2", std::nullopt, std::nullopt).ok());
  absl::StatusOr<ServiceInstance> record =
      DecodeServiceRecord(Key(registrar->key()).value);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->version, "v2");
  EXPECT_TRUE(record->drained);
  EXPECT_EQ(record->weight, 5u);

  // A lost lease: the new registration is still drained.
  const int64_t old_lease = registrar->lease_id();
  ASSERT_TRUE(etcd_->Etcdctl({"lease", "revoke", LeaseHex(old_lease)}).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return registrar->lease_id() != old_lease &&
               KeyUnderLiveLease(*registrar);
      },
      kMargin))
      << log.ToString();
  record = DecodeServiceRecord(Key(registrar->key()).value);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->drained);
  EXPECT_EQ(record->weight, 5u);
}

// Shutdown(): the last value of the key before the revoke deleted it was
// the drained record under the live lease (read from etcd's history, so the
// check does not race the grace period).
TEST_F(RegistrarTest, ShutdownDrainsBeforeItRevokes) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  const std::string key = registrar->key();
  const int64_t lease = registrar->lease_id();
  const absl::Status shut = registrar->Shutdown(absl::Milliseconds(500));
  EXPECT_TRUE(shut.ok()) << shut;
  EXPECT_TRUE(KeyAbsent(key));
  EXPECT_EQ(Lease(lease).ttl, -1);
  EXPECT_EQ(log.events().back(), RegistrarEvent::kStopped) << log.ToString();

  // The revoke is the latest revision; the one before it is the drain.
  absl::StatusOr<std::string> now = etcd_->Etcdctl({"get", key, "-w", "json"});
  ASSERT_TRUE(now.ok()) << now.status();
  absl::StatusOr<json> header = ParseJson(*now);
  ASSERT_TRUE(header.ok()) << header.status();
  const int64_t revoked_at = (*header)["header"]["revision"].get<int64_t>();
  absl::StatusOr<std::string> before = etcd_->Etcdctl(
      {"get", key, absl::StrCat("--rev=", revoked_at - 1), "-w", "json"});
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<json> last = ParseJson(*before);
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_FALSE((*last)["kvs"].empty()) << *before;
  const json& kv = (*last)["kvs"][0];
  EXPECT_EQ(kv.value("lease", int64_t{0}), lease);
  std::string value;
  ASSERT_TRUE(absl::Base64Unescape(kv.value("value", std::string()), &value));
  absl::StatusOr<ServiceInstance> record = DecodeServiceRecord(value);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->drained);
}

// Update() promises the new value is in etcd when it returns, also when
// another write is still in flight at the time (it must not be satisfied by
// that older write's completion).
TEST_F(RegistrarTest, ConcurrentUpdatesReturnOnlyOnceTheirValueIsWritten) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();

  for (int round = 0; round < 20; ++round) {
    const std::string a = absl::StrCat("a", round);
    const std::string b = absl::StrCat("b", round);
    absl::Status status_a;
    absl::Status status_b;
    std::thread thread_a(
        [&] { status_a = registrar->Update(a, std::nullopt, std::nullopt); });
    std::thread thread_b(
        [&] { status_b = registrar->Update(b, std::nullopt, std::nullopt); });
    thread_a.join();
    thread_b.join();
    ASSERT_TRUE(status_a.ok()) << status_a;
    ASSERT_TRUE(status_b.ok()) << status_b;
    // Whichever update ran last is what the registrar holds; both returned,
    // so etcd must hold it too, without waiting.
    const std::string expected = registrar->instance().version;
    absl::StatusOr<json> value = ParseJson(Key(registrar->key()).value);
    ASSERT_TRUE(value.ok()) << value.status();
    ASSERT_EQ((*value)["node"]["version"], expected) << "round " << round;
  }
}

// Both fields survive when two threads update different ones at once: the
// current record used to be read outside the dispatcher, so one Update()
// could overwrite the other's change with the old value.
TEST_F(RegistrarTest, ConcurrentUpdatesOfDifferentFieldsKeepBoth) {
  EventLog log;
  std::unique_ptr<Registrar> registrar = Make(Options(), log);
  ASSERT_NE(registrar, nullptr);
  ASSERT_TRUE(registrar->Start().ok()) << log.ToString();
  for (uint32_t round = 1; round <= 40; ++round) {
    const std::string version = absl::StrCat("v", round);
    std::thread thread_a([&] {
      EXPECT_TRUE(registrar->Update(version, std::nullopt, std::nullopt).ok());
    });
    std::thread thread_b([&] {
      EXPECT_TRUE(registrar->Update(std::nullopt, round, std::nullopt).ok());
    });
    thread_a.join();
    thread_b.join();
    const ServiceInstance instance = registrar->instance();
    ASSERT_EQ(instance.version, version) << "round " << round;
    ASSERT_EQ(instance.weight, round) << "round " << round;
    absl::StatusOr<json> value = ParseJson(Key(registrar->key()).value);
    ASSERT_TRUE(value.ok()) << value.status();
    ASSERT_EQ((*value)["node"]["version"], version) << "round " << round;
    ASSERT_EQ((*value)["metadata"]["weight"], absl::StrCat(round));
  }
}

// Update() from the event callback used to wait for its write on the very
// thread that writes: the dispatcher hung, keep-alives stopped and the key
// expired. It now queues the change and returns.
TEST_F(RegistrarTest, UpdateAndStopFromTheEventCallbackDoNotBlock) {
  std::atomic<Registrar*> self{nullptr};
  std::atomic<int> updates{0};
  std::mutex mu;
  std::vector<RegistrarEvent> events;
  auto callback = [&](RegistrarEvent event, const absl::Status&) {
    {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(event);
    }
    Registrar* registrar = self.load();
    if (event == RegistrarEvent::kRegistered && registrar != nullptr &&
        updates.fetch_add(1) == 0) {
      EXPECT_TRUE(registrar->Update("v2", 9u, std::nullopt).ok());
    }
  };
  absl::StatusOr<std::unique_ptr<Registrar>> made =
      Registrar::Create(Options(), callback);
  ASSERT_TRUE(made.ok()) << made.status();
  std::unique_ptr<Registrar> registrar = *std::move(made);
  self = registrar.get();
  ASSERT_TRUE(registrar->Start().ok());
  // The change reaches etcd, and the dispatcher still serves other callers
  // (a blocking call from this thread would hang if it were stuck).
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<json> value = ParseJson(Key(registrar->key()).value);
        return value.ok() && (*value)["node"]["version"] == "v2" &&
               (*value)["metadata"]["weight"] == "9";
      },
      absl::Seconds(20)));
  auto later = std::async(std::launch::async, [&] {
    return registrar->Update(std::nullopt, 4u, std::nullopt);
  });
  ASSERT_EQ(later.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_TRUE(later.get().ok());
  EXPECT_TRUE(KeyUnderLiveLease(*registrar));
  self = nullptr;
}

TEST_F(RegistrarTest, StopFromTheEventCallbackStopsWithoutBlocking) {
  std::atomic<Registrar*> self{nullptr};
  std::atomic<bool> stopped{false};
  auto callback = [&](RegistrarEvent event, const absl::Status&) {
    if (event == RegistrarEvent::kStopped) stopped = true;
    Registrar* registrar = self.load();
    if (event == RegistrarEvent::kRegistered && registrar != nullptr) {
      registrar->Stop();
    }
  };
  absl::StatusOr<std::unique_ptr<Registrar>> made =
      Registrar::Create(Options(), callback);
  ASSERT_TRUE(made.ok()) << made.status();
  std::unique_ptr<Registrar> registrar = *std::move(made);
  self = registrar.get();
  registrar->Start().IgnoreError();  // may be stopped before it returns
  ASSERT_TRUE(WaitFor([&] { return stopped.load(); }, absl::Seconds(20)));
  EXPECT_FALSE(registrar->registered());
  // Not revoked from the callback: the key goes with its TTL.
  EXPECT_TRUE(
      WaitFor([&] { return KeyAbsent(registrar->key()); }, absl::Seconds(20)));
  self = nullptr;
}

TEST_F(RegistrarTest, SecondRegistrarWithSameIdIsFencedUntilFirstStops) {
  EventLog first_log;
  std::unique_ptr<Registrar> first = Make(Options("dup-1"), first_log);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Start().ok()) << first_log.ToString();
  const KeyState original = Key(first->key());
  ASSERT_TRUE(original.exists);

  EventLog second_log;
  RegistrarOptions second_options = Options("dup-1");
  second_options.address = "127.0.0.2:8089";
  std::unique_ptr<Registrar> second = Make(second_options, second_log);
  ASSERT_NE(second, nullptr);
  const absl::Status started = second->Start(absl::Seconds(5));
  EXPECT_EQ(started.code(), absl::StatusCode::kAlreadyExists) << started;
  EXPECT_TRUE(WaitFor([&] { return second_log.Saw(RegistrarEvent::kConflict); },
                      absl::Seconds(5)))
      << second_log.ToString();
  EXPECT_FALSE(second->registered());

  // It keeps retrying (backoff <= 500 ms) without ever taking the key.
  EXPECT_FALSE(WaitFor(
      [&] {
        absl::StatusOr<KeyState> key = ReadKey(*etcd_, first->key());
        return !key.ok() || key->value != original.value ||
               key->lease != original.lease;
      },
      absl::Milliseconds(1500), absl::Milliseconds(100)))
      << "the second registrar overwrote the first one's registration";
  EXPECT_TRUE(first->registered());
  EXPECT_EQ(second_log.Count(RegistrarEvent::kConflict), 1)
      << "a conflict is reported once, not on every retry; "
      << second_log.ToString();

  first->Stop();
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<KeyState> key = ReadKey(*etcd_, second->key());
        return second->registered() && key.ok() && key->exists &&
               key->lease == second->lease_id() &&
               absl::StrContains(key->value, "127.0.0.2:8089");
      },
      absl::Seconds(10)))
      << second_log.ToString();
  // registered() flips just before the event is delivered.
  EXPECT_TRUE(
      WaitFor([&] { return second_log.Saw(RegistrarEvent::kRegistered); },
              absl::Seconds(5)))
      << second_log.ToString();
}

TEST_F(RegistrarTest, StartFailsOverPastDeadEndpoint) {
  const int dead_port = UnusedPort();
  ASSERT_NE(dead_port, 0);
  EventLog log;
  RegistrarOptions options = Options();
  options.etcd.endpoints = {absl::StrCat("127.0.0.1:", dead_port),
                            etcd_->endpoint()};
  std::unique_ptr<Registrar> registrar = Make(options, log);
  ASSERT_NE(registrar, nullptr);
  const absl::Status started = registrar->Start(absl::Seconds(10));
  ASSERT_TRUE(started.ok()) << started << "; " << log.ToString();
  EXPECT_TRUE(KeyUnderLiveLease(*registrar));
  // Keep-alive must also have found the live member.
  EXPECT_FALSE(WaitFor([&] { return !KeyUnderLiveLease(*registrar); }, 2 * kTtl,
                       absl::Milliseconds(200)))
      << log.ToString();
}

// The tool's own argument handling; no etcd needed.
TEST(VlbRegisterToolTest, BadOptionsExitWithUsageError) {
  const std::string binary = VLB_REGISTER_BIN;
  if (binary.empty()) GTEST_SKIP() << "built without VLB_BUILD_TOOLS";
  const std::vector<std::string> valid = {
      "--etcd=127.0.0.1:1", "--service=hwholiday.srv.app", "--version=v1",
      "--address=127.0.0.1:8089"};
  struct Case {
    std::string extra;
    std::string mentions;
  };
  for (const Case& c : std::vector<Case>{{"--weight=10001", "weight"},
                                         {"--ttl_seconds=1", "ttl"},
                                         {"--meta=weight=3", "metadata"},
                                         {"--address=127.0.0.1", "address"},
                                         {"--bogus=1", "unknown flag --bogus"},
                                         {"--weight=x", "flag 'weight'"},
                                         {"--weight=-1", "flag 'weight'"},
                                         {"--meta=novalue", "KEY=VALUE"},
                                         {"--etcd=", "flag 'etcd'"},
                                         {"stray", "unexpected argument"}}) {
    std::vector<std::string> args = valid;
    args.push_back(c.extra);
    absl::StatusOr<vlb::testing::CommandResult> result =
        vlb::testing::RunCommand(binary, args, {}, absl::Seconds(10));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->exit_code, 2) << c.extra;
    EXPECT_THAT(result->stderr_text, HasSubstr(c.mentions)) << c.extra;
    EXPECT_THAT(result->stderr_text, HasSubstr("vlb_register: error: "))
        << c.extra;
  }
  absl::StatusOr<vlb::testing::CommandResult> help =
      vlb::testing::RunCommand(binary, {"--help"}, {}, absl::Seconds(10));
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_EQ(help->exit_code, 0);
  for (const char* flag : {"--service ", "--id ", "--version ", "--address ",
                           "--weight ", "--ttl_seconds ", "--meta ", "--etcd ",
                           "--etcd_cacert ", "--etcd_password "}) {
    EXPECT_THAT(help->stdout_text, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace vlb
