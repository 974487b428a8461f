#include "common/uuid.h"

#include <cstdint>
#include <string>

#include "absl/random/random.h"

namespace vlb::internal {

std::string NewUuidV4() {
  // A fresh generator per call is seeded from the OS. A cached (e.g.
  // thread_local) one would be copied by fork(), and a parent and its forked
  // children would then hand out the same ids.
  absl::BitGen gen;
  uint8_t bytes[16];
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = absl::Uniform<uint64_t>(gen);
    for (int i = 0; i < 8; ++i) {
      bytes[half * 8 + i] = static_cast<uint8_t>(bits >> (8 * i));
    }
  }
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace vlb::internal
