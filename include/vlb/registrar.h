// Registrar: announces one service instance in etcd and keeps it there.
//
// The instance is written at /<service path>/<id> bound to an etcd lease that
// the registrar keeps alive (every TTL/3). It heals by itself until stopped:
// when the lease is lost (expired during an etcd outage or a process pause,
// revoked by someone, or etcd came back empty) it grants a new lease and
// registers again; when someone deletes the key it writes it back. Retries use
// jittered exponential backoff. Stop() (and the destructor) revokes the lease
// so the key disappears at once.
//
// Writes are fenced with a transaction: the key is written only when it does
// not exist or is bound to this registrar's current lease, so a stale writer
// never overwrites a newer registration of the same id (the registrar reports
// kConflict and retries until the other registration goes away).
//
// Drain: Drain() marks the record `"drained": "true"` (clients send no new
// calls to it while another matching instance is ready) and Undrain()
// clears it, both in place under the same lease. Shutdown() is the graceful
// stop: drain, wait `drain_grace` for clients to move away, then Stop().
//
// Operator edits: someone else (vlbctl, vlb::AdminClient) may rewrite the
// record in place under this registrar's lease. The registrar watches its
// key; a value under its own lease that it did not write itself and that
// names its own instance (same id and address) is an operator edit: the
// registrar adopts its `drained` and `weight` into its instance, so that
// they survive its own later rewrites (Update() without a weight, a
// re-registration after a lost lease, an etcd wipe) until changed again
// (Undrain(), Update() with a weight, another edit). The other fields are
// the registrar's own and are written back. A value under another lease is
// a conflict, as before.
//
// Thread-safety: all methods may be called from any thread, concurrently
// (concurrent Update(), Drain() and Undrain() calls each apply on top of the
// other). The status callback runs on a thread owned by the registrar, one
// call at a time. From the callback, Start(), Update(), Drain() and
// Undrain() do not wait for the write (that thread does the writing): they
// return once the change is queued, and its outcome arrives as events;
// Stop() there stops at once but cannot revoke the lease, so the key
// disappears after its TTL; Shutdown() there queues the drain and stops
// (as Stop() from the callback) when the grace period has passed. The
// callback must not destroy the registrar.
#ifndef VLB_REGISTRAR_H_
#define VLB_REGISTRAR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vlb/etcd_options.h"  // EtcdOptions, ParseEndpointList
#include "vlb/service_instance.h"

namespace vlb {

// Smallest TTL etcd honours with its default election timeout (1 s): shorter
// TTLs are silently raised by the server, so we reject them instead.
inline constexpr absl::Duration kMinRegistrationTtl = absl::Seconds(2);

struct RegistrarOptions {
  EtcdOptions etcd;
  std::string service_name;          // dotted, e.g. "hwholiday.srv.app"
  std::string instance_id;           // default "<last name part>-<uuid v4>"
  std::string version;               // required, e.g. "v1"
  std::string address;               // "host:port" clients dial
  uint32_t weight = kDefaultWeight;  // [kMinWeight, kMaxWeight]
  std::map<std::string, std::string> metadata;  // "weight" is reserved
  absl::Duration ttl = absl::Seconds(10);       // >= kMinRegistrationTtl
  // The instance's lane (metadata "lane"): 1-63 characters of [a-z0-9-];
  // empty for the baseline.
  std::string lane;
  // How long Shutdown() leaves the drained record in place before revoking
  // it, so that clients move their new calls away first. >= 0.
  absl::Duration drain_grace = absl::Seconds(5);
  // Retry backoff after failures (jittered by +-20%).
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

enum class RegistrarEvent {
  kRegistered,    // first registration succeeded
  kLost,          // registration lost or unconfirmable; healing has started
  kReRegistered,  // registered again after kLost
  kConflict,      // key held by another lease (same id elsewhere); retrying
  kStopped,       // Stop() finished; no more events follow
};
const char* RegistrarEventName(RegistrarEvent event);

// Called with each state change; `detail` explains kLost and kConflict.
using RegistrarCallback =
    std::function<void(RegistrarEvent event, const absl::Status& detail)>;

class Registrar {
 public:
  // Validates `options` (InvalidArgument naming the field on error) and
  // connects lazily; nothing is written until Start().
  static absl::StatusOr<std::unique_ptr<Registrar>> Create(
      RegistrarOptions options, RegistrarCallback callback = nullptr);

  virtual ~Registrar() = default;  // Stops (revokes the lease) if running.

  // Starts registering. Waits up to `wait` for the first registration and
  // returns its outcome; on failure (e.g. etcd unreachable) registration
  // still goes on in the background until Stop(). Calling it again is a no-op
  // returning the current state.
  virtual absl::Status Start(absl::Duration wait) = 0;
  absl::Status Start() { return Start(absl::Seconds(10)); }

  // Rewrites the value in place under the same lease and waits for the
  // write. Fields left empty are kept. InvalidArgument on bad values.
  virtual absl::Status Update(
      std::optional<std::string> version, std::optional<uint32_t> weight,
      std::optional<std::map<std::string, std::string>> metadata) = 0;

  // Marks the record drained / not drained, in place under the same lease,
  // and waits for the write (as Update()). Before Start() the change is
  // written by Start(); after Stop() it is ignored.
  virtual absl::Status Drain() = 0;
  virtual absl::Status Undrain() = 0;

  // Revokes the lease (the key vanishes at once) and stops healing.
  // Idempotent; waits at most the etcd request timeout.
  virtual void Stop() = 0;

  // Graceful stop: Drain(), wait `grace` (clients see the drained record and
  // move new calls away), then Stop(). Stops in every case; returns the
  // drain's outcome (when the drain could not be written, it does not wait).
  // Blocks for about `grace`. Shutdown() uses RegistrarOptions::drain_grace.
  virtual absl::Status Shutdown(absl::Duration grace) = 0;
  virtual absl::Status Shutdown() = 0;

  // The record as currently registered (or to be registered).
  virtual ServiceInstance instance() const = 0;
  // The etcd key of this instance.
  virtual std::string key() const = 0;
  // Current lease id, 0 when none.
  virtual int64_t lease_id() const = 0;
  virtual bool registered() const = 0;
};

}  // namespace vlb

#endif  // VLB_REGISTRAR_H_
