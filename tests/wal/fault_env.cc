#include "tests/wal/fault_env.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace raftkv::raft::wal::testing {
namespace {

using File = FaultEnv::File;

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

class MemWritableFile : public WritableFile {
 public:
  MemWritableFile(FaultEnv* env, std::string path, std::shared_ptr<File> file,
                  uint64_t offset)
      : env_(env),
        path_(std::move(path)),
        file_(std::move(file)),
        offset_(offset) {}

  absl::Status Append(std::string_view data) override {
    if (auto s = env_->MaybeFail(FaultEnv::Op::kWrite, path_); !s.ok()) {
      return s;
    }
    std::optional<size_t> tear = env_->TakeTear();
    std::string_view part = data.substr(0, tear.value_or(data.size()));
    if (file_->data.size() < offset_ + part.size()) {
      file_->data.resize(offset_ + part.size());
    }
    file_->data.replace(offset_, part.size(), part.data(), part.size());
    offset_ += part.size();
    if (tear) return absl::InternalError(absl::StrCat(path_, ": torn write"));
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (auto s = env_->MaybeFail(FaultEnv::Op::kSync, path_); !s.ok()) {
      return s;
    }
    env_->CountSync();
    file_->synced = file_->data;
    return absl::OkStatus();
  }

  absl::Status Preallocate(uint64_t size) override {
    if (auto s = env_->MaybeFail(FaultEnv::Op::kPreallocate, path_); !s.ok()) {
      return s;
    }
    if (file_->data.size() < size) file_->data.resize(size, '\0');
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    file_->data.resize(size, '\0');
    offset_ = size;
    return absl::OkStatus();
  }

  absl::Status Close() override { return absl::OkStatus(); }

 private:
  FaultEnv* const env_;
  const std::string path_;
  const std::shared_ptr<File> file_;
  uint64_t offset_;
};

class MemRandomAccessFile : public RandomAccessFile {
 public:
  explicit MemRandomAccessFile(std::shared_ptr<File> file)
      : file_(std::move(file)) {}

  absl::Status Read(uint64_t offset, size_t n,
                    std::string* out) const override {
    if (offset >= file_->data.size()) {
      out->clear();
    } else {
      *out = file_->data.substr(offset, n);
    }
    return absl::OkStatus();
  }

 private:
  const std::shared_ptr<File> file_;
};

}  // namespace

absl::Status FaultEnv::MaybeFail(Op op, const std::string& path) {
  if (failing_.erase(op) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(path, ": injected I/O error"));
}

std::optional<size_t> FaultEnv::TakeTear() {
  std::optional<size_t> tear = tear_at_;
  tear_at_.reset();
  return tear;
}

void FaultEnv::Crash() {
  live_ = durable_;
  for (auto& [path, file] : live_) file->data = file->synced;
  failing_.clear();
  tear_at_.reset();
}

std::string FaultEnv::Contents(const std::string& path) const {
  auto it = live_.find(path);
  return it == live_.end() ? "" : it->second->data;
}

void FaultEnv::SetContents(const std::string& path, const std::string& data) {
  auto& file = live_[path];
  if (file == nullptr) file = std::make_shared<File>();
  file->data = file->synced = data;
  durable_[path] = file;
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultEnv::OpenWritable(
    const std::string& path, uint64_t offset) {
  auto& file = live_[path];
  if (file == nullptr) file = std::make_shared<File>();
  return std::make_unique<MemWritableFile>(this, path, file, offset);
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>> FaultEnv::OpenReadable(
    const std::string& path) {
  auto it = live_.find(path);
  if (it == live_.end()) return absl::NotFoundError(path);
  return std::make_unique<MemRandomAccessFile>(it->second);
}

absl::StatusOr<uint64_t> FaultEnv::FileSize(const std::string& path) {
  auto it = live_.find(path);
  if (it == live_.end()) return absl::NotFoundError(path);
  return it->second->data.size();
}

absl::Status FaultEnv::CreateDir(const std::string&) {
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FaultEnv::ListDir(
    const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& [path, file] : live_) {
    if (Dirname(path) == dir) names.push_back(path.substr(dir.size() + 1));
  }
  return names;
}

absl::Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  if (auto s = MaybeFail(Op::kRename, from); !s.ok()) return s;
  auto it = live_.find(from);
  if (it == live_.end()) return absl::NotFoundError(from);
  live_[to] = it->second;
  live_.erase(it);
  return absl::OkStatus();
}

absl::Status FaultEnv::Remove(const std::string& path) {
  if (live_.erase(path) == 0) return absl::NotFoundError(path);
  return absl::OkStatus();
}

absl::Status FaultEnv::SyncDir(const std::string& dir) {
  if (auto s = MaybeFail(Op::kSyncDir, dir); !s.ok()) return s;
  for (auto it = durable_.begin(); it != durable_.end();) {
    it = Dirname(it->first) == dir ? durable_.erase(it) : std::next(it);
  }
  for (const auto& [path, file] : live_) {
    if (Dirname(path) == dir) durable_[path] = file;
  }
  return absl::OkStatus();
}

}  // namespace raftkv::raft::wal::testing
