// AdminClient (vlb/admin.h) on the internal etcd client: listings from
// paged range reads at one revision, edits as compare-and-swap transactions on
// the key's mod revision that keep the record's lease.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "admin/admin_internal.h"
#include "admin/listing.h"
#include "etcd/client.h"
#include "etcd/public_options.h"
#include "vlb/admin.h"
#include "vlb/service_instance.h"

namespace vlb {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;

// A read-modify-write loses to a concurrent writer at most this often
// before the edit gives up (a registrar rewrites its record rarely).
constexpr int kMaxEditAttempts = 5;

// Keys per range read of a listing, and how often a listing starts over
// when etcd compacts its snapshot away between two pages.
constexpr int64_t kPageSize = 1000;
constexpr int kMaxReads = 3;

absl::Status CheckInstanceName(absl::string_view service,
                               absl::string_view id) {
  if (absl::Status status = ValidateServiceName(service); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("service: ", status.message()));
  }
  if (absl::Status status = ValidateInstanceId(id); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("id: ", status.message()));
  }
  return absl::OkStatus();
}

// The compare-and-swap: put `value` at `kv.key()` under the same lease if
// nobody wrote the key since `kv` was read.
TxnRequest SwapIfUnchanged(const mvccpb::KeyValue& kv,
                           const std::string& value) {
  TxnRequest txn;
  Compare* unchanged = txn.add_compare();
  unchanged->set_key(kv.key());
  unchanged->set_target(Compare::MOD);
  unchanged->set_result(Compare::EQUAL);
  unchanged->set_mod_revision(kv.mod_revision());
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(kv.key());
  put->set_value(value);
  put->set_lease(kv.lease());
  return txn;
}

class AdminClientImpl final : public AdminClient {
 public:
  explicit AdminClientImpl(std::shared_ptr<etcd::Client> client)
      : client_(std::move(client)) {}
  ~AdminClientImpl() override { client_->Close(); }

  absl::StatusOr<std::vector<ServiceListing>> ListServices() override {
    absl::StatusOr<Listings> read = ReadListings("/");
    if (!read.ok()) return read.status();
    std::vector<ServiceListing> services;
    for (auto& [name, listing] : read->by_service) {
      // Any key with slashes looks like a service path; only decodable
      // records make it one.
      if (listing.instances.empty()) continue;
      services.push_back(std::move(listing));
    }
    return services;
  }

  absl::StatusOr<ServiceListing> ListInstances(
      absl::string_view service) override {
    if (absl::Status status = ValidateServiceName(service); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("service: ", status.message()));
    }
    absl::StatusOr<Listings> read = ReadListings(ServicePrefix(service));
    if (!read.ok()) return read.status();
    // The prefix read also returns nested services' keys: only this one.
    ServiceListing listing;
    if (auto it = read->by_service.find(service);
        it != read->by_service.end()) {
      listing = std::move(it->second);
    }
    listing.service = std::string(service);
    listing.revision = read->revision;
    return listing;
  }

  absl::Status SetDrained(absl::string_view service, absl::string_view id,
                          bool drained) override {
    return Edit(service, id, [drained](ServiceInstance& edited) {
      edited.drained = drained;
    });
  }

  absl::Status SetWeight(absl::string_view service, absl::string_view id,
                         uint32_t weight) override {
    if (weight > kMaxWeight) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight: ", weight, " is out of range [", kMinWeight,
                       ", ", kMaxWeight, "]"));
    }
    return Edit(service, id,
                [weight](ServiceInstance& edited) { edited.weight = weight; });
  }

 private:
  struct Listings {
    std::map<std::string, ServiceListing, std::less<>> by_service;
    int64_t revision = 0;
  };

  // Every key under `prefix`, grouped by service, with lease TTLs.
  absl::StatusOr<Listings> ReadListings(const std::string& prefix) {
    Listings listings;
    absl::Status read = ReadPages(prefix, listings);
    // The snapshot's revision was compacted between two pages: start over
    // at the newest one.
    for (int attempt = 1; absl::IsOutOfRange(read) && attempt < kMaxReads;
         ++attempt) {
      listings = Listings();
      read = ReadPages(prefix, listings);
    }
    if (!read.ok()) return read;
    std::map<int64_t, std::optional<absl::Duration>> ttls;
    for (auto& [name, listing] : listings.by_service) {
      listing.revision = listings.revision;
      internal::SortListing(listing);
      for (InstanceListing& instance : listing.instances) {
        absl::StatusOr<std::optional<absl::Duration>> left =
            TtlLeft(instance.lease_id, ttls);
        if (!left.ok()) return left.status();
        instance.lease_ttl_left = *left;
      }
    }
    return listings;
  }

  // Reads the keys under `prefix` in pages of kPageSize, all at the first
  // page's revision (one consistent snapshot), so that no response grows
  // with the store: listing every service reads the whole keyspace.
  absl::Status ReadPages(const std::string& prefix, Listings& listings) {
    RangeRequest request;
    request.set_key(prefix);
    request.set_range_end(etcd::PrefixRangeEnd(prefix));
    request.set_limit(kPageSize);
    while (true) {
      absl::StatusOr<RangeResponse> page = client_->Range(request);
      if (!page.ok()) return page.status();
      if (request.revision() == 0) {
        listings.revision = page->header().revision();
        request.set_revision(listings.revision);
      }
      for (const mvccpb::KeyValue& kv : page->kvs()) {
        internal::AddKey(kv, listings.by_service);
      }
      if (!page->more() || page->kvs().empty()) return absl::OkStatus();
      // The smallest key after the page's last one.
      request.set_key(page->kvs(page->kvs_size() - 1).key() + '\0');
    }
  }

  // The lease's remaining TTL, asked once per lease and listing.
  absl::StatusOr<std::optional<absl::Duration>> TtlLeft(
      int64_t lease, std::map<int64_t, std::optional<absl::Duration>>& ttls) {
    if (lease == 0) return std::nullopt;
    if (auto it = ttls.find(lease); it != ttls.end()) return it->second;
    absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> response =
        client_->LeaseTimeToLive(lease, /*with_keys=*/false);
    std::optional<absl::Duration> left;
    if (response.ok()) {
      // etcd answers -1 for a lease that is gone.
      if (response->ttl() >= 0) left = absl::Seconds(response->ttl());
    } else if (!absl::IsNotFound(response.status())) {
      return response.status();
    }
    ttls.emplace(lease, left);
    return left;
  }

  absl::Status Edit(absl::string_view service, absl::string_view id,
                    const std::function<void(ServiceInstance&)>& change) {
    if (absl::Status status = CheckInstanceName(service, id); !status.ok()) {
      return status;
    }
    const std::string key = InstanceKey(service, id);
    for (int attempt = 0; attempt < kMaxEditAttempts; ++attempt) {
      absl::StatusOr<bool> done = TryEdit(service, id, key, change);
      if (!done.ok() || *done) return done.status();
    }
    return absl::AbortedError(
        absl::StrCat("instance ", id, " of ", service, " changed ",
                     kMaxEditAttempts, " times while being edited; try again"));
  }

  // One read-modify-write: true when done, false when raced.
  absl::StatusOr<bool> TryEdit(
      absl::string_view service, absl::string_view id, const std::string& key,
      const std::function<void(ServiceInstance&)>& change) {
    RangeRequest get;
    get.set_key(key);
    absl::StatusOr<RangeResponse> read = client_->Range(get);
    if (!read.ok()) return read.status();
    if (read->kvs_size() == 0) {
      return absl::NotFoundError(absl::StrCat("no instance ", id, " of ",
                                              service, " (no key ", key, ")"));
    }
    const mvccpb::KeyValue& kv = read->kvs(0);
    absl::StatusOr<ServiceInstance> record = DecodeServiceRecord(kv.value());
    if (!record.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the record of instance ", id, " of ", service,
          " is malformed, left unchanged: ", record.status().message()));
    }
    ServiceInstance edited = *record;
    change(edited);
    if (edited == *record) return true;
    absl::StatusOr<etcdserverpb::TxnResponse> written =
        client_->Txn(SwapIfUnchanged(kv, EncodeServiceRecord(edited)));
    if (written.ok()) return written->succeeded();
    // The lease expired between the read and the write ("requested lease
    // not found"): the next read finds the key gone.
    if (absl::IsNotFound(written.status())) return false;
    return written.status();
  }

  const std::shared_ptr<etcd::Client> client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::Create(
    const EtcdOptions& etcd) {
  absl::StatusOr<etcd::ClientOptions> options = internal::MakeClientOptions(
      etcd, absl::Milliseconds(100), absl::Seconds(5));
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<etcd::Client>> client =
      etcd::Client::Create(*options);
  if (!client.ok()) return client.status();
  return internal::CreateAdminClient(*std::move(client));
}

namespace internal {

std::unique_ptr<AdminClient> CreateAdminClient(
    std::shared_ptr<etcd::Client> client) {
  return std::make_unique<AdminClientImpl>(std::move(client));
}

}  // namespace internal
}  // namespace vlb
