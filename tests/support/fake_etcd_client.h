// The etcd::Client that FakeEtcd hands out: a thin adapter that admits each
// call through the fake cluster (faults, hooks, the call log), answers
// asynchronous calls as FakeClock tasks, and keeps track of its own timers
// and answers so that Close() can end them as the real client does.
//
// Thread-safety: none; see fake_etcd.h.
#ifndef VLB_TESTS_SUPPORT_FAKE_ETCD_CLIENT_H_
#define VLB_TESTS_SUPPORT_FAKE_ETCD_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "etcd/client.h"

namespace vlb::testing {

class FakeEtcd;

class FakeEtcdClient final : public etcd::Client {
 public:
  FakeEtcdClient(FakeEtcd* etcd, etcd::ClientOptions options);
  ~FakeEtcdClient() override;  // Close()

  void Close() override;
  const etcd::ClientOptions& options() const override { return options_; }
  bool closed() const { return closed_; }

  absl::StatusOr<etcdserverpb::RangeResponse> Range(
      const etcdserverpb::RangeRequest& request) override;
  absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& request) override;
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& request) override;
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& request) override;
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(
      int64_t revision, bool physical) override;

  void RangeAsync(const etcdserverpb::RangeRequest& request,
                  etcd::Callback<etcdserverpb::RangeResponse> done) override;
  void TxnAsync(const etcdserverpb::TxnRequest& request,
                etcd::Callback<etcdserverpb::TxnResponse> done) override;

  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(
      absl::Duration ttl) override;
  absl::Status LeaseRevoke(int64_t lease_id) override;
  absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> LeaseTimeToLive(
      int64_t lease_id, bool with_keys) override;
  void LeaseGrantAsync(
      absl::Duration ttl,
      etcd::Callback<etcdserverpb::LeaseGrantResponse> done) override;
  void KeepAlive(int64_t lease_id, absl::Duration ttl,
                 etcd::LeaseStateCallback on_state) override;
  void StopKeepAlive(int64_t lease_id) override;

  uint64_t Watch(etcd::WatchOptions options,
                 etcd::WatchEventsCallback on_events,
                 etcd::WatchEndCallback on_end) override;
  void CancelWatch(uint64_t watch_id) override;
  void RequestWatchProgress() override;

  uint64_t RunAfter(absl::Duration delay, std::function<void()> fn) override;
  bool CancelTimer(uint64_t timer_id) override;
  bool InDispatcherThread() const override;
  void RunSync(const std::function<void()>& fn) override;

 private:
  // Runs `execute` (the call at the cluster) after the answer's delay and
  // hands its result to `done`; a failed admission is answered the same
  // way, so callbacks never run inside the call that started them.
  template <typename T>
  void Answer(const std::string& method, bool serializable,
              std::function<absl::StatusOr<T>()> execute,
              etcd::Callback<T> done);
  // Admits a synchronous call: OK or the failure to return.
  absl::Status AdmitNow(const std::string& method);

  FakeEtcd* const etcd_;
  const etcd::ClientOptions options_;
  bool closed_ = false;
  std::set<uint64_t> timers_;
  // Answers not given yet, with how to cancel each (Close()).
  std::map<uint64_t, std::function<void()>> pending_;
};

}  // namespace vlb::testing

#endif  // VLB_TESTS_SUPPORT_FAKE_ETCD_CLIENT_H_
