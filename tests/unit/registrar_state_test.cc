// The registrar's state machine on the fake etcd: each transition and
// recovery path, on fake time (backoff delays are measured on its clock).
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "fake_etcd.h"
#include "fake_etcd_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/registrar_internal.h"
#include "vlb/registrar.h"

namespace vlb {
namespace {

using ::vlb::testing::FakeCall;
using ::vlb::testing::FakeEtcd;
using Events = std::vector<RegistrarEvent>;

constexpr char kKey[] = "/hwholiday/srv/app/app-1";

RegistrarOptions Options() {
  RegistrarOptions options;
  options.service_name = "hwholiday.srv.app";
  options.instance_id = "app-1";
  options.version = "v1";
  options.address = "127.0.0.7:8089";
  options.ttl = absl::Seconds(3);
  return options;
}

class RegistrarStateTest : public ::testing::Test {
 protected:
  ~RegistrarStateTest() override {
    for (auto& r : registrars_) r.reset();
  }

  Registrar& Make(std::vector<RegistrarEvent>* events = nullptr,
                  internal::GraceWait grace_wait = nullptr) {
    if (events == nullptr) events = &events_;
    auto registrar = internal::CreateRegistrar(
        Options(),
        [events](RegistrarEvent event, const absl::Status&) {
          events->push_back(event);
        },
        etcd_.NewClient(), std::move(grace_wait));
    EXPECT_TRUE(registrar.ok()) << registrar.status();
    registrars_.push_back(*std::move(registrar));
    return *registrars_.back();
  }

  // The lease the key is bound to, 0 when there is no key.
  int64_t KeyLease() {
    auto kv = etcd_.Get(kKey);
    return kv.has_value() ? kv->lease() : 0;
  }

  // The record at the key, decoded (a failed test when it is not one).
  ServiceInstance Record() {
    auto kv = etcd_.Get(kKey);
    EXPECT_TRUE(kv.has_value());
    if (!kv.has_value()) return {};
    absl::StatusOr<ServiceInstance> decoded = DecodeServiceRecord(kv->value());
    EXPECT_TRUE(decoded.ok()) << decoded.status();
    return decoded.ok() ? *decoded : ServiceInstance{};
  }

  // What vlbctl drain does: the record rewritten in place under its lease.
  void OperatorEdit(bool drained, uint32_t weight) {
    ServiceInstance edited = Record();
    edited.drained = drained;
    edited.weight = weight;
    etcd_.Put(kKey, EncodeServiceRecord(edited), KeyLease());
    etcd_.RunUntilIdle();
  }

  FakeEtcd etcd_;
  std::vector<std::unique_ptr<Registrar>> registrars_;
  // Members, not locals: the registrars' destructors report kStopped here.
  Events events_;
  Events second_events_;
};

TEST_F(RegistrarStateTest, FirstRegistrationWritesTheKeyUnderALease) {
  Registrar& registrar = Make();
  EXPECT_TRUE(etcd_.CallsOf("LeaseGrant").empty());  // nothing before Start
  ASSERT_TRUE(registrar.Start().ok());
  EXPECT_TRUE(registrar.registered());
  EXPECT_NE(registrar.lease_id(), 0);
  EXPECT_EQ(KeyLease(), registrar.lease_id());
  auto decoded = DecodeServiceRecord(etcd_.Get(kKey)->value());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->address, "127.0.0.7:8089");
  EXPECT_EQ(events_, Events{RegistrarEvent::kRegistered});
}

TEST_F(RegistrarStateTest, KeepAliveHoldsTheKeyFarPastTheTtl) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t lease = registrar.lease_id();
  etcd_.AdvanceTime(absl::Minutes(2));
  EXPECT_EQ(KeyLease(), lease);
  EXPECT_EQ(events_, Events{RegistrarEvent::kRegistered});
}

TEST_F(RegistrarStateTest, RevokedLeaseIsReplacedAndTheKeyWrittenAgain) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t old_lease = registrar.lease_id();
  etcd_.RevokeLease(old_lease);  // deletes the key too
  etcd_.AdvanceTime(absl::Seconds(2));
  EXPECT_TRUE(registrar.registered());
  EXPECT_NE(registrar.lease_id(), old_lease);
  EXPECT_EQ(KeyLease(), registrar.lease_id());
  EXPECT_EQ(events_, (Events{RegistrarEvent::kRegistered, RegistrarEvent::kLost,
                             RegistrarEvent::kReRegistered}));
}

TEST_F(RegistrarStateTest, LeaseExpiredDuringAnOutageIsReplaced) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t old_lease = registrar.lease_id();
  etcd_.SetUnavailable(true);
  etcd_.AdvanceTime(absl::Seconds(5));  // > TTL: unconfirmed, then expired
  EXPECT_FALSE(registrar.registered());
  EXPECT_EQ(events_,
            (Events{RegistrarEvent::kRegistered, RegistrarEvent::kLost}));
  EXPECT_EQ(KeyLease(), 0);
  etcd_.SetUnavailable(false);
  etcd_.AdvanceTime(absl::Seconds(6));
  EXPECT_TRUE(registrar.registered());
  EXPECT_NE(registrar.lease_id(), old_lease);
  EXPECT_EQ(KeyLease(), registrar.lease_id());
  EXPECT_EQ(events_.back(), RegistrarEvent::kReRegistered);
}

TEST_F(RegistrarStateTest, DeletedKeyIsWrittenBackUnderTheSameLease) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t lease = registrar.lease_id();
  etcd_.Delete(kKey);
  etcd_.RunUntilIdle();
  EXPECT_EQ(KeyLease(), lease);
  EXPECT_EQ(events_, (Events{RegistrarEvent::kRegistered, RegistrarEvent::kLost,
                             RegistrarEvent::kReRegistered}));
}

TEST_F(RegistrarStateTest, OverwrittenKeyIsAConflictUntilTheOtherLeaseGoes) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t other = etcd_.GrantLease(absl::Seconds(60));
  etcd_.Put(kKey, "{\"someone\": \"else\"}", other);
  etcd_.AdvanceTime(absl::Seconds(10));  // retries all along
  EXPECT_EQ(KeyLease(), other);  // never overwritten by the fenced write
  EXPECT_FALSE(registrar.registered());
  EXPECT_GT(etcd_.CallsOf("Txn").size(), 5u);
  EXPECT_EQ(events_, (Events{RegistrarEvent::kRegistered, RegistrarEvent::kLost,
                             RegistrarEvent::kConflict}));  // reported once
  etcd_.RevokeLease(other);
  etcd_.RunUntilIdle();
  EXPECT_EQ(KeyLease(), registrar.lease_id());
  EXPECT_EQ(events_.back(), RegistrarEvent::kReRegistered);
}

TEST_F(RegistrarStateTest, SecondInstanceWithTheSameIdTakesOverWhenFirstStops) {
  Registrar& first = Make();
  ASSERT_TRUE(first.Start().ok());
  Registrar& second = Make(&second_events_);
  const absl::Status started = second.Start();
  EXPECT_TRUE(absl::IsAlreadyExists(started)) << started;
  EXPECT_EQ(second_events_, Events{RegistrarEvent::kConflict});
  EXPECT_EQ(KeyLease(), first.lease_id());
  first.Stop();
  etcd_.AdvanceTime(absl::Seconds(10));
  EXPECT_TRUE(second.registered());
  EXPECT_EQ(KeyLease(), second.lease_id());
  EXPECT_EQ(second_events_.back(), RegistrarEvent::kRegistered);
}

TEST_F(RegistrarStateTest, UpdateRewritesTheValueUnderTheSameLease) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t lease = registrar.lease_id();
  ASSERT_TRUE(registrar.Update("v2", 7, std::nullopt).ok());
  auto decoded = DecodeServiceRecord(etcd_.Get(kKey)->value());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->version, "v2");
  EXPECT_EQ(decoded->weight, 7u);
  EXPECT_EQ(KeyLease(), lease);
  EXPECT_EQ(events_, Events{RegistrarEvent::kRegistered});
}

TEST_F(RegistrarStateTest, StopRevokesTheLease) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t lease = registrar.lease_id();
  registrar.Stop();
  EXPECT_FALSE(etcd_.Get(kKey).has_value());
  EXPECT_EQ(etcd_.store().FindLease(lease), nullptr);
  EXPECT_EQ(events_,
            (Events{RegistrarEvent::kRegistered, RegistrarEvent::kStopped}));
  etcd_.AdvanceTime(absl::Seconds(30));  // and nothing heals it back
  EXPECT_FALSE(etcd_.Get(kKey).has_value());
}

TEST_F(RegistrarStateTest, UnavailableAtStartRetriesInTheBackgroundBackingOff) {
  etcd_.SetUnavailable(true);
  Registrar& registrar = Make();
  EXPECT_TRUE(absl::IsUnavailable(registrar.Start()));
  etcd_.AdvanceTime(absl::Seconds(3));
  std::vector<FakeCall> grants = etcd_.CallsOf("LeaseGrant");
  ASSERT_GE(grants.size(), 5u);
  absl::Duration base = absl::Milliseconds(100);  // x1.6 each, +-20%
  for (size_t i = 1; i < 5; ++i, base *= 1.6) {
    const absl::Duration gap = grants[i].at - grants[i - 1].at;
    EXPECT_GE(gap, base * 0.8) << i;
    EXPECT_LE(gap, base * 1.2) << i;
  }
  EXPECT_TRUE(events_.empty());  // never registered: nothing was lost
  etcd_.SetUnavailable(false);
  etcd_.AdvanceTime(absl::Seconds(3));
  EXPECT_TRUE(registrar.registered());
  EXPECT_EQ(events_, Events{RegistrarEvent::kRegistered});
}

TEST_F(RegistrarStateTest, WipedStoreIsRegisteredAgain) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  etcd_.Wipe();
  etcd_.AdvanceTime(absl::Seconds(2));
  EXPECT_TRUE(registrar.registered());
  EXPECT_EQ(KeyLease(), registrar.lease_id());
  EXPECT_EQ(events_, (Events{RegistrarEvent::kRegistered, RegistrarEvent::kLost,
                             RegistrarEvent::kReRegistered}));
}

// --- Drain, operator edits, graceful shutdown ---------------------------

TEST_F(RegistrarStateTest, DrainAndUndrainRewriteTheRecordUnderTheSameLease) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t lease = registrar.lease_id();
  EXPECT_THAT(etcd_.Get(kKey)->value(),
              ::testing::Not(::testing::HasSubstr("drained")));
  ASSERT_TRUE(registrar.Drain().ok());
  EXPECT_TRUE(Record().drained);
  EXPECT_TRUE(registrar.instance().drained);
  EXPECT_EQ(KeyLease(), lease);
  ASSERT_TRUE(registrar.Undrain().ok());
  EXPECT_FALSE(Record().drained);
  EXPECT_THAT(etcd_.Get(kKey)->value(),
              ::testing::Not(::testing::HasSubstr("drained")));
  EXPECT_EQ(KeyLease(), lease);
  EXPECT_EQ(events_, Events{RegistrarEvent::kRegistered});
}

TEST_F(RegistrarStateTest, DrainBeforeStartIsWrittenByStart) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Drain().ok());
  EXPECT_FALSE(etcd_.Get(kKey).has_value());
  ASSERT_TRUE(registrar.Start().ok());
  EXPECT_TRUE(Record().drained);
}

TEST_F(RegistrarStateTest, OperatorDrainIsAdoptedWithoutARewrite) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  const size_t txns = etcd_.CallsOf("Txn").size();
  OperatorEdit(/*drained=*/true, /*weight=*/3);
  EXPECT_TRUE(registrar.instance().drained);
  EXPECT_EQ(registrar.instance().weight, 3u);
  EXPECT_EQ(etcd_.CallsOf("Txn").size(), txns);  // nothing to put right
  EXPECT_TRUE(registrar.registered());
  EXPECT_EQ(events_, Events{RegistrarEvent::kRegistered});
}

TEST_F(RegistrarStateTest, OperatorDrainSurvivesUpdate) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  OperatorEdit(/*drained=*/true, /*weight=*/3);
  ASSERT_TRUE(registrar.Update("v2", std::nullopt, std::nullopt).ok());
  ServiceInstance record = Record();
  EXPECT_EQ(record.version, "v2");
  EXPECT_TRUE(record.drained);
  EXPECT_EQ(record.weight, 3u);
  // An explicit weight is the application's word, the drain stays.
  ASSERT_TRUE(registrar.Update(std::nullopt, 9, std::nullopt).ok());
  EXPECT_EQ(Record().weight, 9u);
  EXPECT_TRUE(Record().drained);
}

TEST_F(RegistrarStateTest, OperatorDrainSurvivesALostLease) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  OperatorEdit(/*drained=*/true, /*weight=*/3);
  const int64_t old_lease = registrar.lease_id();
  etcd_.RevokeLease(old_lease);
  etcd_.AdvanceTime(absl::Seconds(2));
  ASSERT_TRUE(registrar.registered());
  EXPECT_NE(KeyLease(), old_lease);
  EXPECT_TRUE(Record().drained);
  EXPECT_EQ(Record().weight, 3u);
  EXPECT_EQ(events_.back(), RegistrarEvent::kReRegistered);
}

TEST_F(RegistrarStateTest, OperatorDrainSurvivesAWipedStore) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  OperatorEdit(/*drained=*/true, /*weight=*/1);
  etcd_.Wipe();
  etcd_.AdvanceTime(absl::Seconds(2));
  ASSERT_TRUE(registrar.registered());
  EXPECT_TRUE(Record().drained);
}

TEST_F(RegistrarStateTest, OperatorUndrainIsAdoptedToo) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  ASSERT_TRUE(registrar.Drain().ok());
  OperatorEdit(/*drained=*/false, /*weight=*/1);
  EXPECT_FALSE(registrar.instance().drained);
  ASSERT_TRUE(registrar.Update("v2", std::nullopt, std::nullopt).ok());
  EXPECT_FALSE(Record().drained);
}

TEST_F(RegistrarStateTest, EditOfTheRegistrarsOwnFieldsIsWrittenBack) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  ServiceInstance edited = Record();
  edited.version = "v9";
  edited.drained = true;
  etcd_.Put(kKey, EncodeServiceRecord(edited), KeyLease());
  etcd_.RunUntilIdle();
  EXPECT_EQ(Record().version, "v1");
  EXPECT_TRUE(Record().drained);
  EXPECT_EQ(KeyLease(), registrar.lease_id());

  // Not a record of this instance at all: ours is written back.
  etcd_.Put(kKey, "{\"not\": \"a record\"}", KeyLease());
  etcd_.RunUntilIdle();
  EXPECT_EQ(Record().address, "127.0.0.7:8089");
  EXPECT_TRUE(Record().drained);
}

TEST_F(RegistrarStateTest, DrainedRecordUnderAnotherLeaseIsStillAConflict) {
  Registrar& registrar = Make();
  ASSERT_TRUE(registrar.Start().ok());
  ServiceInstance edited = Record();
  edited.drained = true;
  const int64_t other = etcd_.GrantLease(absl::Seconds(60));
  etcd_.Put(kKey, EncodeServiceRecord(edited), other);
  etcd_.AdvanceTime(absl::Seconds(3));
  EXPECT_EQ(KeyLease(), other);
  EXPECT_FALSE(registrar.registered());
  EXPECT_FALSE(registrar.instance().drained);  // not adopted
  EXPECT_EQ(events_.back(), RegistrarEvent::kConflict);
}

TEST_F(RegistrarStateTest, ShutdownDrainsWaitsTheGraceThenRevokes) {
  std::optional<ServiceInstance> seen_during_grace;
  int64_t lease_during_grace = 0;
  absl::Time grace_start;
  Registrar& registrar = Make(nullptr, [&](absl::Duration grace) {
    seen_during_grace = Record();
    lease_during_grace = KeyLease();
    grace_start = etcd_.Now();
    EXPECT_TRUE(etcd_.CallsOf("LeaseRevoke").empty());
    etcd_.AdvanceTime(grace);
  });
  ASSERT_TRUE(registrar.Start().ok());
  const int64_t lease = registrar.lease_id();
  EXPECT_TRUE(registrar.Shutdown(absl::Seconds(4)).ok());
  ASSERT_TRUE(seen_during_grace.has_value());
  EXPECT_TRUE(seen_during_grace->drained);
  EXPECT_EQ(lease_during_grace, lease);
  std::vector<FakeCall> revokes = etcd_.CallsOf("LeaseRevoke");
  ASSERT_EQ(revokes.size(), 1u);
  EXPECT_EQ(revokes[0].at - grace_start, absl::Seconds(4));
  EXPECT_FALSE(etcd_.Get(kKey).has_value());
  EXPECT_EQ(events_,
            (Events{RegistrarEvent::kRegistered, RegistrarEvent::kStopped}));
}

TEST_F(RegistrarStateTest, ShutdownWithoutArgumentsUsesTheDrainGraceOption) {
  absl::Duration waited;
  Registrar& registrar = Make(nullptr, [&](absl::Duration grace) {
    waited = grace;
    etcd_.AdvanceTime(grace);
  });
  ASSERT_TRUE(registrar.Start().ok());
  EXPECT_TRUE(registrar.Shutdown().ok());
  EXPECT_EQ(waited, absl::Seconds(5));  // RegistrarOptions' default
}

TEST_F(RegistrarStateTest, ShutdownThatCannotDrainStopsWithoutWaiting) {
  bool waited = false;
  Registrar& registrar = Make(nullptr, [&](absl::Duration) { waited = true; });
  ASSERT_TRUE(registrar.Start().ok());
  etcd_.SetUnavailable(true);
  EXPECT_TRUE(absl::IsUnavailable(registrar.Shutdown(absl::Seconds(4))));
  EXPECT_FALSE(waited);
  EXPECT_EQ(events_.back(), RegistrarEvent::kStopped);
}

TEST_F(RegistrarStateTest, ShutdownBeforeStartJustStops) {
  bool waited = false;
  Registrar& registrar = Make(nullptr, [&](absl::Duration) { waited = true; });
  EXPECT_TRUE(registrar.Shutdown(absl::Seconds(4)).ok());
  EXPECT_FALSE(waited);
  EXPECT_FALSE(etcd_.Get(kKey).has_value());
}

TEST_F(RegistrarStateTest, ShutdownFromTheCallbackDrainsThenStopsAfterGrace) {
  Registrar* self = nullptr;
  absl::Status from_callback;
  auto registrar = internal::CreateRegistrar(
      Options(),
      [&](RegistrarEvent event, const absl::Status&) {
        events_.push_back(event);
        if (event == RegistrarEvent::kRegistered) {
          from_callback = self->Shutdown(absl::Seconds(4));
        }
      },
      etcd_.NewClient());
  ASSERT_TRUE(registrar.ok());
  self = registrar->get();
  registrars_.push_back(*std::move(registrar));
  (void)self->Start();
  etcd_.RunUntilIdle();
  EXPECT_TRUE(absl::IsUnavailable(from_callback)) << from_callback;
  EXPECT_TRUE(Record().drained);
  etcd_.AdvanceTime(absl::Seconds(3));
  EXPECT_TRUE(self->registered());
  etcd_.AdvanceTime(absl::Seconds(1));
  EXPECT_FALSE(self->registered());
  EXPECT_EQ(events_.back(), RegistrarEvent::kStopped);
}

}  // namespace
}  // namespace vlb
