// A guard for JSON read from etcd: nlohmann copies and destroys values
// recursively, so a 64 KiB text of nested brackets would need megabytes of
// stack. Callers refuse texts nested deeper than they can ever need before
// parsing them. Thread-safe; one pass, no allocation.
#ifndef VLB_SRC_COMMON_JSON_DEPTH_H_
#define VLB_SRC_COMMON_JSON_DEPTH_H_

#include "absl/strings/string_view.h"

namespace vlb::internal {

// The deepest nesting of arrays and objects in `json`, outside strings;
// stops counting once past `limit`.
int JsonNestingDepth(absl::string_view json, int limit);

}  // namespace vlb::internal

#endif  // VLB_SRC_COMMON_JSON_DEPTH_H_
