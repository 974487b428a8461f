// The function that sends one user to the same side of a sticky split in
// every client process, in any language. Published (README "Sticky
// splits", with test vectors) so that other implementations can check
// themselves against it:
//
//   key    = service, 0x00, rule name, 0x00, header value   (bytes)
//   h      = FNV-1a 64 of key  (offset 0xcbf29ce484222325, prime
//            0x100000001b3: for each byte, h ^= byte; h *= prime)
//   h      = fmix64(h), MurmurHash3's finalizer:
//            h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33;
//            h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33
//   bucket = h mod 10000                       (all arithmetic mod 2^64)
//
// FNV-1a alone spreads a change in the last bytes (where user ids differ)
// poorly: "user-1" and "user-2" would share a bucket. The finalizer makes
// every bit of the key reach every bit of h. A split's entries own
// consecutive runs of buckets in their order, each as long as its share of
// 10000, so raising the last entry's weight only moves users into it.
//
// Thread-safe, allocation-free, O(key length).
#ifndef VLB_SRC_ROUTING_STICKY_HASH_H_
#define VLB_SRC_ROUTING_STICKY_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace vlb::internal {

inline constexpr uint32_t kStickyBuckets = 10000;

// h above, before the reduction to a bucket.
uint64_t StickyHash(absl::string_view service, absl::string_view rule,
                    absl::string_view value);

// The bucket in [0, kStickyBuckets) of a user's header value.
uint32_t StickyBucket(absl::string_view service, absl::string_view rule,
                      absl::string_view value);

}  // namespace vlb::internal

#endif  // VLB_SRC_ROUTING_STICKY_HASH_H_
