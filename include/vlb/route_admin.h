// Reading and writing route documents (the release rules clients follow,
// README "Route documents") in etcd, for operator tools such as vlbctl and
// for tests. A document lives at <root><dotted service name>, e.g.
// /vlb/routes/hwholiday.srv.app.
//
// Every call is synchronous and opens its own etcd connection (from
// `etcd`, as the registrar does), which it closes before returning: meant
// for tools and tests, not for a request path. Thread-safe: calls share no
// state. Errors name what failed: the key, the field, or (in the etcd
// client's message) the endpoint.
#ifndef VLB_ROUTE_ADMIN_H_
#define VLB_ROUTE_ADMIN_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vlb/etcd_options.h"

namespace vlb {

// Where clients look for route documents unless told otherwise.
inline constexpr char kDefaultRoutesRoot[] = "/vlb/routes/";

// A document as stored: its text, unparsed (it may be invalid if it was
// written around these functions), and the etcd revision that last
// changed it, the value SetRouteDocument's `if_revision` compares.
struct StoredRouteDocument {
  std::string key;
  std::string text;
  int64_t mod_revision = 0;
};

// The document of `service` under `root` (which ends with '/').
// NotFound naming the key when there is none; InvalidArgument for a bad
// service name or root; the etcd client's error (naming the endpoint),
// prefixed with the key, when etcd cannot be read.
absl::StatusOr<StoredRouteDocument> GetRouteDocument(
    const EtcdOptions& etcd, absl::string_view service,
    absl::string_view root = kDefaultRoutesRoot);

// OK when clients would accept `text`; otherwise the InvalidArgument they
// would log, naming the field ("rules[2].split[1].weight: ..."). No I/O.
absl::Status ValidateRouteDocument(absl::string_view text);

// Writes `text` as the document of `service`, after validating it: an
// invalid one is refused with ValidateRouteDocument's error and nothing is
// written. With `if_revision`, a compare-and-swap: the write happens only if
// the document's revision is still *if_revision (0: only if there is no
// document), else FailedPrecondition naming the current revision. Returns
// the revision of the write.
//
// The etcd client may send a request again after a timeout, so a
// compare-and-swap that was applied but not answered can lose against
// itself; the FailedPrecondition then says that the document already holds
// exactly `text`.
absl::StatusOr<int64_t> SetRouteDocument(
    const EtcdOptions& etcd, absl::string_view service, absl::string_view text,
    absl::string_view root = kDefaultRoutesRoot,
    std::optional<int64_t> if_revision = std::nullopt);

// Deletes the document of `service` (clients go back to their local
// config). Returns the revision of the delete; NotFound naming the key when
// there was none.
absl::StatusOr<int64_t> DeleteRouteDocument(
    const EtcdOptions& etcd, absl::string_view service,
    absl::string_view root = kDefaultRoutesRoot);

}  // namespace vlb

#endif  // VLB_ROUTE_ADMIN_H_
