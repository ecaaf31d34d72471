// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
// WAL record. Debian ships no crc32c library, so this is our own: SSE4.2's
// crc32 instruction when the CPU has it, otherwise a table-driven fallback.
// Both give identical results; tests/wal/crc32c_test.cc checks them against
// published vectors (crc32c("123456789") == 0xE3069283).
#ifndef RAFTKV_RAFT_WAL_CRC32C_H_
#define RAFTKV_RAFT_WAL_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace raftkv::raft::wal::crc32c {

// Returns the CRC32C of data[0, n) continued from `crc`, the CRC32C of some
// earlier bytes (0 for none): Extend(Value(a), b) == Value(a + b).
uint32_t Extend(uint32_t crc, const char* data, size_t n);

inline uint32_t Value(std::string_view data) {
  return Extend(0, data.data(), data.size());
}

// The two implementations behind Extend, exposed so that tests can compare
// them. ExtendHardware REQUIRES: HardwareAvailable().
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
uint32_t ExtendHardware(uint32_t crc, const char* data, size_t n);
bool HardwareAvailable();

}  // namespace raftkv::raft::wal::crc32c

#endif  // RAFTKV_RAFT_WAL_CRC32C_H_
