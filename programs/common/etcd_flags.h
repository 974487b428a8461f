// The etcd connection flags shared by every program: endpoints,
// authentication and TLS, with environment variables as defaults.
//
// Thread-compatible: call from main() before the flags are parsed.
#ifndef VLB_PROGRAMS_COMMON_ETCD_FLAGS_H_
#define VLB_PROGRAMS_COMMON_ETCD_FLAGS_H_

#include "common/flags.h"
#include "vlb/etcd_options.h"

namespace vlb::programs {

// Adds --etcd, --etcd_user, --etcd_password, --etcd_cacert, --etcd_cert and
// --etcd_key, which fill `etcd` (kept alive by the caller), and fills
// `etcd` now from $VLB_ETCD_USER, $VLB_ETCD_PASSWORD, $VLB_ETCD_CACERT,
// $VLB_ETCD_CERT and $VLB_ETCD_KEY where set, so that flags override them
// ($VLB_ETCD_ENDPOINTS is the library's own default). An "https://"
// endpoint turns TLS on. An empty --etcd is refused (the library would take
// it for "use the default"); every other value is checked by the library,
// whose messages name the field and the file.
void AddEtcdFlags(FlagSet* flags, EtcdOptions* etcd);

// The --help lines of those flags (except --etcd, whose meaning differs
// between programs), each starting with two spaces.
extern const char kEtcdFlagsUsage[];

}  // namespace vlb::programs

#endif  // VLB_PROGRAMS_COMMON_ETCD_FLAGS_H_
