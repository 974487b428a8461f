#include "vlbctl/instance_text.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vlb::vlbctl {
namespace {

// The fields operators act on, as name and shown value, in display order.
std::vector<std::pair<std::string, std::string>> ShownFields(
    const ServiceInstance& instance) {
  return {{"version", instance.version},
          {"lane", instance.lane.empty() ? "-" : instance.lane},
          {"address", instance.address},
          {"weight", absl::StrCat(instance.weight)},
          {"drained", instance.drained ? "yes" : "no"}};
}

}  // namespace

nlohmann::json InstanceJson(const ServiceInstance& instance) {
  return {{"version", instance.version}, {"lane", instance.lane},
          {"address", instance.address}, {"weight", instance.weight},
          {"drained", instance.drained}, {"metadata", instance.metadata}};
}

std::string InstanceText(const ServiceInstance& instance) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : ShownFields(instance)) {
    parts.push_back(absl::StrCat(name, "=", value));
  }
  return absl::StrJoin(parts, " ");
}

std::string ChangedFields(const ServiceInstance& before,
                          const ServiceInstance& after) {
  const auto old_fields = ShownFields(before);
  const auto new_fields = ShownFields(after);
  std::vector<std::string> parts;
  for (size_t i = 0; i < old_fields.size(); ++i) {
    if (old_fields[i].second == new_fields[i].second) continue;
    parts.push_back(absl::StrCat(old_fields[i].first, "=", old_fields[i].second,
                                 "->", new_fields[i].second));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace vlb::vlbctl
