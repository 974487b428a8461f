// The etcd resolver's seam for tests: the resolver built around an etcd
// client passed in (rather than taken from discovery/client_pool), with the
// hop that carries results off the etcd dispatcher injectable, so that unit
// tests can run it on the in-memory etcd (tests/support/fake_etcd.h) and
// decide when results reach the channel's WorkSerializer.
#ifndef VLB_SRC_GRPC_ADAPTER_ETCD_RESOLVER_INTERNAL_H_
#define VLB_SRC_GRPC_ADAPTER_ETCD_RESOLVER_INTERNAL_H_

#include <functional>
#include <memory>
#include <string>

#include "discovery/route_watcher.h"
#include "discovery/service_watcher.h"
#include "etcd/client.h"
#include "grpc_adapter/core.h"

namespace vlb::grpc_adapter {

struct EtcdResolverOptions {
  std::string service;  // as named by the target, e.g. "hwholiday.srv.app"
  internal::ServiceWatcherOptions watcher;
  // The key of the service's route document (discovery/route_watcher.h),
  // watched beside the instances; empty: route documents are not read.
  std::string routes_key;
  // Runs `fn` later, outside the etcd dispatcher's current task (never
  // inline); each result travels to the WorkSerializer from there. Empty:
  // on a thread of gRPC's EventEngine, which is what channels need.
  std::function<void(std::function<void()>)> hand_off;
};

// A resolver following `options.service` through `client`. It reports
// results to `args.result_handler`; at most one result waits for the
// WorkSerializer at a time (a newer one replaces it), and none is reported
// once ShutdownLocked() ran. Its methods must run on
// `args.work_serializer`, as every resolver's do; creating it does no I/O.
grpc_core::OrphanablePtr<grpc_core::Resolver> MakeEtcdResolver(
    grpc_core::ResolverArgs args, std::shared_ptr<etcd::Client> client,
    EtcdResolverOptions options);

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_ETCD_RESOLVER_INTERNAL_H_
