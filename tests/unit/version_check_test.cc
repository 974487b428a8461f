// The adapter must refuse to plug into a gRPC it was not built for.
#include "grpc_adapter/version_check.h"

#include <grpc/grpc.h>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace vlb::grpc_adapter {
namespace {

using ::testing::HasSubstr;

TEST(VersionCheckTest, AcceptsTheVersionsItWasBuiltFor) {
  EXPECT_TRUE(
      CheckGrpcVersions(BuiltForCoreVersion(), BuiltForCppVersion()).ok());
}

TEST(VersionCheckTest, RefusesAnotherCoreOrCppVersion) {
  absl::Status core = CheckGrpcVersions("30.0.0", BuiltForCppVersion());
  EXPECT_EQ(core.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(core.message(), HasSubstr("core 30.0.0"));
  EXPECT_THAT(core.message(), HasSubstr("Rebuild vlb"));
  absl::Status cpp = CheckGrpcVersions(BuiltForCoreVersion(), "1.52.0");
  EXPECT_EQ(cpp.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cpp.message(), HasSubstr("runs gRPC 1.52.0"));
}

TEST(VersionCheckTest, BuiltAgainstTheInstalledLibrary) {
  // The build reads the versions from the header tree; this process runs
  // the installed libraries, so this is the check RegisterGrpcPlugins does.
  EXPECT_EQ(BuiltForCoreVersion(), grpc_version_string());
  EXPECT_EQ(BuiltForCppVersion(), grpc::Version());
}

}  // namespace
}  // namespace vlb::grpc_adapter
