#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "vlb/etcd_options.h"

namespace vlb {

std::vector<std::string> ParseEndpointList(const std::string& list) {
  std::vector<std::string> endpoints;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    // Any whitespace, not only around the commas: lists often come from
    // shell variables and YAML where stray spaces or newlines sneak in.
    std::string entry;
    for (char c : part) {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
        entry.push_back(c);
      }
    }
    absl::string_view view = entry;
    // etcdctl and Go clients take URLs; accept the same strings so one
    // ETCD_ENDPOINTS value serves every tool.
    for (absl::string_view scheme : {"http://", "https://"}) {
      if (absl::StartsWithIgnoreCase(view, scheme)) {
        view.remove_prefix(scheme.size());
        break;
      }
    }
    while (!view.empty() && view.back() == '/') view.remove_suffix(1);
    if (!view.empty()) endpoints.emplace_back(view);
  }
  return endpoints;
}

bool EndpointListUsesHttps(const std::string& list) {
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    if (absl::StartsWithIgnoreCase(absl::StripLeadingAsciiWhitespace(part),
                                   "https://")) {
      return true;
    }
  }
  return false;
}

}  // namespace vlb
