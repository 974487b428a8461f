// The etcd connection flags shared by every program that talks to etcd:
// --etcd (endpoints), --etcd_user and --etcd_password (authentication),
// --etcd_cacert, --etcd_cert and --etcd_key (TLS). The authentication and
// TLS flags fall back to environment variables, so that a password can stay
// out of the process list.
//
// Linking this file is what gives a program these flags (they are ABSL_FLAGs
// defined in etcd_flags.cc). Thread-compatible, like all flags: read them
// after parsing, from one thread or before threads start.
#ifndef VLB_PROGRAMS_COMMON_ETCD_FLAGS_H_
#define VLB_PROGRAMS_COMMON_ETCD_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/strings/string_view.h"
#include "vlb/etcd_options.h"

namespace vlb::programs {

// The type of --etcd: a comma-separated endpoint list as given, empty when
// the flag was not given (the library then uses $VLB_ETCD_ENDPOINTS, else
// 127.0.0.1:2379).
struct EtcdEndpointsFlag {
  std::string list;
};

// absl's parse and unparse hooks for EtcdEndpointsFlag. A list without any
// endpoint ("--etcd=", "--etcd=,") is refused: the library would take it for
// "use the default", which such a flag surely did not mean.
bool AbslParseFlag(absl::string_view text, EtcdEndpointsFlag* flag,
                   std::string* error);
std::string AbslUnparseFlag(const EtcdEndpointsFlag& flag);

// The EtcdOptions the flags describe: --etcd's endpoints (an https:// one
// turns TLS on), and each other field from its flag or, when the flag is
// empty, from $VLB_ETCD_USER, $VLB_ETCD_PASSWORD, $VLB_ETCD_CACERT,
// $VLB_ETCD_CERT or $VLB_ETCD_KEY. Nothing is checked here: the library
// checks the values, with messages that name the field and the file.
EtcdOptions EtcdOptionsFromFlags();

}  // namespace vlb::programs

ABSL_DECLARE_FLAG(vlb::programs::EtcdEndpointsFlag, etcd);
ABSL_DECLARE_FLAG(std::string, etcd_user);
ABSL_DECLARE_FLAG(std::string, etcd_password);
ABSL_DECLARE_FLAG(std::string, etcd_cacert);
ABSL_DECLARE_FLAG(std::string, etcd_cert);
ABSL_DECLARE_FLAG(std::string, etcd_key);

#endif  // VLB_PROGRAMS_COMMON_ETCD_FLAGS_H_
