#include "discovery/address_book.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace vlb::internal {

AddressBook::AddressBook(Hooks hooks, absl::Duration initial_backoff,
                         absl::Duration max_backoff)
    : hooks_(std::move(hooks)),
      initial_backoff_(initial_backoff),
      max_backoff_(max_backoff),
      alive_(std::make_shared<bool>(true)) {}

AddressBook::~AddressBook() { Stop(); }

void AddressBook::Stop() {
  if (!*alive_) return;
  *alive_ = false;
  for (auto& [host_port, name] : names_) {
    if (name.retry_timer != 0) hooks_.cancel_timer(name.retry_timer);
  }
  names_.clear();
}

void AddressBook::Update(const ServiceSnapshot& snapshot) {
  if (!*alive_) return;
  instances_ = snapshot.instances;
  for (auto& [host_port, name] : names_) name.in_use = false;
  for (const WatchedInstance& w : instances_) {
    absl::StatusOr<std::optional<SocketAddress>> literal =
        ParseIpHostPort(w.instance.address);
    if (!literal.ok() || literal->has_value()) continue;
    auto it = names_.find(w.instance.address);
    if (it == names_.end()) {
      it = names_
               .emplace(w.instance.address,
                        Name(Backoff(initial_backoff_, max_backoff_)))
               .first;
    }
    it->second.in_use = true;
    // A registry change is a good moment to refresh what a name means.
    LookUp(it->first, &it->second);
  }
  // Names no record uses any more are forgotten (their timers with them).
  for (auto it = names_.begin(); it != names_.end();) {
    if (it->second.in_use) {
      ++it;
      continue;
    }
    if (it->second.retry_timer != 0)
      hooks_.cancel_timer(it->second.retry_timer);
    it = names_.erase(it);
  }
  Publish();
}

void AddressBook::Refresh() {
  if (!*alive_) return;
  for (auto& [host_port, name] : names_) LookUp(host_port, &name);
}

void AddressBook::LookUp(const std::string& host_port, Name* name) {
  if (name->looking_up) return;
  if (name->retry_timer != 0) {
    hooks_.cancel_timer(name->retry_timer);
    name->retry_timer = 0;
  }
  name->looking_up = true;
  std::weak_ptr<bool> alive = alive_;
  auto run_after = hooks_.run_after;
  hooks_.lookup(host_port, [this, alive, run_after,
                            host_port](LookupResult result) mutable {
    // Any thread: hop back to the owner's, where `alive` can be read.
    run_after(absl::ZeroDuration(),
              [this, alive, host_port, result = std::move(result)]() mutable {
                std::shared_ptr<bool> live = alive.lock();
                if (live != nullptr && *live)
                  OnLookup(host_port, std::move(result));
              });
  });
}

void AddressBook::OnLookup(const std::string& host_port, LookupResult result) {
  auto it = names_.find(host_port);
  if (it == names_.end()) return;  // no longer used
  Name& name = it->second;
  name.looking_up = false;
  if (result.ok()) {
    name.failing = false;
    name.backoff.Reset();
    if (result->size() == name.addresses.size() &&
        std::equal(result->begin(), result->end(), name.addresses.begin(),
                   [](const SocketAddress& a, const SocketAddress& b) {
                     return a.key() == b.key();
                   })) {
      return;  // same answer: nothing to publish
    }
    name.addresses = *std::move(result);
    Publish();
    return;
  }
  if (!name.failing) {
    name.failing = true;
    hooks_.on_notice(absl::Status(
        result.status().code(),
        absl::StrCat("looking up ", host_port, " failed (",
                     name.addresses.empty() ? "instance left out"
                                            : "keeping its last addresses",
                     ", retrying): ", result.status().message())));
  }
  name.retry_timer = hooks_.run_after(name.backoff.Next(), [this, host_port] {
    auto found = names_.find(host_port);
    if (found == names_.end()) return;
    found->second.retry_timer = 0;
    LookUp(host_port, &found->second);
  });
}

bool AddressBook::AddressesOf(const ServiceInstance& instance,
                              std::vector<SocketAddress>* out) {
  out->clear();
  absl::StatusOr<std::optional<SocketAddress>> literal =
      ParseIpHostPort(instance.address);
  if (!literal.ok()) {
    hooks_.on_notice(absl::InvalidArgumentError(absl::StrCat(
        "skipping instance ", instance.id, ": ", literal.status().message())));
    return false;
  }
  if (literal->has_value()) {
    out->push_back(**literal);
    return true;
  }
  auto it = names_.find(instance.address);
  if (it == names_.end() || it->second.addresses.empty()) return false;
  *out = it->second.addresses;
  return true;
}

void AddressBook::Publish() {
  // Newest record first, so the first record to claim an address is the
  // one describing it.
  std::vector<const WatchedInstance*> by_age;
  by_age.reserve(instances_.size());
  for (const WatchedInstance& w : instances_) by_age.push_back(&w);
  std::stable_sort(by_age.begin(), by_age.end(),
                   [](const WatchedInstance* a, const WatchedInstance* b) {
                     return a->mod_revision > b->mod_revision;
                   });
  std::vector<ResolvedEndpoint> endpoints;
  absl::flat_hash_map<std::string, size_t> index;  // by address key
  std::vector<SocketAddress> addresses;
  for (const WatchedInstance* w : by_age) {
    if (!AddressesOf(w->instance, &addresses)) continue;
    auto shared = std::make_shared<const ServiceInstance>(w->instance);
    for (const SocketAddress& address : addresses) {
      auto [it, inserted] =
          index.try_emplace(std::string(address.key()), endpoints.size());
      if (inserted) endpoints.push_back(ResolvedEndpoint{address, shared, {}});
      ResolvedEndpoint& endpoint = endpoints[it->second];
      // The newest record's lane is the address's: an older record of
      // another lane (a laned server killed, a baseline one started on its
      // port) must not bring its versions across the lane boundary.
      if (endpoint.instance->lane != w->instance.lane) continue;
      std::vector<std::string>& versions = endpoint.versions;
      if (std::find(versions.begin(), versions.end(), w->instance.version) ==
          versions.end()) {
        versions.push_back(w->instance.version);
      }
    }
  }
  hooks_.on_endpoints(std::move(endpoints));
}

}  // namespace vlb::internal
