// FaultEnv: an in-memory wal::Env for tests that models what a crash keeps
// and injects I/O faults.
//
// Model: every file has its current contents and the contents as of its last
// Sync; the directory has its current names and the names as of its last
// SyncDir. Crash() reverts both, as a power loss would: unsynced writes,
// truncations, creations, renames and removals are lost.
//
// Faults are one-shot: FailNext(op) makes the next such operation return an
// I/O error without effect; TearNextWrite(keep) makes the next Append write
// only its first `keep` bytes and then fail.
#ifndef RAFTKV_TESTS_WAL_FAULT_ENV_H_
#define RAFTKV_TESTS_WAL_FAULT_ENV_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/wal/env.h"

namespace raftkv::raft::wal::testing {

class FaultEnv : public Env {
 public:
  enum class Op { kWrite, kSync, kPreallocate, kRename, kSyncDir };

  void FailNext(Op op) { failing_.insert(op); }
  void TearNextWrite(size_t keep) { tear_at_ = keep; }
  // Drops everything not made durable (see top of file).
  void Crash();

  // Direct access to the current contents, bypassing faults. SetContents
  // writes durably (as if synced).
  std::string Contents(const std::string& path) const;
  void SetContents(const std::string& path, const std::string& data);
  bool Exists(const std::string& path) const { return live_.count(path) > 0; }
  int sync_count() const { return sync_count_; }

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, uint64_t offset) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> OpenReadable(
      const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::Status CreateDir(const std::string& dir) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status SyncDir(const std::string& dir) override;

  struct File {
    std::string data;    // what a read sees now
    std::string synced;  // what survives a crash
  };
  // Returns an I/O error (and consumes the fault) if `op` is set to fail.
  absl::Status MaybeFail(Op op, const std::string& path);
  std::optional<size_t> TakeTear();
  void CountSync() { ++sync_count_; }

 private:
  std::map<std::string, std::shared_ptr<File>> live_;
  std::map<std::string, std::shared_ptr<File>> durable_;
  std::set<Op> failing_;
  std::optional<size_t> tear_at_;
  int sync_count_ = 0;
};

}  // namespace raftkv::raft::wal::testing

#endif  // RAFTKV_TESTS_WAL_FAULT_ENV_H_
