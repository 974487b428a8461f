// The registrar's state machine. Everything that changes state runs on the
// etcd client's dispatcher thread, so the steps below need no locks among
// themselves; `mu_` only guards what the public accessors read.
//
// One "reconcile" brings etcd in line with what we want: get a lease if we
// have none, then write the key with a fenced transaction:
//   if key absent            -> put(key, value, lease)
//   else if key.lease == ours -> put(key, value, lease)
//   else                      -> range(key)   (held by someone else)
// Triggers: Start, Update, Drain/Undrain, the lease reported gone or back,
// the key deleted or overwritten (seen by a watch on the key), and retries
// after failures.
//
// The watch on the key also tells the registrar's own writes from operator
// edits under its lease (vlbctl drain): it remembers the values it sent, and
// a value it did not send that names its instance has its `drained` and
// `weight` adopted (see "Operator edits" in vlb/registrar.h).
#include "vlb/registrar.h"

#include <algorithm>
#include <deque>
#include <future>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/process_identity.h"
#include "etcd/client.h"
#include "registry/registrar_internal.h"
#include "registry/registrar_options.h"

namespace vlb {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

class RegistrarImpl final : public Registrar {
 public:
  RegistrarImpl(RegistrarOptions options, RegistrarCallback callback,
                std::shared_ptr<etcd::Client> client,
                internal::GraceWait grace_wait)
      : options_(std::move(options)),
        callback_(std::move(callback)),
        client_(std::move(client)),
        grace_wait_(grace_wait ? std::move(grace_wait)
                               : [](absl::Duration d) { absl::SleepFor(d); }),
        key_(InstanceKey(options_.service_name, options_.instance_id)),
        published_instance_(internal::InstanceFromOptions(options_)),
        instance_(internal::InstanceFromOptions(options_)),
        backoff_(options_.initial_backoff, options_.max_backoff) {}

  ~RegistrarImpl() override {
    Stop();
    client_->Close();
  }

  absl::Status Start(absl::Duration wait) override {
    std::shared_ptr<std::promise<absl::Status>> outcome;
    bool already = false;
    // From the event callback (the dispatcher thread) waiting would block
    // the very thread that does the work.
    const bool can_wait = !client_->InDispatcherThread();
    RunSync([&] {
      if (started_ || stopped_) {
        already = true;
        return;
      }
      started_ = true;
      if (can_wait) outcome = WaitForNextWrite();
      ReconcileSoon(can_wait);
    });
    if (!already && !can_wait) {
      return absl::UnavailableError(absl::StrCat(
          "registration of ", key_,
          " started; Start() called from the event callback does not wait"));
    }
    if (already) {
      if (stopped_) return absl::FailedPreconditionError("registrar stopped");
      return registered() ? absl::OkStatus()
                          : absl::UnavailableError("not registered (yet)");
    }
    auto future = outcome->get_future();
    if (future.wait_for(absl::ToChronoNanoseconds(wait)) !=
        std::future_status::ready) {
      return absl::DeadlineExceededError(absl::StrCat(
          "registration of ", key_, " not confirmed within ",
          absl::FormatDuration(wait), "; still trying in the background"));
    }
    return future.get();
  }

  absl::Status Update(
      std::optional<std::string> version, std::optional<uint32_t> weight,
      std::optional<std::map<std::string, std::string>> metadata) override {
    if (version) {
      if (absl::Status s = internal::ValidateVersion(*version); !s.ok()) {
        return s;
      }
    }
    if (weight && *weight > kMaxWeight) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight: ", *weight, " is out of range [", kMinWeight,
                       ", ", kMaxWeight, "]"));
    }
    if (metadata) {
      if (absl::Status s = internal::ValidateMetadata(*metadata); !s.ok()) {
        return s;
      }
    }
    return Rewrite([&](ServiceInstance& updated) {
      if (version) updated.version = *version;
      if (weight) updated.weight = *weight;
      if (metadata) updated.metadata = *metadata;
    });
  }

  absl::Status Drain() override {
    return Rewrite([](ServiceInstance& updated) { updated.drained = true; });
  }
  absl::Status Undrain() override {
    return Rewrite([](ServiceInstance& updated) { updated.drained = false; });
  }

  // Applies `change` to the instance and waits for the write carrying it.
  absl::Status Rewrite(const std::function<void(ServiceInstance&)>& change) {
    const bool can_wait = !client_->InDispatcherThread();
    std::shared_ptr<std::promise<absl::Status>> outcome;
    absl::Status refused;
    RunSync([&] {
      // Merged here, on the dispatcher, so that concurrent calls each build
      // on the other's change instead of one losing it.
      ServiceInstance updated = instance_;
      change(updated);
      if (EncodeServiceRecord(updated).size() > kMaxRecordBytes) {
        refused = absl::InvalidArgumentError(absl::StrCat(
            "metadata: the record would exceed ", kMaxRecordBytes, " bytes"));
        return;
      }
      SetInstance(std::move(updated));
      if (stopped_ || !started_) return;  // written by a later Start()
      if (can_wait) outcome = WaitForNextWrite();
      ReconcileSoon(can_wait);
    });
    if (!refused.ok() || outcome == nullptr) return refused;
    return outcome->get_future().get();
  }

  // Reconciles now, or, from the event callback, right after it: the
  // callback may run in the middle of a state transition.
  void ReconcileSoon(bool now) {
    if (now) {
      Reconcile();
    } else {
      client_->RunAfter(absl::ZeroDuration(), [this] { Reconcile(); });
    }
  }

  // A promise kept by the outcome of the next write (dispatcher thread).
  std::shared_ptr<std::promise<absl::Status>> WaitForNextWrite() {
    auto outcome = std::make_shared<std::promise<absl::Status>>();
    write_waiters_.push_back(
        [outcome](const absl::Status& status) { outcome->set_value(status); });
    return outcome;
  }

  absl::Status Shutdown() override { return Shutdown(options_.drain_grace); }

  absl::Status Shutdown(absl::Duration grace) override {
    if (client_->InDispatcherThread()) return ShutdownLater(grace);
    bool running = false;
    RunSync([&] { running = started_ && !stopped_; });
    absl::Status drained = absl::OkStatus();
    if (running) {
      drained = Drain();
      // Clients that could not see the drained record would not move away:
      // waiting for them would only delay the stop.
      if (drained.ok() && grace > absl::ZeroDuration()) grace_wait_(grace);
    }
    Stop();
    return drained;
  }

  // Shutdown() from the event callback: nothing may wait on this thread, so
  // the drain is queued and Stop() runs on it once `grace` has passed.
  absl::Status ShutdownLater(absl::Duration grace) {
    if (stopped_) return absl::OkStatus();
    ServiceInstance drained = instance_;
    drained.drained = true;
    SetInstance(std::move(drained));
    if (started_) ReconcileSoon(false);
    client_->CancelTimer(shutdown_timer_);
    shutdown_timer_ = client_->RunAfter(grace, [this] {
      shutdown_timer_ = 0;
      Stop();
    });
    return absl::UnavailableError(
        absl::StrCat("drain of ", key_,
                     " queued; Shutdown() called from the event callback "
                     "does not wait, and stops in ",
                     absl::FormatDuration(grace)));
  }

  void Stop() override {
    int64_t lease = 0;
    bool first = false;
    RunSync([&] {
      if (stopped_) return;
      first = true;
      stopped_ = true;
      client_->CancelTimer(retry_timer_);
      client_->CancelTimer(shutdown_timer_);
      if (watch_id_ != 0) client_->CancelWatch(watch_id_);
      watch_id_ = 0;
      lease = lease_id_;
      if (lease != 0) client_->StopKeepAlive(lease);
      SetLease(0);
      SetRegistered(false);
      FireWaiters(absl::CancelledError("registrar stopped"));
    });
    if (!first) return;
    if (lease != 0 && client_->InDispatcherThread()) {
      // A blocking revoke here would wait for this very thread. The event
      // comes after the callback that called Stop(), not inside it.
      client_->RunAfter(absl::ZeroDuration(), [this] {
        Notify(RegistrarEvent::kStopped,
               absl::UnavailableError(absl::StrCat(
                   "stopped from the event callback, which cannot wait for "
                   "the lease to be revoked; ",
                   key_, " disappears when its TTL runs out")));
      });
      return;
    }
    if (lease != 0) {
      // Revoking deletes the key at once instead of after the TTL.
      absl::Status status = client_->LeaseRevoke(lease);
      if (!status.ok() && status.code() != absl::StatusCode::kNotFound) {
        Notify(RegistrarEvent::kStopped,
               absl::UnavailableError(absl::StrCat(
                   "could not revoke lease; ", key_,
                   " disappears when its TTL runs out: ", status.message())));
        return;
      }
    }
    Notify(RegistrarEvent::kStopped, absl::OkStatus());
  }

  ServiceInstance instance() const override {
    absl::MutexLock lock(&mu_);
    return published_instance_;
  }
  std::string key() const override { return key_; }
  int64_t lease_id() const override {
    absl::MutexLock lock(&mu_);
    return published_lease_id_;
  }
  bool registered() const override {
    absl::MutexLock lock(&mu_);
    return registered_;
  }

 private:
  void RunSync(const std::function<void()>& fn) { client_->RunSync(fn); }

  void Notify(RegistrarEvent event, const absl::Status& detail) {
    if (callback_) callback_(event, detail);
  }

  void SetInstance(ServiceInstance instance) {
    instance_ = std::move(instance);
    absl::MutexLock lock(&mu_);
    published_instance_ = instance_;
  }

  void SetLease(int64_t lease) {
    lease_id_ = lease;
    absl::MutexLock lock(&mu_);
    published_lease_id_ = lease;
  }
  void SetRegistered(bool registered) {
    absl::MutexLock lock(&mu_);
    registered_ = registered;
  }

  void FireWaiters(const absl::Status& status) {
    std::vector<std::function<void(const absl::Status&)>> waiters;
    waiters.swap(write_waiters_);
    for (auto& waiter : waiters) waiter(status);
  }

  // --- The reconcile loop (dispatcher thread) -------------------------------

  void Reconcile() {
    if (stopped_) return;
    if (in_flight_) {
      again_ = true;  // state changed under the running attempt
      return;
    }
    if (retry_timer_ != 0) {
      client_->CancelTimer(retry_timer_);
      retry_timer_ = 0;
    }
    in_flight_ = true;
    again_ = false;
    if (lease_id_ == 0) {
      client_->LeaseGrantAsync(
          options_.ttl,
          [this](absl::StatusOr<etcdserverpb::LeaseGrantResponse> grant) {
            OnGranted(std::move(grant));
          });
      return;
    }
    WriteKey();
  }

  void OnGranted(absl::StatusOr<etcdserverpb::LeaseGrantResponse> grant) {
    if (stopped_) {
      // Stopped while granting: don't leave the new lease behind. Rare, so
      // a blocking revoke on the dispatcher is acceptable.
      if (grant.ok()) (void)client_->LeaseRevoke(grant->id());
      in_flight_ = false;
      return;
    }
    if (!grant.ok()) {
      Failed(grant.status(), RegistrarEvent::kLost);
      return;
    }
    const int64_t lease = grant->id();
    SetLease(lease);
    client_->KeepAlive(lease, options_.ttl,
                       [this, lease](const absl::Status& state) {
                         OnLeaseState(lease, state);
                       });
    WriteKey();
  }

  void WriteKey() {
    const std::string value = EncodeServiceRecord(instance_);
    RememberSent(value);
    auto put = [&](etcdserverpb::RequestOp* op) {
      auto* request = op->mutable_request_put();
      request->set_key(key_);
      request->set_value(value);
      request->set_lease(lease_id_);
    };
    TxnRequest txn;
    Compare* absent = txn.add_compare();
    absent->set_key(key_);
    absent->set_target(Compare::CREATE);
    absent->set_result(Compare::EQUAL);
    absent->set_create_revision(0);
    put(txn.add_success());
    TxnRequest* owned = txn.add_failure()->mutable_request_txn();
    Compare* ours = owned->add_compare();
    ours->set_key(key_);
    ours->set_target(Compare::LEASE);
    ours->set_result(Compare::EQUAL);
    ours->set_lease(lease_id_);
    put(owned->add_success());
    owned->add_failure()->mutable_request_range()->set_key(key_);
    client_->TxnAsync(txn, [this](absl::StatusOr<TxnResponse> response) {
      OnWritten(std::move(response));
    });
  }

  void OnWritten(absl::StatusOr<TxnResponse> response) {
    if (stopped_) {
      in_flight_ = false;
      return;
    }
    if (!response.ok()) {
      if (response.status().code() == absl::StatusCode::kNotFound) {
        // "requested lease not found": it expired under us; get a new one.
        DropLease();
      }
      Failed(response.status(), RegistrarEvent::kLost);
      return;
    }
    const bool written = response->succeeded() ||
                         (response->responses_size() > 0 &&
                          response->responses(0).response_txn().succeeded());
    if (!written) {
      std::string holder = "another lease";
      const auto& inner = response->responses(0).response_txn();
      if (inner.responses_size() > 0 &&
          inner.responses(0).response_range().kvs_size() > 0) {
        holder = absl::StrCat(
            "lease ", inner.responses(0).response_range().kvs(0).lease());
      }
      Failed(absl::AlreadyExistsError(absl::StrCat(
                 key_, " is held by ", holder,
                 " (another instance with the same id?); retrying until it "
                 "goes away")),
             RegistrarEvent::kConflict);
      return;
    }
    in_flight_ = false;
    if (!watch_refused_) backoff_.Reset();
    conflict_reported_ = false;
    SetRegistered(true);
    if (watch_id_ == 0) WatchKey(response->header().revision() + 1);
    if (!ever_registered_) {
      ever_registered_ = true;
      Notify(RegistrarEvent::kRegistered, absl::OkStatus());
    } else if (lost_) {
      Notify(RegistrarEvent::kReRegistered, absl::OkStatus());
    }
    lost_ = false;
    if (again_) {
      // The state changed while this write was in flight (e.g. Update()):
      // its waiters wait for the write that carries the change.
      Reconcile();
      return;
    }
    FireWaiters(absl::OkStatus());
  }

  void Failed(const absl::Status& status, RegistrarEvent event) {
    in_flight_ = false;
    SetRegistered(false);
    FireWaiters(status);
    if (event == RegistrarEvent::kConflict) {
      if (!conflict_reported_) Notify(event, status);
      conflict_reported_ = true;
    } else if (ever_registered_ && !lost_) {
      lost_ = true;
      Notify(RegistrarEvent::kLost, status);
    }
    if (ever_registered_) lost_ = true;
    const absl::Duration delay =
        again_ ? absl::ZeroDuration() : backoff_.Next();
    retry_timer_ = client_->RunAfter(delay, [this] {
      retry_timer_ = 0;
      Reconcile();
    });
  }

  void DropLease() {
    if (lease_id_ != 0) client_->StopKeepAlive(lease_id_);
    SetLease(0);
  }

  // Marks the registration lost (once) and heals.
  void Lost(const absl::Status& why) {
    SetRegistered(false);
    if (ever_registered_ && !lost_) {
      lost_ = true;
      Notify(RegistrarEvent::kLost, why);
    }
    Reconcile();
  }

  void OnLeaseState(int64_t lease, const absl::Status& state) {
    if (stopped_ || lease != lease_id_) return;
    switch (state.code()) {
      case absl::StatusCode::kNotFound:  // expired or revoked: start over
        SetLease(0);
        Lost(state);
        return;
      case absl::StatusCode::kOk:  // confirmed again: make sure the key is
        Reconcile();               // still there (etcd may have restarted)
        return;
      default:  // unconfirmed: report, keep the lease, wait for news
        SetRegistered(false);
        if (ever_registered_ && !lost_) {
          lost_ = true;
          Notify(RegistrarEvent::kLost, state);
        }
        return;
    }
  }

  void WatchKey(int64_t from_revision) {
    etcd::WatchOptions watch;
    watch.key = key_;
    watch.start_revision = from_revision;
    watch_id_ = client_->Watch(
        std::move(watch),
        [this](const etcd::WatchUpdate& update) { OnKeyEvents(update); },
        [this](const absl::Status& status) { OnKeyWatchEnd(status); });
  }

  void OnKeyWatchEnd(const absl::Status& status) {
    watch_id_ = 0;
    if (absl::IsDataLoss(status) || etcd::IsCompacted(status)) {
      Lost(status);  // look again from scratch, at once
      return;
    }
    // Refused: heal after a backoff that only a working watch resets, so a
    // write-then-refused-watch cycle cannot spin.
    watch_refused_ = true;
    if (retry_timer_ != 0) return;
    retry_timer_ = client_->RunAfter(backoff_.Next(), [this, status] {
      retry_timer_ = 0;
      Lost(status);
    });
  }

  void OnKeyEvents(const etcd::WatchUpdate& update) {
    if (watch_refused_) {  // the watch works again
      watch_refused_ = false;
      backoff_.Reset();
    }
    for (const mvccpb::Event& event : update.events) {
      if (event.type() == mvccpb::Event::DELETE) {
        Lost(absl::NotFoundError(absl::StrCat(key_, " was deleted")));
        return;
      }
      if (event.kv().lease() != lease_id_) {
        Lost(absl::AlreadyExistsError(absl::StrCat(
            key_, " was overwritten under lease ", event.kv().lease())));
        return;
      }
      if (!WasSent(event.kv().value())) AdoptEdit(event.kv().value());
    }
  }

  // --- Telling our writes from operator edits (dispatcher thread) ----------

  // Values written but not yet seen on the watch. Bounded: a write that
  // never lands (refused as a conflict) must not make the list grow.
  void RememberSent(const std::string& value) {
    constexpr size_t kMaxUnseenWrites = 16;
    sent_values_.push_back(value);
    if (sent_values_.size() > kMaxUnseenWrites) sent_values_.pop_front();
  }

  // Whether `value` is one of ours; forgets it and the writes before it
  // (the watch delivers them in order).
  bool WasSent(const std::string& value) {
    auto it = std::find(sent_values_.begin(), sent_values_.end(), value);
    if (it == sent_values_.end()) return false;
    sent_values_.erase(sent_values_.begin(), it + 1);
    return true;
  }

  // A value someone else wrote under our lease. An edit of our instance
  // gives us its operator-controlled fields; anything else (not a record,
  // another instance) is put right by writing ours back.
  void AdoptEdit(const std::string& value) {
    absl::StatusOr<ServiceInstance> edited = DecodeServiceRecord(value);
    if (edited.ok() && edited->id == instance_.id &&
        edited->address == instance_.address) {
      ServiceInstance adopted = instance_;
      adopted.drained = edited->drained;
      adopted.weight = edited->weight;
      SetInstance(std::move(adopted));
      // The rest of the record is ours: rewrite it only if the edit
      // changed more than what we adopt, or if a write of ours still in
      // flight (made before the adoption) may land on top of the edit.
      if (!in_flight_ && EncodeServiceRecord(instance_) == value) return;
    }
    Reconcile();
  }

  const RegistrarOptions options_;
  const RegistrarCallback callback_;
  const std::shared_ptr<etcd::Client> client_;
  const internal::GraceWait grace_wait_;
  const std::string key_;

  // What the accessors read from any thread: copies of the dispatcher's
  // instance_ and lease_id_, published after each change.
  mutable absl::Mutex mu_;
  ServiceInstance published_instance_ ABSL_GUARDED_BY(mu_);
  int64_t published_lease_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;

  // Dispatcher-thread state.
  ServiceInstance instance_;
  int64_t lease_id_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  bool in_flight_ = false;  // a grant or write is outstanding
  bool again_ = false;      // reconcile again when it completes
  bool ever_registered_ = false;
  bool lost_ = false;
  bool conflict_reported_ = false;
  bool watch_refused_ = false;  // until the key watch delivers again
  uint64_t watch_id_ = 0;
  uint64_t retry_timer_ = 0;
  uint64_t shutdown_timer_ = 0;  // Stop() after a Shutdown() from a callback
  std::deque<std::string> sent_values_;
  internal::Backoff backoff_;
  std::vector<std::function<void(const absl::Status&)>> write_waiters_;
};

}  // namespace

const char* RegistrarEventName(RegistrarEvent event) {
  switch (event) {
    case RegistrarEvent::kRegistered:
      return "registered";
    case RegistrarEvent::kLost:
      return "lost";
    case RegistrarEvent::kReRegistered:
      return "re-registered";
    case RegistrarEvent::kConflict:
      return "conflict";
    case RegistrarEvent::kStopped:
      return "stopped";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Registrar>> Registrar::Create(
    RegistrarOptions options, RegistrarCallback callback) {
  if (absl::Status status = internal::NormalizeRegistrarOptions(options);
      !status.ok()) {
    return status;
  }
  absl::StatusOr<etcd::ClientOptions> client_options =
      internal::MakeClientOptions(options.etcd, options.initial_backoff,
                                  options.max_backoff);
  if (!client_options.ok()) return client_options.status();
  absl::StatusOr<std::unique_ptr<etcd::Client>> client =
      etcd::Client::Create(*std::move(client_options));
  if (!client.ok()) return client.status();
  // The process is, by default, the service it registers (route rules'
  // callerService/callerVersion; common/process_identity.h).
  internal::RecordRegisteredIdentity(options.service_name, options.version);
  // Validates again (cheap, idempotent): one path for tests and users.
  return internal::CreateRegistrar(std::move(options), std::move(callback),
                                   *std::move(client));
}

namespace internal {

absl::StatusOr<std::unique_ptr<Registrar>> CreateRegistrar(
    RegistrarOptions options, RegistrarCallback callback,
    std::shared_ptr<etcd::Client> client, GraceWait grace_wait) {
  if (absl::Status status = NormalizeRegistrarOptions(options); !status.ok()) {
    return status;
  }
  return std::unique_ptr<Registrar>(
      new RegistrarImpl(std::move(options), std::move(callback),
                        std::move(client), std::move(grace_wait)));
}

}  // namespace internal
}  // namespace vlb
