// A reader and a writer of bbolt database files (go.etcd.io/bbolt, the
// format of etcd's backend and of `etcdctl snapshot save` files), so that
// raftkv's backups are files etcd's tools read and raftkv can restore etcd's.
//
// Only what etcd's schema needs: top-level buckets of plain key/value pairs
// (no nested buckets written; nested and inline buckets are read).
//
// The format, from bbolt's source (page.go, node.go, db.go, freelist.go):
// fixed-size pages (4096 here), two meta pages (0 and 1) naming the root
// bucket's page, the freelist page and the high-water page id, each with an
// FNV-1a 64 checksum; branch and leaf pages with 16-byte page headers and
// element tables; values larger than a page spill into overflow pages.
//
// Thread safety: a Writer or Reader is used by one thread at a time.
#ifndef RAFTKV_KV_BBOLT_BBOLT_H_
#define RAFTKV_KV_BBOLT_BBOLT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace raftkv::kv::bbolt {

// Writes a new bbolt file sequentially: memory stays bounded by the number
// of pages (one separator key per page), not by the data. The file is
// complete and valid only after Finish() returns OK.
class Writer {
 public:
  struct Options {
    uint32_t page_size = 4096;
    // The transaction id recorded in the meta pages.
    uint64_t txid = 1;
  };
  // Creates (truncates) `path`.
  static absl::StatusOr<std::unique_ptr<Writer>> Create(const std::string& path,
                                                        Options options);
  static absl::StatusOr<std::unique_ptr<Writer>> Create(
      const std::string& path) {
    return Create(path, Options());
  }
  virtual ~Writer() = default;

  // Top-level buckets come in strictly increasing byte order of name; keys
  // within a bucket in strictly increasing byte order (else
  // InvalidArgument). An empty bucket is fine.
  virtual absl::Status BeginBucket(std::string_view name) = 0;
  virtual absl::Status Put(std::string_view key, std::string_view value) = 0;
  virtual absl::Status EndBucket() = 0;
  // Writes the root bucket, freelist and both meta pages, fsyncs and closes.
  // The file's size is a multiple of the page size.
  virtual absl::Status Finish() = 0;
};

// Reads a bbolt file (etcd's member/snap/db, or a snapshot file without its
// trailing SHA-256: pass `size` to read only the first `size` bytes).
class Reader {
 public:
  // Picks the valid meta page with the higher txid; a file whose metas are
  // both invalid, or whose pages point outside it, is DataLoss with the
  // offset named.
  static absl::StatusOr<std::unique_ptr<Reader>> Open(const std::string& path,
                                                      uint64_t size = 0);
  virtual ~Reader() = default;

  virtual uint32_t page_size() const = 0;
  virtual uint64_t txid() const = 0;
  // Names of the top-level buckets, in order.
  virtual absl::StatusOr<std::vector<std::string>> Buckets() = 0;
  // Calls `fn` for each key/value of top-level `bucket` in key order
  // (NotFound if there is no such bucket); stops at fn's first error and
  // returns it. Nested buckets inside `bucket` are skipped.
  virtual absl::Status ForEach(
      std::string_view bucket,
      const std::function<absl::Status(std::string_view key,
                                       std::string_view value)>& fn) = 0;
};

}  // namespace raftkv::kv::bbolt

#endif  // RAFTKV_KV_BBOLT_BBOLT_H_
