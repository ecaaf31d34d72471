// The WAL's on-disk record format. This header is its definition.
//
// A segment file is a sequence of records:
//
//   record  := crc:u32 | length:u32 | type:u8 | payload[length]
//
// All integers are little-endian. `crc` is the CRC32C (raft/wal/crc32c.h) of
// the bytes from `length` to the end of the payload, so a corrupt length or
// type is detected as well as a corrupt payload. Type 0 is never written: a
// zero-filled (preallocated, never written) region therefore never parses as
// a record. The record header is kHeaderSize = 9 bytes.
//
// Record types and payloads:
//   kSegmentHeader (1): version:u32 | seq:u64 | first_index:u64 — always the
//       first record of a segment; seq matches the file name, first_index is
//       LastIndex()+1 when the segment was created.
//   kEntry        (2): a serialized raftpb::Entry. An entry whose index is at
//       or below the last one replayed overwrites that suffix of the log.
//   kHardState    (3): a serialized raftpb::HardState (latest one wins).
//   kSnapshot     (4): a serialized raftpb::SnapshotMetadata of a snapshot a
//       leader sent: the whole log is replaced by it.
//   kCompact      (5): a serialized raftpb::SnapshotMetadata of a local
//       snapshot: entries up to its index are discarded.
//   kConfState    (6): a serialized raftpb::ConfState (bootstrap membership,
//       stored in the snapshot metadata).
//
// Every segment starts with kSegmentHeader, kCompact (the snapshot metadata
// at creation) and kHardState (the hard state at creation), so that older
// segments can be deleted without losing either.
#ifndef RAFTKV_RAFT_WAL_RECORD_H_
#define RAFTKV_RAFT_WAL_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace raftkv::raft::wal {

enum class RecordType : uint8_t {
  kInvalid = 0,
  kSegmentHeader = 1,
  kEntry = 2,
  kHardState = 3,
  kSnapshot = 4,
  kCompact = 5,
  kConfState = 6,
};

inline constexpr size_t kHeaderSize = 9;
inline constexpr uint32_t kFormatVersion = 1;
// Larger payloads are rejected when written and treated as corrupt when read.
inline constexpr uint32_t kMaxPayload = 1u << 30;

// Appends one framed record to *out. REQUIRES: payload.size() <= kMaxPayload.
void AppendRecord(RecordType type, std::string_view payload, std::string* out);

struct SegmentHeader {
  uint64_t seq = 0;
  uint64_t first_index = 0;
};
std::string EncodeSegmentHeader(const SegmentHeader& header);
// False if the payload is not a version-1 segment header.
bool DecodeSegmentHeader(std::string_view payload, SegmentHeader* header);

struct Record {
  uint64_t offset = 0;  // of the record's first byte in the buffer
  RecordType type = RecordType::kInvalid;
  std::string_view payload;  // points into the scanned buffer
};

// Parses the record at `offset` of `buf`. Returns false (and leaves *record
// unspecified) unless a whole, valid record starts there.
bool ParseRecordAt(std::string_view buf, uint64_t offset, Record* record);

// Whether any valid record starts at a byte offset in (offset, buf.size()).
// Used to tell a torn tail (nothing valid after the bad record) from
// corruption in the middle (valid records follow).
bool AnyRecordAfter(std::string_view buf, uint64_t offset);

}  // namespace raftkv::raft::wal

#endif  // RAFTKV_RAFT_WAL_RECORD_H_
