// Process-wide settings given to RegisterGrpcPlugins(), read by the
// resolver when it is created.
#ifndef VLB_SRC_GRPC_ADAPTER_PLUGIN_STATE_H_
#define VLB_SRC_GRPC_ADAPTER_PLUGIN_STATE_H_

#include "routing/route_table.h"
#include "vlb/grpc.h"

namespace vlb::grpc_adapter {

// A copy of the options of the last RegisterGrpcPlugins() call (defaults
// before any).
PluginOptions CurrentPluginOptions();

// The caller identity route rules see: PluginOptions.caller_*, else the
// VLB_CALLER_SERVICE / VLB_CALLER_VERSION environment variables, else the
// service and version of the process's first vlb::Registrar
// (common/process_identity.h). Thread-safe; reads the environment.
internal::CallerIdentity CurrentCaller();

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_PLUGIN_STATE_H_
