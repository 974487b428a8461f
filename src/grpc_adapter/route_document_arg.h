// The route document in force for a channel's service, as the resolver
// hands it to the policy with every result: a channel arg holding the
// parsed document (discovery/route_watcher.h). Absent: no document, the
// channel's local config alone applies.
//
// A channel that sets GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION opts out
// of configuration from the resolver (gRPC's own rule for resolver-given
// service configs); the policy then ignores route documents too.
//
// Immutable; safe to share between threads.
#ifndef VLB_SRC_GRPC_ADAPTER_ROUTE_DOCUMENT_ARG_H_
#define VLB_SRC_GRPC_ADAPTER_ROUTE_DOCUMENT_ARG_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "grpc_adapter/core.h"
#include "routing/route_document.h"

namespace vlb::grpc_adapter {

class RouteDocumentArg final : public grpc_core::RefCounted<RouteDocumentArg> {
 public:
  RouteDocumentArg(std::shared_ptr<const internal::RouteDocument> document,
                   int64_t mod_revision)
      : document_(std::move(document)), mod_revision_(mod_revision) {}

  const internal::RouteDocument& document() const { return *document_; }
  int64_t mod_revision() const { return mod_revision_; }

  static absl::string_view ChannelArgName() { return "vlb.route_document"; }
  static int ChannelArgsCompare(const RouteDocumentArg* a,
                                const RouteDocumentArg* b) {
    return grpc_core::QsortCompare(a->mod_revision_, b->mod_revision_);
  }

 private:
  const std::shared_ptr<const internal::RouteDocument> document_;
  const int64_t mod_revision_;
};

}  // namespace vlb::grpc_adapter

#endif  // VLB_SRC_GRPC_ADAPTER_ROUTE_DOCUMENT_ARG_H_
