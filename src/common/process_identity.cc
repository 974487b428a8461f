#include "common/process_identity.h"

#include <string>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vlb::internal {
namespace {

ABSL_CONST_INIT absl::Mutex identity_mu(absl::kConstInit);
// Never destroyed: read by policies until the process exits.
RegisteredIdentity* identity ABSL_GUARDED_BY(identity_mu) = nullptr;

}  // namespace

void RecordRegisteredIdentity(absl::string_view service,
                              absl::string_view version) {
  absl::MutexLock lock(&identity_mu);
  if (identity != nullptr || service.empty()) return;
  identity = new RegisteredIdentity{std::string(service), std::string(version)};
}

RegisteredIdentity CurrentRegisteredIdentity() {
  absl::MutexLock lock(&identity_mu);
  return identity != nullptr ? *identity : RegisteredIdentity{};
}

}  // namespace vlb::internal
