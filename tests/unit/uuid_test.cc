#include "common/uuid.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace vlb::internal {
namespace {

TEST(NewUuidV4Test, HasCanonicalV4Format) {
  for (int i = 0; i < 100; ++i) {
    std::string uuid = NewUuidV4();
    ASSERT_EQ(uuid.size(), 36u) << uuid;
    for (size_t j = 0; j < uuid.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        ASSERT_EQ(uuid[j], '-') << uuid;
      } else {
        ASSERT_NE(std::string("0123456789abcdef").find(uuid[j]),
                  std::string::npos)
            << uuid;
      }
    }
    EXPECT_EQ(uuid[14], '4') << uuid;  // version
    EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos)
        << uuid;  // RFC 4122 variant
  }
}

TEST(NewUuidV4Test, IsUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(seen.insert(NewUuidV4()).second);
  }
}

}  // namespace
}  // namespace vlb::internal
