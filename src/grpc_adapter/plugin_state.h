// Process-wide settings given to RegisterGrpcPlugins(), read by the
// resolver when it is created.
#ifndef VLB_SRC_GRPC_ADAPTER_PLUGIN_STATE_H_
#define VLB_SRC_GRPC_ADAPTER_PLUGIN_STATE_H_

#include "vlb/grpc.h"

namespace vlb::grpc_adapter {

// A copy of the options of the last RegisterGrpcPlugins() call (defaults
// before any).
PluginOptions CurrentPluginOptions();

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_PLUGIN_STATE_H_
