#include "vlb/route_admin.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "discovery/route_watcher.h"
#include "etcd/client.h"
#include "etcd/public_options.h"
#include "routing/route_document.h"
#include "vlb/service_instance.h"

namespace vlb {
namespace {

constexpr bool SameText(const char* a, const char* b) {
  return *a == *b && (*a == '\0' || SameText(a + 1, b + 1));
}
static_assert(SameText(kDefaultRoutesRoot, internal::kDefaultRoutesRoot),
              "the public and the clients' default routes root must agree");

// One short-lived client per call: tools make a handful of calls, and a
// client of their own keeps the calls independent (thread-safe) and the
// API free of connection objects.
absl::StatusOr<std::unique_ptr<etcd::Client>> Connect(
    const EtcdOptions& options) {
  absl::StatusOr<etcd::ClientOptions> client_options =
      internal::MakeClientOptions(options, absl::Milliseconds(100),
                                  absl::Seconds(1));
  if (!client_options.ok()) return client_options.status();
  return etcd::Client::Create(*client_options);
}

absl::StatusOr<std::string> DocumentKey(absl::string_view service,
                                        absl::string_view root) {
  if (absl::Status s = ValidateServiceName(service); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("service \"", service, "\": ", s.message()));
  }
  if (!absl::StartsWith(root, "/") || !absl::EndsWith(root, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "routes root \"", root, "\": must start and end with '/'"));
  }
  return internal::RouteDocumentKey(std::string(root), std::string(service));
}

// `status` with what was being done to which key in front.
absl::Status Annotate(const absl::Status& status, absl::string_view doing,
                      absl::string_view key) {
  return absl::Status(status.code(),
                      absl::StrCat(doing, " ", key, ": ", status.message()));
}

etcdserverpb::RangeRequest ReadKey(const std::string& key) {
  etcdserverpb::RangeRequest range;
  range.set_key(key);
  return range;
}

// The write of `text`, guarded by `if_revision` when given; when the guard
// fails, the response carries the key as it is now.
etcdserverpb::TxnRequest GuardedPut(const std::string& key,
                                    absl::string_view text,
                                    std::optional<int64_t> if_revision) {
  etcdserverpb::TxnRequest txn;
  if (if_revision.has_value()) {
    etcdserverpb::Compare* compare = txn.add_compare();
    compare->set_key(key);
    compare->set_target(etcdserverpb::Compare::MOD);
    compare->set_result(etcdserverpb::Compare::EQUAL);
    // etcd takes a missing key's mod_revision as 0.
    compare->set_mod_revision(*if_revision);
    *txn.add_failure()->mutable_request_range() = ReadKey(key);
  }
  etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(std::string(text));
  return txn;
}

// Why a guarded write lost, from the failure branch's read.
absl::Status LostCompare(const etcdserverpb::TxnResponse& response,
                         const std::string& key, absl::string_view text,
                         int64_t if_revision) {
  const std::string expected = if_revision == 0
                                   ? std::string("absent (revision 0)")
                                   : absl::StrCat("at revision ", if_revision);
  const etcdserverpb::RangeResponse* range = nullptr;
  if (response.responses_size() > 0) {
    range = &response.responses(0).response_range();
  }
  if (range == nullptr || range->kvs_size() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(key, " does not exist (current revision 0), not ",
                     expected, "; nothing written"));
  }
  const mvccpb::KeyValue& current = range->kvs(0);
  // Not reported as success: the caller asked for "only if unchanged".
  const absl::string_view same =
      current.value() == text
          ? " (it already holds this very document: an earlier attempt of "
            "this write, or the same edit made by someone else)"
          : "";
  return absl::FailedPreconditionError(absl::StrCat(
      key, " is at revision ", current.mod_revision(), ", not ", expected, same,
      "; nothing written (get the document again and retry)"));
}

// A document's key and a client connected to its cluster: where every
// call below starts.
struct Session {
  std::string key;
  std::unique_ptr<etcd::Client> client;
};

absl::StatusOr<Session> Open(const EtcdOptions& etcd, absl::string_view service,
                             absl::string_view root) {
  absl::StatusOr<std::string> key = DocumentKey(service, root);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::unique_ptr<etcd::Client>> client = Connect(etcd);
  if (!client.ok()) return client.status();
  return Session{*std::move(key), *std::move(client)};
}

}  // namespace

absl::StatusOr<StoredRouteDocument> GetRouteDocument(const EtcdOptions& etcd,
                                                     absl::string_view service,
                                                     absl::string_view root) {
  absl::StatusOr<Session> session = Open(etcd, service, root);
  if (!session.ok()) return session.status();
  const std::string& key = session->key;
  absl::StatusOr<etcdserverpb::RangeResponse> range =
      session->client->Range(ReadKey(key));
  if (!range.ok()) return Annotate(range.status(), "reading", key);
  if (range->kvs_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no route document at ", key));
  }
  StoredRouteDocument document;
  document.key = key;
  document.text = range->kvs(0).value();
  document.mod_revision = range->kvs(0).mod_revision();
  return document;
}

absl::Status ValidateRouteDocument(absl::string_view text) {
  return internal::ParseRouteDocument(text).status();
}

absl::StatusOr<int64_t> SetRouteDocument(const EtcdOptions& etcd,
                                         absl::string_view service,
                                         absl::string_view text,
                                         absl::string_view root,
                                         std::optional<int64_t> if_revision) {
  if (absl::StatusOr<std::string> key = DocumentKey(service, root); !key.ok()) {
    return key.status();
  }
  if (absl::Status valid = ValidateRouteDocument(text); !valid.ok()) {
    return valid;
  }
  if (if_revision.has_value() && *if_revision < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "if_revision: ", *if_revision, " is negative (0: must not exist)"));
  }
  absl::StatusOr<Session> session = Open(etcd, service, root);
  if (!session.ok()) return session.status();
  const std::string& key = session->key;
  absl::StatusOr<etcdserverpb::TxnResponse> response =
      session->client->Txn(GuardedPut(key, text, if_revision));
  if (!response.ok()) return Annotate(response.status(), "writing", key);
  if (!response->succeeded()) {
    return LostCompare(*response, key, text, *if_revision);
  }
  return response->header().revision();
}

absl::StatusOr<int64_t> DeleteRouteDocument(const EtcdOptions& etcd,
                                            absl::string_view service,
                                            absl::string_view root) {
  absl::StatusOr<Session> session = Open(etcd, service, root);
  if (!session.ok()) return session.status();
  const std::string& key = session->key;
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(key);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> response =
      session->client->DeleteRange(request);
  if (!response.ok()) return Annotate(response.status(), "deleting", key);
  if (response->deleted() == 0) {
    return absl::NotFoundError(absl::StrCat("no route document at ", key));
  }
  return response->header().revision();
}

}  // namespace vlb
