// The admin client's seam for tests: AdminClient::Create with the etcd
// client passed in, so that unit tests can run it on the in-memory etcd
// (tests/support/fake_etcd.h).
#ifndef VLB_SRC_ADMIN_ADMIN_INTERNAL_H_
#define VLB_SRC_ADMIN_ADMIN_INTERNAL_H_

#include <memory>

#include "etcd/client.h"
#include "vlb/admin.h"

namespace vlb::internal {

// An admin client working through `client`, which it closes when destroyed.
std::unique_ptr<AdminClient> CreateAdminClient(
    std::shared_ptr<etcd::Client> client);

}  // namespace vlb::internal

#endif  // VLB_SRC_ADMIN_ADMIN_INTERNAL_H_
