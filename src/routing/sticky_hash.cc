#include "routing/sticky_hash.h"

namespace vlb::internal {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325;
constexpr uint64_t kFnvPrime = 0x100000001b3;

uint64_t Mix(uint64_t h, absl::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

uint64_t Finalize(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

}  // namespace

uint64_t StickyHash(absl::string_view service, absl::string_view rule,
                    absl::string_view value) {
  constexpr absl::string_view kSeparator("\0", 1);
  uint64_t h = Mix(kFnvOffset, service);
  h = Mix(h, kSeparator);
  h = Mix(h, rule);
  h = Mix(h, kSeparator);
  return Finalize(Mix(h, value));
}

uint32_t StickyBucket(absl::string_view service, absl::string_view rule,
                      absl::string_view value) {
  return static_cast<uint32_t>(StickyHash(service, rule, value) %
                               kStickyBuckets);
}

}  // namespace vlb::internal
