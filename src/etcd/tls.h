// TLS for the etcd client: checks of the PEM material (so that a bad file is
// an error when the client is made, not a channel that silently never
// connects: gRPC only logs such problems, when it first dials), the channel
// credentials, and a readable cause for failed handshakes.
//
// Thread-safety: every function is thread-safe (OpenSSL's error queue is
// per thread). Costs are noted per function.
#ifndef VLB_SRC_ETCD_TLS_H_
#define VLB_SRC_ETCD_TLS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "etcd/client.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

namespace vlb::etcd {

// OK when `tls` is disabled, or when ca_pem is empty or holds only
// certificates (at least one), cert_pem and key_pem are both empty or both
// set, cert_pem holds certificates, and key_pem is an unencrypted private
// key matching cert_pem's first certificate. Otherwise InvalidArgument
// starting with the origin of the bad item, e.g.
//   etcd.key_file "/etc/etcd/client.key": the key does not belong to the
//   certificate in etcd.cert_file "/etc/etcd/client.pem"
// Cost: parses each certificate and the key once (microseconds to a
// millisecond).
absl::Status CheckTlsOptions(const TlsOptions& tls);

// SSL credentials for `tls` (enabled; checked by CheckTlsOptions), or
// insecure credentials when it is disabled. Cheap: no parsing here.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const TlsOptions& tls);

// For a failed call on a TLS channel to `endpoint`: a sentence saying what
// the gRPC error `message` most likely means for etcd over TLS (a CA that
// did not sign etcd's certificate, a certificate that does not name the
// endpoint, etcd refusing the client certificate or serving plaintext),
// naming the options involved; empty when `message` is not a TLS failure.
// Cost: a few substring searches.
std::string DescribeTlsFailure(absl::string_view message,
                               absl::string_view endpoint,
                               const TlsOptions& tls);

// Makes interceptors that append DescribeTlsFailure's sentence to the
// status of every failed call on one TLS channel (to `endpoint`), so that
// each error the client reports carries it. Cost per call: one small
// allocation, and the searches above when the call failed.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
TlsFailureInterceptorFactory(std::string endpoint, const TlsOptions& tls);

}  // namespace vlb::etcd

#endif  // VLB_SRC_ETCD_TLS_H_
