// gRPC core's parsed JSON (grpc_core::Json) as an nlohmann::json tree, the
// form balancer/ reads policy configs in: the service config is parsed once,
// by gRPC, and walked here rather than printed and parsed again.
#ifndef VLB_SRC_GRPC_ADAPTER_CORE_JSON_H_
#define VLB_SRC_GRPC_ADAPTER_CORE_JSON_H_

#include "grpc_adapter/core.h"
#include "nlohmann/json_fwd.hpp"

namespace vlb::grpc_adapter {

// A copy of `json` with the same structure and values. Numbers (which gRPC
// keeps as their text) become integers when they are integers in range,
// otherwise doubles. Thread-safe; O(size of `json`), recursive in its depth
// (gRPC's parser bounds the depth).
nlohmann::json ToNlohmannJson(const grpc_core::Json& json);

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_CORE_JSON_H_
