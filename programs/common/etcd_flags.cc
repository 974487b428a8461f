#include "common/etcd_flags.h"

#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(vlb::programs::EtcdEndpointsFlag, etcd, {},
          "comma-separated etcd endpoints, e.g. 10.0.0.1:2379,10.0.0.2:2379; "
          "https:// ones are reached over TLS (default: $VLB_ETCD_ENDPOINTS, "
          "else 127.0.0.1:2379)");
ABSL_FLAG(std::string, etcd_user, "",
          "etcd user name (default: $VLB_ETCD_USER); needs --etcd_password");
ABSL_FLAG(std::string, etcd_password, "",
          "its password (default: $VLB_ETCD_PASSWORD, which keeps it out of "
          "the process list)");
ABSL_FLAG(std::string, etcd_cacert, "",
          "PEM file of the CA(s) that etcd's certificate must chain to; turns "
          "TLS on, as an https:// endpoint does (default: $VLB_ETCD_CACERT)");
ABSL_FLAG(std::string, etcd_cert, "",
          "PEM client certificate, for an etcd run with --client-cert-auth "
          "(default: $VLB_ETCD_CERT)");
ABSL_FLAG(std::string, etcd_key, "",
          "its unencrypted PEM private key (default: $VLB_ETCD_KEY)");

namespace vlb::programs {
namespace {

std::string FlagOrEnvironment(const absl::Flag<std::string>& flag,
                              const char* variable) {
  std::string value = absl::GetFlag(flag);
  if (value.empty()) {
    if (const char* from_environment = std::getenv(variable)) {
      value = from_environment;
    }
  }
  return value;
}

}  // namespace

bool AbslParseFlag(absl::string_view text, EtcdEndpointsFlag* flag,
                   std::string* error) {
  flag->list = std::string(text);
  if (ParseEndpointList(flag->list).empty()) {
    *error = "no endpoint given";
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(const EtcdEndpointsFlag& flag) { return flag.list; }

EtcdOptions EtcdOptionsFromFlags() {
  EtcdOptions etcd;
  const std::string list = absl::GetFlag(FLAGS_etcd).list;
  if (!list.empty()) {
    etcd.endpoints = ParseEndpointList(list);
    if (EndpointListUsesHttps(list)) etcd.tls = true;
  }
  etcd.username = FlagOrEnvironment(FLAGS_etcd_user, "VLB_ETCD_USER");
  etcd.password = FlagOrEnvironment(FLAGS_etcd_password, "VLB_ETCD_PASSWORD");
  etcd.ca_file = FlagOrEnvironment(FLAGS_etcd_cacert, "VLB_ETCD_CACERT");
  etcd.cert_file = FlagOrEnvironment(FLAGS_etcd_cert, "VLB_ETCD_CERT");
  etcd.key_file = FlagOrEnvironment(FLAGS_etcd_key, "VLB_ETCD_KEY");
  return etcd;
}

}  // namespace vlb::programs
