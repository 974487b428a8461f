#include "balancer/lane_value.h"

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace vlb::internal {

bool ParseLaneValue(absl::string_view value, absl::string_view* lane) {
  absl::string_view found;
  while (true) {
    const size_t comma = value.find(',');
    const absl::string_view part =
        absl::StripAsciiWhitespace(value.substr(0, comma));
    if (!part.empty()) {
      if (!found.empty() && part != found) return false;
      found = part;
    }
    if (comma == absl::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  *lane = found;
  return true;
}

}  // namespace vlb::internal
