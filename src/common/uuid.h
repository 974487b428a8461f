// Random instance ids.
#ifndef VLB_COMMON_UUID_H_
#define VLB_COMMON_UUID_H_

#include <string>

namespace vlb::internal {

// Returns a random RFC 4122 version 4 UUID in its canonical lowercase form,
// e.g. "3f2b8c1e-9a4d-4e7f-b1c2-0d9e8f7a6b5c". Thread-safe.
std::string NewUuidV4();

}  // namespace vlb::internal

#endif  // VLB_COMMON_UUID_H_
