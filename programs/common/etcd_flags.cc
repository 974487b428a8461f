#include "common/etcd_flags.h"

#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vlb::programs {
namespace {

void FromEnvironment(const char* name, std::string* target) {
  if (const char* value = std::getenv(name);
      value != nullptr && *value != '\0') {
    *target = value;
  }
}

}  // namespace

const char kEtcdFlagsUsage[] =
    "  --etcd_user      etcd user name (default $VLB_ETCD_USER); needs\n"
    "                   --etcd_password\n"
    "  --etcd_password  its password (default $VLB_ETCD_PASSWORD, which\n"
    "                   keeps it out of the process list)\n"
    "  --etcd_cacert    PEM file of the CA(s) that etcd's certificate must\n"
    "                   chain to; turns TLS on, as an https:// endpoint does\n"
    "                   (default $VLB_ETCD_CACERT)\n"
    "  --etcd_cert      PEM client certificate, for an etcd run with\n"
    "                   --client-cert-auth (default $VLB_ETCD_CERT)\n"
    "  --etcd_key       its unencrypted PEM private key (default\n"
    "                   $VLB_ETCD_KEY)\n";

void AddEtcdFlags(FlagSet* flags, EtcdOptions* etcd) {
  FromEnvironment("VLB_ETCD_USER", &etcd->username);
  FromEnvironment("VLB_ETCD_PASSWORD", &etcd->password);
  FromEnvironment("VLB_ETCD_CACERT", &etcd->ca_file);
  FromEnvironment("VLB_ETCD_CERT", &etcd->cert_file);
  FromEnvironment("VLB_ETCD_KEY", &etcd->key_file);
  flags->Add("etcd", [etcd](absl::string_view value) {
    const std::string list(value);
    etcd->endpoints = ParseEndpointList(list);
    if (etcd->endpoints.empty()) {
      return absl::InvalidArgumentError("--etcd: no endpoint given");
    }
    if (EndpointListUsesHttps(list)) etcd->tls = true;
    return absl::OkStatus();
  });
  flags->AddString("etcd_user", &etcd->username);
  flags->AddString("etcd_password", &etcd->password);
  flags->AddString("etcd_cacert", &etcd->ca_file);
  flags->AddString("etcd_cert", &etcd->cert_file);
  flags->AddString("etcd_key", &etcd->key_file);
}

}  // namespace vlb::programs
