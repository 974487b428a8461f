// The adapter compiles against gRPC core headers of one exact version and
// must not touch a libgrpc of another: core classes change layout between
// releases, which corrupts memory instead of failing cleanly.
#ifndef VLB_SRC_GRPC_ADAPTER_VERSION_CHECK_H_
#define VLB_SRC_GRPC_ADAPTER_VERSION_CHECK_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vlb::grpc_adapter {

// Versions of the headers this build used (set by CMake from the gRPC
// source tree): core library ("29.0.0") and C++ library ("1.51.1").
absl::string_view BuiltForCoreVersion();
absl::string_view BuiltForCppVersion();

// FailedPrecondition naming both versions and the fix when the running
// libraries differ from the ones vlb was built for.
absl::Status CheckGrpcVersions(absl::string_view running_core,
                               absl::string_view running_cpp);

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_VERSION_CHECK_H_
