#include "discovery/snapshot_store.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "vlb/service_instance.h"

namespace vlb::internal {
namespace {

using Json = nlohmann::json;

Json ToJson(absl::string_view service, const ServiceSnapshot& snapshot) {
  Json instances = Json::array();
  for (const WatchedInstance& w : snapshot.instances) {
    instances.push_back({{"key", w.key},
                         {"mod_revision", w.mod_revision},
                         {"value", EncodeServiceRecord(w.instance)}});
  }
  return Json{{"service", std::string(service)},
              {"revision", snapshot.revision},
              {"saved_unix_ms", absl::ToUnixMillis(absl::Now())},
              {"instances", std::move(instances)}};
}

// Only what a watcher would accept from etcd itself.
bool ReadInstance(const Json& entry, const std::string& prefix,
                  WatchedInstance* out) {
  if (!entry.is_object() || !entry.value("key", Json()).is_string() ||
      !entry.value("value", Json()).is_string()) {
    return false;
  }
  out->key = entry["key"].get<std::string>();
  absl::string_view id = out->key;
  if (!absl::ConsumePrefix(&id, prefix) || id.empty() ||
      absl::StrContains(id, '/')) {
    return false;
  }
  absl::StatusOr<ServiceInstance> decoded =
      DecodeServiceRecord(entry["value"].get<std::string>());
  if (!decoded.ok()) return false;
  out->instance = *std::move(decoded);
  if (out->instance.id.empty()) out->instance.id = std::string(id);
  out->mod_revision = entry.value("mod_revision", int64_t{0});
  return true;
}

}  // namespace

std::string SnapshotPath(absl::string_view dir, absl::string_view service) {
  return absl::StrCat(dir, "/", service, ".json");
}

absl::Status SaveSnapshot(absl::string_view dir, absl::string_view service,
                          const ServiceSnapshot& snapshot) {
  std::error_code error;
  std::filesystem::create_directories(std::string(dir), error);
  if (error) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create snapshot directory ", dir, ": ", error.message()));
  }
  const std::string path = SnapshotPath(dir, service);
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << ToJson(service, snapshot).dump() << "\n";
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      return absl::UnavailableError(absl::StrCat("cannot write ", temp));
    }
  }
  std::filesystem::rename(temp, path, error);
  if (error) {
    std::remove(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot replace ", path, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredSnapshot> LoadSnapshot(absl::string_view dir,
                                            absl::string_view service) {
  const std::string path = SnapshotPath(dir, service);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no snapshot at ", path));
  std::stringstream text;
  text << in.rdbuf();
  const Json root =
      Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!root.is_object() || root.value("service", "") != service ||
      !root.value("instances", Json()).is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot ", path, " is not a snapshot of ", service));
  }
  StoredSnapshot stored;
  stored.saved = absl::FromUnixMillis(root.value("saved_unix_ms", int64_t{0}));
  stored.snapshot.revision = root.value("revision", int64_t{0});
  const std::string prefix = ServicePrefix(service);
  for (const Json& entry : root["instances"]) {
    WatchedInstance instance;
    if (ReadInstance(entry, prefix, &instance)) {
      stored.snapshot.instances.push_back(std::move(instance));
    }
  }
  return stored;
}

}  // namespace vlb::internal
