// The on-disk layout of a bbolt file, shared by writer.cc and reader.cc
// (internal to kv/bbolt/; users include bbolt.h). Everything is little-endian,
// as bbolt writes it on amd64, and every offset below is in bytes.
//
// The file is an array of pages of `page_size` bytes; page id N starts at
// N * page_size. A page, and the overflow pages that continue it, begins with
// a 16-byte header:
//
//   0  u64 id        the page's own id (bbolt's check compares it)
//   8  u16 flags     kBranchPage | kLeafPage | kMetaPage | kFreelistPage
//  10  u16 count     number of elements (freelist: 0xFFFF = see below)
//  12  u32 overflow  number of pages after this one that it spans
//
// Pages 0 and 1 are meta pages; after their header comes the 64-byte meta:
//
//   0  u32 magic     0xED0CDAED
//   4  u32 version   2
//   8  u32 page_size
//  12  u32 flags     0
//  16  u64 root      root bucket: page id of its tree ...
//  24  u64 sequence  ... and its sequence number (the bucket header below)
//  32  u64 freelist  page id of the freelist page
//  40  u64 pgid      high-water mark: one past the last page in use
//  48  u64 txid      transaction id; the valid meta with the higher one wins
//  56  u64 checksum  FNV-1a 64 of bytes [0, 56) of the meta
//
// A leaf page's header is followed by `count` 16-byte elements
// {u32 flags, u32 pos, u32 ksize, u32 vsize}; the key starts `pos` bytes
// after the start of its own element and the value right after the key.
// Element flag kBucketLeaf marks a value that is a bucket: a 16-byte bucket
// header {u64 root, u64 sequence}; root 0 means an inline bucket, whose leaf
// page (header with id 0, elements, data) follows inside the value.
//
// A branch page's elements are {u32 pos, u32 ksize, u64 pgid}: the first key
// of the child page `pgid`, located as for leaves. Keys within a page, and
// across a tree's pages in order, strictly increase.
//
// The freelist page lists free page ids as u64s after its header; if there
// are 0xFFFF or more, count is 0xFFFF and the first u64 holds the number.
#ifndef RAFTKV_KV_BBOLT_FORMAT_H_
#define RAFTKV_KV_BBOLT_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace raftkv::kv::bbolt::format {

// This abseil's string_view is its own type, not std::string_view.
inline absl::string_view Absl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
// `s` C-escaped, for error messages.
inline std::string Escaped(std::string_view s) {
  return absl::CEscape(Absl(s));
}

inline constexpr uint32_t kMagic = 0xED0CDAED;
inline constexpr uint32_t kVersion = 2;

inline constexpr uint16_t kBranchPage = 0x01;
inline constexpr uint16_t kLeafPage = 0x02;
inline constexpr uint16_t kMetaPage = 0x04;
inline constexpr uint16_t kFreelistPage = 0x10;
inline constexpr uint32_t kBucketLeaf = 0x01;

inline constexpr size_t kPageHeaderSize = 16;
inline constexpr size_t kLeafElementSize = 16;
inline constexpr size_t kBranchElementSize = 16;
inline constexpr size_t kBucketHeaderSize = 16;
inline constexpr size_t kMetaSize = 64;
// Bytes of the meta covered by its checksum (the offset of the checksum).
inline constexpr size_t kMetaChecksummed = 56;

// bbolt refuses larger keys and values (bucket.go MaxKeySize, MaxValueSize).
inline constexpr size_t kMaxKeySize = 32768;
inline constexpr size_t kMaxValueSize = (size_t{1} << 31) - 2;
// The largest element count a page header can carry (0xFFFF is reserved by
// the freelist's overflowed count, and bbolt's node.write refuses it).
inline constexpr size_t kMaxPageElements = 0xFFFE;
// Page sizes this package writes and reads: powers of two in this range
// (bbolt's Open reads the first 4096 bytes, so smaller pages make a file it
// cannot open while the database is small).
inline constexpr uint32_t kMinPageSize = 1024;
inline constexpr uint32_t kMaxPageSize = uint32_t{1} << 20;
inline constexpr bool ValidPageSize(uint64_t size) {
  return size >= kMinPageSize && size <= kMaxPageSize &&
         (size & (size - 1)) == 0;
}
// The meta's freelist field when the freelist is not stored.
inline constexpr uint64_t kNoFreelist = ~uint64_t{0};

inline void PutU16(char* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint64_t GetLittleEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}
inline uint16_t GetU16(const char* p) {
  return static_cast<uint16_t>(GetLittleEndian(p, 2));
}
inline uint32_t GetU32(const char* p) {
  return static_cast<uint32_t>(GetLittleEndian(p, 4));
}
inline uint64_t GetU64(const char* p) { return GetLittleEndian(p, 8); }

inline uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct PageHeader {
  uint64_t id = 0;
  uint16_t flags = 0;
  uint16_t count = 0;
  uint32_t overflow = 0;
};

// REQUIRES: p points at kPageHeaderSize writable bytes.
inline void EncodePageHeader(const PageHeader& h, char* p) {
  PutU64(p, h.id);
  PutU16(p + 8, h.flags);
  PutU16(p + 10, h.count);
  PutU32(p + 12, h.overflow);
}
// REQUIRES: p points at kPageHeaderSize readable bytes.
inline PageHeader DecodePageHeader(const char* p) {
  return PageHeader{GetU64(p), GetU16(p + 8), GetU16(p + 10), GetU32(p + 12)};
}

struct Meta {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
  uint32_t page_size = 0;
  uint32_t flags = 0;
  uint64_t root = 0;
  uint64_t sequence = 0;
  uint64_t freelist = 0;
  uint64_t pgid = 0;
  uint64_t txid = 0;
  uint64_t checksum = 0;
};

// Writes `m` with its checksum computed (m.checksum is ignored).
// REQUIRES: p points at kMetaSize writable bytes.
inline void EncodeMeta(const Meta& m, char* p) {
  PutU32(p, m.magic);
  PutU32(p + 4, m.version);
  PutU32(p + 8, m.page_size);
  PutU32(p + 12, m.flags);
  PutU64(p + 16, m.root);
  PutU64(p + 24, m.sequence);
  PutU64(p + 32, m.freelist);
  PutU64(p + 40, m.pgid);
  PutU64(p + 48, m.txid);
  PutU64(p + 56, Fnv1a64(std::string_view(p, kMetaChecksummed)));
}
// REQUIRES: p points at kMetaSize readable bytes.
inline Meta DecodeMeta(const char* p) {
  Meta m;
  m.magic = GetU32(p);
  m.version = GetU32(p + 4);
  m.page_size = GetU32(p + 8);
  m.flags = GetU32(p + 12);
  m.root = GetU64(p + 16);
  m.sequence = GetU64(p + 24);
  m.freelist = GetU64(p + 32);
  m.pgid = GetU64(p + 40);
  m.txid = GetU64(p + 48);
  m.checksum = GetU64(p + 56);
  return m;
}

}  // namespace raftkv::kv::bbolt::format

#endif  // RAFTKV_KV_BBOLT_FORMAT_H_
