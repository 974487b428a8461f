// The registrar's seam for tests: Registrar::Create with the etcd client
// passed in rather than made from `options.etcd`, so that unit tests can run
// the state machine on an in-memory etcd (tests/support/fake_etcd.h).
#ifndef VLB_SRC_REGISTRY_REGISTRAR_INTERNAL_H_
#define VLB_SRC_REGISTRY_REGISTRAR_INTERNAL_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/client.h"
#include "vlb/registrar.h"

namespace vlb::internal {

// How Shutdown() waits out its grace period on the caller's thread:
// absl::SleepFor by default; unit tests advance their fake clock instead.
using GraceWait = std::function<void(absl::Duration)>;

// Validates `options` as Registrar::Create does (`options.etcd` is not
// used) and returns a registrar working through `client`. The registrar
// runs on the client's dispatcher and closes the client when destroyed.
absl::StatusOr<std::unique_ptr<Registrar>> CreateRegistrar(
    RegistrarOptions options, RegistrarCallback callback,
    std::shared_ptr<etcd::Client> client, GraceWait grace_wait = nullptr);

}  // namespace vlb::internal

#endif  // VLB_SRC_REGISTRY_REGISTRAR_INTERNAL_H_
