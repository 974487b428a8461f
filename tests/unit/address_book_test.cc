#include "discovery/address_book.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "discovery/socket_address.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The owner's thread, the DNS worker and the clock, all driven by the test.
class FakeWorld {
 public:
  AddressBook::Hooks Hooks() {
    AddressBook::Hooks hooks;
    hooks.run_after = [this](absl::Duration delay, std::function<void()> fn) {
      timers_[++next_timer_] = Timer{delay, std::move(fn)};
      return next_timer_;
    };
    hooks.cancel_timer = [this](uint64_t id) { timers_.erase(id); };
    hooks.lookup = [this](const std::string& host_port,
                          std::function<void(AddressBook::LookupResult)> done) {
      lookups_.emplace_back(host_port, std::move(done));
    };
    hooks.on_endpoints = [this](std::vector<ResolvedEndpoint> endpoints) {
      published_.push_back(std::move(endpoints));
    };
    hooks.on_notice = [this](const absl::Status& status) {
      notices_.push_back(std::string(status.message()));
    };
    return hooks;
  }

  // Answers the oldest pending lookup, then runs what became due at once.
  void Answer(AddressBook::LookupResult result) {
    ASSERT_FALSE(lookups_.empty());
    auto [host_port, done] = std::move(lookups_.front());
    lookups_.erase(lookups_.begin());
    done(std::move(result));
    RunDue(absl::ZeroDuration());
  }

  // Runs every timer due within `elapsed` (in id order).
  void RunDue(absl::Duration elapsed) {
    std::vector<uint64_t> due;
    for (auto& [id, timer] : timers_) {
      if (timer.delay <= elapsed) due.push_back(id);
    }
    for (uint64_t id : due) {
      auto it = timers_.find(id);
      if (it == timers_.end()) continue;
      std::function<void()> fn = std::move(it->second.fn);
      timers_.erase(it);
      fn();
    }
  }

  size_t pending_lookups() const { return lookups_.size(); }
  size_t pending_timers() const { return timers_.size(); }
  const std::vector<std::vector<ResolvedEndpoint>>& published() const {
    return published_;
  }
  const std::vector<std::string>& notices() const { return notices_; }

 private:
  struct Timer {
    absl::Duration delay;
    std::function<void()> fn;
  };
  std::map<uint64_t, Timer> timers_;
  uint64_t next_timer_ = 0;
  std::vector<
      std::pair<std::string, std::function<void(AddressBook::LookupResult)>>>
      lookups_;
  std::vector<std::vector<ResolvedEndpoint>> published_;
  std::vector<std::string> notices_;
};

WatchedInstance Record(const std::string& id, const std::string& version,
                       const std::string& address, int64_t mod_revision,
                       uint32_t weight = 1) {
  WatchedInstance w;
  w.key = "/svc/" + id;
  w.instance.id = id;
  w.instance.version = version;
  w.instance.address = address;
  w.instance.weight = weight;
  w.mod_revision = mod_revision;
  return w;
}

ServiceSnapshot Snapshot(std::vector<WatchedInstance> instances) {
  ServiceSnapshot snapshot;
  snapshot.instances = std::move(instances);
  return snapshot;
}

SocketAddress Ip(const std::string& host_port) {
  auto parsed = ParseIpHostPort(host_port);
  EXPECT_TRUE(parsed.ok() && parsed->has_value()) << host_port;
  return parsed.ok() && parsed->has_value() ? **parsed : SocketAddress();
}

std::vector<std::string> Ids(const std::vector<ResolvedEndpoint>& endpoints) {
  std::vector<std::string> ids;
  for (const ResolvedEndpoint& e : endpoints) ids.push_back(e.instance->id);
  return ids;
}

class AddressBookTest : public ::testing::Test {
 protected:
  FakeWorld world_;
  AddressBook book_{world_.Hooks(), absl::Milliseconds(100), absl::Seconds(5)};
};

TEST_F(AddressBookTest, SharedAddressServesEveryVersionNewestRecordDescribes) {
  book_.Update(Snapshot({Record("a-old", "v1", "127.0.0.1:5", 10, 3),
                         Record("b-new", "v2", "127.0.0.1:5", 20, 7),
                         Record("c-dup", "v2", "127.0.0.1:5", 15),
                         Record("other", "v1", "127.0.0.1:6", 5)}));
  ASSERT_EQ(world_.published().size(), 1u);
  const std::vector<ResolvedEndpoint>& endpoints = world_.published()[0];
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0].address.key(), Ip("127.0.0.1:5").key());
  EXPECT_EQ(endpoints[0].instance->id, "b-new");
  EXPECT_EQ(endpoints[0].instance->weight, 7u);
  EXPECT_THAT(endpoints[0].versions, ElementsAre("v2", "v1"));
  EXPECT_EQ(endpoints[1].instance->id, "other");
  EXPECT_THAT(endpoints[1].versions, ElementsAre("v1"));
}

TEST_F(AddressBookTest, SharedAddressTakesVersionsOnlyFromItsOwnLane) {
  // A laned v2 server was killed (its record lives on until its lease
  // expires) and a baseline v1 server started on its port; the reverse on
  // another port. Each address serves only its newest record's lane's
  // versions: v2 calls of the baseline never reach the v1 process.
  WatchedInstance killed_laned = Record("laned-old", "v2", "127.0.0.1:5", 10);
  killed_laned.instance.lane = "feature-x";
  WatchedInstance laned_new = Record("laned-new", "v3", "127.0.0.1:6", 20);
  laned_new.instance.lane = "feature-x";
  WatchedInstance same_lane = Record("laned-dup", "v4", "127.0.0.1:6", 15);
  same_lane.instance.lane = "feature-x";
  book_.Update(Snapshot(
      {killed_laned, Record("base-new", "v1", "127.0.0.1:5", 20),
       Record("base-old", "v1.1", "127.0.0.1:6", 10), laned_new, same_lane}));
  ASSERT_EQ(world_.published().size(), 1u);
  const std::vector<ResolvedEndpoint>& endpoints = world_.published()[0];
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0].instance->id, "base-new");
  EXPECT_THAT(endpoints[0].versions, ElementsAre("v1"));
  EXPECT_EQ(endpoints[1].instance->id, "laned-new");
  EXPECT_EQ(endpoints[1].instance->lane, "feature-x");
  EXPECT_THAT(endpoints[1].versions, ElementsAre("v3", "v4"));
}

TEST_F(AddressBookTest, LiteralsNeedNoLookup) {
  book_.Update(Snapshot(
      {Record("a", "v1", "127.0.0.1:5", 1), Record("b", "v1", "[::1]:5", 2)}));
  EXPECT_EQ(world_.pending_lookups(), 0u);
  EXPECT_THAT(Ids(world_.published().back()), ElementsAre("b", "a"));
}

TEST_F(AddressBookTest, NameIsLookedUpOffThreadAndJoinsWhenResolved) {
  book_.Update(Snapshot({Record("named", "v1", "localhost:5", 1),
                         Record("ip", "v1", "127.0.0.1:6", 2)}));
  // Published at once without the name, which is being looked up.
  EXPECT_THAT(Ids(world_.published().back()), ElementsAre("ip"));
  ASSERT_EQ(world_.pending_lookups(), 1u);
  world_.Answer(std::vector<SocketAddress>{Ip("127.0.0.9:5")});
  EXPECT_THAT(Ids(world_.published().back()), ElementsAre("ip", "named"));
}

TEST_F(AddressBookTest, TransientFailureIsRetriedWithBackoff) {
  book_.Update(Snapshot({Record("named", "v1", "localhost:5", 1)}));
  world_.Answer(absl::UnavailableError("temporary failure in name resolution"));
  EXPECT_THAT(world_.published().back(), IsEmpty());
  ASSERT_EQ(world_.notices().size(), 1u);
  EXPECT_THAT(world_.notices()[0], HasSubstr("instance left out, retrying"));
  // The retry is a timer (backoff), not an immediate loop.
  EXPECT_EQ(world_.pending_lookups(), 0u);
  ASSERT_EQ(world_.pending_timers(), 1u);
  world_.RunDue(absl::Seconds(1));
  ASSERT_EQ(world_.pending_lookups(), 1u);
  world_.Answer(absl::UnavailableError("still failing"));
  EXPECT_EQ(world_.notices().size(), 1u) << "one notice per failure streak";
  world_.RunDue(absl::Seconds(1));
  world_.Answer(std::vector<SocketAddress>{Ip("127.0.0.9:5")});
  EXPECT_THAT(Ids(world_.published().back()), ElementsAre("named"));
  EXPECT_EQ(world_.pending_timers(), 0u);
}

TEST_F(AddressBookTest, FailingNameKeepsItsLastAddresses) {
  book_.Update(Snapshot({Record("named", "v1", "localhost:5", 1)}));
  world_.Answer(std::vector<SocketAddress>{Ip("127.0.0.9:5")});
  const size_t published = world_.published().size();
  // A registry change looks the name up again; it fails this time.
  book_.Update(Snapshot({Record("named", "v2", "localhost:5", 2)}));
  EXPECT_THAT(Ids(world_.published().back()), ElementsAre("named"));
  world_.Answer(absl::UnavailableError("temporary failure"));
  EXPECT_THAT(world_.notices().back(), HasSubstr("keeping its last addresses"));
  EXPECT_EQ(world_.published().size(), published + 1);
  EXPECT_EQ(world_.published().back()[0].address.key(),
            Ip("127.0.0.9:5").key());
  EXPECT_THAT(world_.published().back()[0].versions, ElementsAre("v2"));
}

TEST_F(AddressBookTest, NoHookRunsAfterStop) {
  book_.Update(Snapshot({Record("named", "v1", "localhost:5", 1)}));
  const size_t published = world_.published().size();
  book_.Stop();
  world_.Answer(std::vector<SocketAddress>{Ip("127.0.0.9:5")});
  world_.RunDue(absl::Hours(1));
  EXPECT_EQ(world_.published().size(), published);
  book_.Update(Snapshot({}));
  EXPECT_EQ(world_.published().size(), published);
}

TEST_F(AddressBookTest, MalformedAddressIsSkippedWithANotice) {
  book_.Update(Snapshot({Record("bad", "v1", "[fe80::1%nosuchif0]:5", 1),
                         Record("ok", "v1", "127.0.0.1:5", 2)}));
  EXPECT_THAT(Ids(world_.published().back()), ElementsAre("ok"));
  ASSERT_EQ(world_.notices().size(), 1u);
  EXPECT_THAT(world_.notices()[0], HasSubstr("nosuchif0"));
}

TEST(SocketAddressTest, Ipv6ZoneBecomesTheScopeId) {
  const unsigned loopback = if_nametoindex("lo");
  ASSERT_NE(loopback, 0u);
  for (const std::string& text :
       {std::string("[fe80::1%lo]:80"),
        absl::StrCat("[fe80::1%", loopback, "]:80")}) {
    auto parsed = ParseIpHostPort(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_TRUE(parsed->has_value());
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&(*parsed)->storage);
    EXPECT_EQ(v6->sin6_family, AF_INET6);
    EXPECT_EQ(v6->sin6_scope_id, loopback) << text;
    EXPECT_EQ(ntohs(v6->sin6_port), 80);
  }
  auto unknown = ParseIpHostPort("[fe80::1%nosuchif0]:80");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("not a network interface"));
}

TEST(SocketAddressTest, NamesAreNotLiterals) {
  auto parsed = ParseIpHostPort("localhost:80");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->has_value());
  EXPECT_FALSE(ParseIpHostPort("127.0.0.1:0").ok());
  EXPECT_FALSE(ParseIpHostPort("127.0.0.1").ok());
}

}  // namespace
}  // namespace vlb::internal
