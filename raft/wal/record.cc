#include "raft/wal/record.h"

#include "raft/check.h"
#include "raft/wal/crc32c.h"

namespace raftkv::raft::wal {
namespace {

void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetFixed(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

bool KnownType(uint8_t type) {
  return type >= static_cast<uint8_t>(RecordType::kSegmentHeader) &&
         type <= static_cast<uint8_t>(RecordType::kConfState);
}

}  // namespace

void AppendRecord(RecordType type, std::string_view payload, std::string* out) {
  RAFTKV_CHECK_LE(payload.size(), size_t{kMaxPayload});
  size_t start = out->size();
  PutFixed32(out, 0);  // crc, filled in below
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  out->push_back(static_cast<char>(type));
  out->append(payload);
  uint32_t crc = crc32c::Extend(0, out->data() + start + 4,
                                kHeaderSize - 4 + payload.size());
  for (int i = 0; i < 4; ++i)
    (*out)[start + i] = static_cast<char>(crc >> (8 * i));
}

std::string EncodeSegmentHeader(const SegmentHeader& header) {
  std::string out;
  PutFixed32(&out, kFormatVersion);
  PutFixed64(&out, header.seq);
  PutFixed64(&out, header.first_index);
  return out;
}

bool DecodeSegmentHeader(std::string_view payload, SegmentHeader* header) {
  if (payload.size() != 20) return false;
  if (GetFixed(payload.data(), 4) != kFormatVersion) return false;
  header->seq = GetFixed(payload.data() + 4, 8);
  header->first_index = GetFixed(payload.data() + 12, 8);
  return true;
}

bool ParseRecordAt(std::string_view buf, uint64_t offset, Record* record) {
  if (offset > buf.size() || buf.size() - offset < kHeaderSize) return false;
  const char* p = buf.data() + offset;
  uint64_t length = GetFixed(p + 4, 4);
  auto type = static_cast<uint8_t>(p[8]);
  if (!KnownType(type) || length > kMaxPayload) return false;
  if (buf.size() - offset - kHeaderSize < length) return false;  // short
  uint32_t want = static_cast<uint32_t>(GetFixed(p, 4));
  if (crc32c::Extend(0, p + 4, kHeaderSize - 4 + length) != want) return false;
  record->offset = offset;
  record->type = static_cast<RecordType>(type);
  record->payload = std::string_view(p + kHeaderSize, length);
  return true;
}

bool AnyRecordAfter(std::string_view buf, uint64_t offset) {
  Record record;
  for (uint64_t at = offset + 1; at + kHeaderSize <= buf.size(); ++at) {
    // Cheap filter first: most offsets (e.g. a zero tail) fail on the type.
    if (!KnownType(static_cast<uint8_t>(buf[at + 8]))) continue;
    if (ParseRecordAt(buf, at, &record)) return true;
  }
  return false;
}

}  // namespace raftkv::raft::wal
