// The "etcd" name resolver: etcd:///<service> or etcd://<endpoints>/<service>.
#ifndef VLB_SRC_GRPC_ADAPTER_ETCD_RESOLVER_H_
#define VLB_SRC_GRPC_ADAPTER_ETCD_RESOLVER_H_

#include "grpc_adapter/core.h"

namespace vlb::grpc_adapter {

void RegisterEtcdResolver(grpc_core::CoreConfiguration::Builder* builder);

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_ETCD_RESOLVER_H_
