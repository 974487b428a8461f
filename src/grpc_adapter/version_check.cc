#include "grpc_adapter/version_check.h"

#include "absl/strings/str_cat.h"

#ifndef VLB_GRPC_CORE_VERSION
#error "VLB_GRPC_CORE_VERSION must be defined by the build"
#endif
#ifndef VLB_GRPC_CPP_VERSION
#error "VLB_GRPC_CPP_VERSION must be defined by the build"
#endif

namespace vlb::grpc_adapter {

absl::string_view BuiltForCoreVersion() { return VLB_GRPC_CORE_VERSION; }
absl::string_view BuiltForCppVersion() { return VLB_GRPC_CPP_VERSION; }

absl::Status CheckGrpcVersions(absl::string_view running_core,
                               absl::string_view running_cpp) {
  if (running_core == BuiltForCoreVersion() &&
      running_cpp == BuiltForCppVersion()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "vlb was built against gRPC ", BuiltForCppVersion(), " (core ",
      BuiltForCoreVersion(), ") but this process runs gRPC ", running_cpp,
      " (core ", running_core,
      "); vlb's resolver and policies use gRPC internals and are not "
      "registered. Rebuild vlb against the installed gRPC "
      "(scripts/setup fetches the matching headers)."));
}

}  // namespace vlb::grpc_adapter
