// The only way vlb includes gRPC core internals. Everything in this folder
// is tied to gRPC 1.51's private API; everything outside it is not, so a
// port to another gRPC version touches this folder only.
#ifndef VLB_SRC_GRPC_ADAPTER_CORE_H_
#define VLB_SRC_GRPC_ADAPTER_CORE_H_

// Debian's libgrpc is built without NDEBUG, and RefCount / DebugLocation
// change layout under it: code compiled with NDEBUG that touches core
// objects corrupts memory. CMake compiles this folder with -UNDEBUG.
#ifdef NDEBUG
#error "gRPC core headers must be compiled without NDEBUG (see core.h)"
#endif

#include "src/core/lib/config/core_configuration.h"
#include "src/core/lib/event_engine/default_event_engine.h"
#include "src/core/lib/gpr/useful.h"
#include "src/core/lib/gprpp/orphanable.h"
#include "src/core/lib/gprpp/ref_counted.h"
#include "src/core/lib/gprpp/ref_counted_ptr.h"
#include "src/core/lib/gprpp/work_serializer.h"
#include "src/core/lib/iomgr/exec_ctx.h"
#include "src/core/lib/iomgr/resolved_address.h"
#include "src/core/lib/json/json.h"
#include "src/core/lib/load_balancing/lb_policy.h"
#include "src/core/lib/load_balancing/lb_policy_factory.h"
#include "src/core/lib/load_balancing/lb_policy_registry.h"
#include "src/core/lib/load_balancing/subchannel_interface.h"
#include "src/core/lib/resolver/resolver.h"
#include "src/core/lib/resolver/resolver_factory.h"
#include "src/core/lib/resolver/resolver_registry.h"
#include "src/core/lib/resolver/server_address.h"
#include "src/core/lib/uri/uri_parser.h"

#endif  // VLB_SRC_GRPC_ADAPTER_CORE_H_
