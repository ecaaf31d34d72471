#include "raft/wal/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace raftkv::raft::wal::crc32c {
namespace {

// Vectors from RFC 3720 (iSCSI) appendix B.4 and the common check value.
TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Value(ascending), 0x46DD794Eu);
  EXPECT_EQ(Value(descending), 0x113FDB5Cu);
  EXPECT_EQ(Value(""), 0u);
}

TEST(Crc32cTest, PortableVectors) {
  EXPECT_EQ(ExtendPortable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, ExtendComposes) {
  const std::string s = "hello, durable world";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(Extend(Value(s.substr(0, cut)), s.data() + cut, s.size() - cut),
              Value(s));
  }
}

TEST(Crc32cTest, HardwareMatchesPortable) {
  if (!HardwareAvailable()) GTEST_SKIP() << "no SSE4.2";
  std::mt19937 rng(42);
  for (int len = 0; len < 300; ++len) {
    std::string buf(len, '\0');
    for (char& c : buf) c = static_cast<char>(rng());
    ASSERT_EQ(ExtendHardware(7, buf.data(), buf.size()),
              ExtendPortable(7, buf.data(), buf.size()))
        << "len=" << len;
  }
}

}  // namespace
}  // namespace raftkv::raft::wal::crc32c
