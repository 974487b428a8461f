// Turns a service's instances into the endpoints a channel dials: one entry
// per socket address, whatever number of records name it.
//
// Shared addresses. When several live records carry one address (a v1
// server was killed and a v2 server took its port under a new id before
// the old lease expired; or one process registered twice), the address
// serves the versions of all of them, and its id, weight and metadata come
// from the newest record by mod revision. No live registration is hidden
// by another.
//
// Host names. IP literals (IPv6 with an optional zone: "[fe80::1%eth0]:80")
// are converted inline. Names are looked up off the owner's thread by the
// `lookup` hook and retried with backoff while they fail; an instance whose
// name resolved before keeps its last addresses meanwhile, and one that
// never resolved is left out until it does (with one notice per failure
// streak).
//
// Threading: every method and every hook call but `lookup` runs on the
// owner's thread (the etcd client's dispatcher); `lookup`'s completion may
// be called from any thread, and the book hops back through `run_after`.
// Cost: O(instances) per update plus a hash lookup per name.
#ifndef VLB_SRC_DISCOVERY_ADDRESS_BOOK_H_
#define VLB_SRC_DISCOVERY_ADDRESS_BOOK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "discovery/service_watcher.h"
#include "discovery/socket_address.h"
#include "vlb/service_instance.h"

namespace vlb::internal {

struct ResolvedEndpoint {
  SocketAddress address;
  // The newest record naming the address: id, weight, metadata.
  std::shared_ptr<const ServiceInstance> instance;
  // The distinct versions of every record naming it, newest first.
  std::vector<std::string> versions;
};

class AddressBook {
 public:
  using LookupResult = absl::StatusOr<std::vector<SocketAddress>>;
  struct Hooks {
    // Runs `fn` on the owner's thread after `delay`; returns a timer id.
    std::function<uint64_t(absl::Duration, std::function<void()>)> run_after;
    std::function<void(uint64_t)> cancel_timer;
    // Resolves a "host:port" whose host is a name, off the owner's thread;
    // calls `done` exactly once, from any thread.
    std::function<void(const std::string& host_port,
                       std::function<void(LookupResult)> done)>
        lookup;
    // The endpoints after every change.
    std::function<void(std::vector<ResolvedEndpoint>)> on_endpoints;
    // Worth a log line (an instance skipped or waiting for its name).
    std::function<void(const absl::Status&)> on_notice;
  };

  AddressBook(Hooks hooks, absl::Duration initial_backoff,
              absl::Duration max_backoff);
  ~AddressBook();  // Stop()

  // A new set of instances: publishes the endpoints at once (with the last
  // known addresses of names being looked up) and looks up new names.
  void Update(const ServiceSnapshot& snapshot);
  // Looks every name up again (gRPC asked for re-resolution).
  void Refresh();
  // No hook runs after this returns. Idempotent.
  void Stop();

 private:
  struct Name {
    explicit Name(Backoff b) : backoff(std::move(b)) {}
    bool in_use = false;  // named by the current snapshot
    bool looking_up = false;
    bool failing = false;  // the last lookup failed (notice already given)
    std::vector<SocketAddress> addresses;  // last good answer
    uint64_t retry_timer = 0;
    Backoff backoff;
  };

  void LookUp(const std::string& host_port, Name* name);
  void OnLookup(const std::string& host_port, LookupResult result);
  void Publish();
  // The socket addresses of `instance` now; false when it has none yet.
  bool AddressesOf(const ServiceInstance& instance,
                   std::vector<SocketAddress>* out);

  const Hooks hooks_;
  const absl::Duration initial_backoff_;
  const absl::Duration max_backoff_;
  // Outlives this object in pending lookups: false once stopped.
  const std::shared_ptr<bool> alive_;
  std::vector<WatchedInstance> instances_;
  std::map<std::string, Name> names_;  // by "host:port"
};

}  // namespace vlb::internal

#endif  // VLB_SRC_DISCOVERY_ADDRESS_BOOK_H_
