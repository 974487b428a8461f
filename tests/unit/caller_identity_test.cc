// The caller identity route rules see (grpc_adapter/plugin_state.h):
// plugin options, else the environment, else the first registrar's.
#include <cstdlib>

#include "common/process_identity.h"
#include "grpc_adapter/plugin_state.h"
#include "gtest/gtest.h"

namespace vlb {
namespace {

// One test: the registered identity is process-wide and first-writer-wins.
TEST(CallerIdentityTest, EnvironmentThenFirstRegistrar) {
  unsetenv("VLB_CALLER_SERVICE");
  unsetenv("VLB_CALLER_VERSION");
  EXPECT_EQ(grpc_adapter::CurrentCaller().service, "");

  internal::RecordRegisteredIdentity("", "1.0.0");  // ignored: no service
  internal::RecordRegisteredIdentity("hwholiday.srv.app", "2.1.0");
  internal::RecordRegisteredIdentity("hwholiday.srv.user", "3.0.0");
  internal::CallerIdentity caller = grpc_adapter::CurrentCaller();
  EXPECT_EQ(caller.service, "hwholiday.srv.app");
  EXPECT_EQ(caller.version, "2.1.0");

  setenv("VLB_CALLER_SERVICE", "hwholiday.srv.gateway", 1);
  setenv("VLB_CALLER_VERSION", "2.0.0", 1);
  caller = grpc_adapter::CurrentCaller();
  EXPECT_EQ(caller.service, "hwholiday.srv.gateway");
  EXPECT_EQ(caller.version, "2.0.0");

  // A field left empty is filled from the registrar; its version only for
  // its own service, so two identities are never mixed.
  unsetenv("VLB_CALLER_SERVICE");
  caller = grpc_adapter::CurrentCaller();
  EXPECT_EQ(caller.service, "hwholiday.srv.app");
  EXPECT_EQ(caller.version, "2.0.0");
  unsetenv("VLB_CALLER_VERSION");
  setenv("VLB_CALLER_SERVICE", "hwholiday.srv.app", 1);
  EXPECT_EQ(grpc_adapter::CurrentCaller().version, "2.1.0");
  setenv("VLB_CALLER_SERVICE", "hwholiday.srv.gateway", 1);
  caller = grpc_adapter::CurrentCaller();
  EXPECT_EQ(caller.service, "hwholiday.srv.gateway");
  EXPECT_EQ(caller.version, "");
  unsetenv("VLB_CALLER_SERVICE");
}

}  // namespace
}  // namespace vlb
