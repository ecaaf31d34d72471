// Env: the few file-system operations the WAL needs, behind an interface so
// that tests can substitute an in-memory, fault-injecting implementation
// (tests/wal/fault_env.h) that drops unsynced writes, fails a write or sync,
// or tears a write. Env::Posix() is the real one.
//
// Every operation returns absl::Status; an I/O failure is an expected error
// (absl::InternalError / NotFoundError carrying errno text), never a crash.
#ifndef RAFTKV_RAFT_WAL_ENV_H_
#define RAFTKV_RAFT_WAL_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace raftkv::raft::wal {

// A file open for writing at an explicit position (pwrite-style, not
// O_APPEND), so that writes can go into preallocated, zero-filled space.
class WritableFile {
 public:
  virtual ~WritableFile() = default;

  // Writes `data` at the current write position and advances it. On error
  // any prefix of `data` may have been written.
  virtual absl::Status Append(std::string_view data) = 0;

  // Makes the file's data durable (fdatasync). Does not make a new file's
  // name durable: that needs Env::SyncDir.
  virtual absl::Status Sync() = 0;

  // Ensures the file is at least `size` bytes long, reserving the blocks so
  // that later writes inside it need no allocation; new bytes read as zero.
  // Does not move the write position.
  virtual absl::Status Preallocate(uint64_t size) = 0;

  // Sets the file's length to `size` and the write position to `size`.
  virtual absl::Status Truncate(uint64_t size) = 0;

  virtual absl::Status Close() = 0;
};

// A file open for positional reads. Safe for concurrent reads.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;

  // Reads up to n bytes at offset into *out (replacing its contents); fewer
  // only at end of file.
  virtual absl::Status Read(uint64_t offset, size_t n,
                            std::string* out) const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never destroyed.
  static Env* Posix();

  // Opens `path` for writing, creating it (empty) if it does not exist, with
  // the write position at `offset`. Does not truncate.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, uint64_t offset) = 0;
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> OpenReadable(
      const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;

  // Creates `dir` if it does not exist (parents must exist).
  virtual absl::Status CreateDir(const std::string& dir) = 0;
  // Names (not paths) of the entries of `dir`, excluding "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) = 0;
  // Atomically replaces `to` with `from`. Durable only after SyncDir.
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  // Durable only after SyncDir.
  virtual absl::Status Remove(const std::string& path) = 0;
  // Makes creations, renames and removals inside `dir` durable (fsync of the
  // directory).
  virtual absl::Status SyncDir(const std::string& dir) = 0;
};

}  // namespace raftkv::raft::wal

#endif  // RAFTKV_RAFT_WAL_ENV_H_
