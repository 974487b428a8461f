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
  unsetenv("VLB_CALLER_SERVICE");
  unsetenv("VLB_CALLER_VERSION");
}

}  // namespace
}  // namespace vlb
