// Maintenance.Snapshot: streams a point-in-time copy of this member's store
// as a bbolt database in etcd 3.4's schema (kv/backup/etcd_export.h), the
// file `etcdctl snapshot save` writes and `etcdctl snapshot restore` reads.
//
// The wire contract, as etcd 3.4's maintenance server and clientv3's
// snapshot manager use it: the file in chunks of at most 32 KiB, each with
// `remaining_bytes` = the file's bytes still to come after it; then one
// last message whose blob is the SHA-256 (32 bytes) of the whole file and
// whose remaining_bytes is 0. etcdctl writes every blob to disk and accepts
// the result only if its size is a multiple of 512 plus 32 (bbolt files are
// a multiple of the 4096-byte page size), and restore checks the digest.
//
// How: the request takes a LevelDB snapshot of the store (and the member
// list beside it) at once, so the copy is the store as of the call; a
// thread of the call's own exports it to a temporary file in the snapshot
// directory (the member's data dir), with memory bounded whatever the store
// size (the exporter streams); the file is unlinked as soon as it is open
// again for reading, so nothing is left behind by a finished or cancelled
// call. Writes go on meanwhile: the LevelDB snapshot pins old versions, not
// the writer. Then the gRPC reactor sends one chunk per completed write
// (one write in flight; the read of the next chunk is a 32 KiB pread).
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "kv/backup/etcd_export.h"
#include "rpc/server/services.h"

namespace raftkv::rpc {
namespace {

using etcdserverpb::SnapshotResponse;

// etcd's snapshotSendBufferSize.
constexpr size_t kChunkBytes = 32 * 1024;
constexpr size_t kSha256Bytes = 32;

std::string ScratchPath(const std::string& dir) {
  static std::atomic<uint64_t> counter{0};
  std::string base = dir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  return absl::StrCat(base, "/snapshot-", getpid(), "-", ++counter, ".db.tmp");
}

// One Snapshot call. The export thread owns the call until it either
// finishes it (export failed or the call was cancelled) or starts the first
// write; from then on only gRPC's reactions (OnWriteDone) drive it, so
// Finish is called exactly once. Deletes itself in OnDone.
class SnapshotReactor final
    : public grpc::ServerWriteReactor<SnapshotResponse> {
 public:
  SnapshotReactor(EtcdServer* server, std::string dir) {
    store_ = server->state_machine().store();
    view_ = store_->RawSnapshot();
    members_ = server->state_machine().members().List();
    path_ = ScratchPath(dir);
    exporter_ = std::thread([this] {
      // Until exporter_ is assigned, OnDone could not join it.
      started_.WaitForNotification();
      Export();
    });
    started_.Notify();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "etcdserver: snapshot stream broken"));
      return;
    }
    SendNext();
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override {
    // The exporter's last act was Finish or StartWrite, so it has ended or
    // is about to; never join from its own thread.
    if (exporter_.get_id() == std::this_thread::get_id()) {
      exporter_.detach();
    } else if (exporter_.joinable()) {
      exporter_.join();
    }
    delete this;
  }

 private:
  ~SnapshotReactor() override {
    if (fd_ >= 0) close(fd_);
    if (sha_ != nullptr) EVP_MD_CTX_free(sha_);
  }

  void Export() {
    const absl::Time start = absl::Now();
    absl::StatusOr<kv::backup::ExportStats> stats =
        kv::backup::ExportEtcdSnapshot(*view_, members_, path_);
    // The copy is taken: release the LevelDB snapshot (and with it the old
    // versions it pinned) before the stream, which may be slow.
    view_.reset();
    store_.reset();
    if (stats.ok()) {
      fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (fd_ < 0 || fstat(fd_, &st) != 0) {
        stats = absl::InternalError(absl::StrCat(
            "etcdserver: cannot read snapshot ", path_, ": ", strerror(errno)));
      } else {
        total_ = static_cast<uint64_t>(st.st_size);
      }
    }
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    if (!stats.ok()) {
      std::fprintf(stderr, "raftkv: snapshot export failed: %s\n",
                   std::string(stats.status().message()).c_str());
      Finish(ToGrpc(stats.status()));
      return;
    }
    if (cancelled_) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "context canceled"));
      return;
    }
    std::fprintf(stderr,
                 "raftkv: sending database snapshot to client total-bytes=%llu "
                 "revision=%lld keys=%lld took=%s\n",
                 static_cast<unsigned long long>(total_),
                 static_cast<long long>(stats->revision),
                 static_cast<long long>(stats->key_entries),
                 absl::FormatDuration(absl::Now() - start).c_str());
    sha_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr);
    SendNext();
  }

  // Starts the write of the next chunk, then of the digest, then finishes.
  void SendNext() {
    if (sha_sent_) {
      Finish(grpc::Status::OK);
      return;
    }
    std::string* blob = resp_.mutable_blob();
    if (sent_ == total_) {
      blob->resize(kSha256Bytes);
      unsigned int n = 0;
      EVP_DigestFinal_ex(sha_, reinterpret_cast<unsigned char*>(blob->data()),
                         &n);
      resp_.set_remaining_bytes(0);
      sha_sent_ = true;
      StartWrite(&resp_);
      return;
    }
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(kChunkBytes, total_ - sent_));
    blob->resize(want);
    size_t got = 0;
    while (got < want) {
      const ssize_t n = pread(fd_, blob->data() + got, want - got,
                              static_cast<off_t>(sent_ + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Finish(grpc::Status(grpc::StatusCode::INTERNAL,
                            absl::StrCat("etcdserver: reading snapshot: ",
                                         n < 0 ? strerror(errno) : "EOF")));
        return;
      }
      got += static_cast<size_t>(n);
    }
    EVP_DigestUpdate(sha_, blob->data(), want);
    sent_ += want;
    resp_.set_remaining_bytes(total_ - sent_);
    StartWrite(&resp_);
  }

  std::shared_ptr<kv::MvccStore> store_;
  std::unique_ptr<kv::ReadView> view_;  // of store_; reset before store_
  kvpb::MemberList members_;
  std::string path_;
  std::atomic<bool> cancelled_{false};
  // Set by the exporter before its first StartWrite, then used only by the
  // reactions, one at a time (one write in flight).
  int fd_ = -1;
  uint64_t total_ = 0;
  uint64_t sent_ = 0;
  bool sha_sent_ = false;
  EVP_MD_CTX* sha_ = nullptr;
  // Invariant: not touched while a write of it is in flight.
  SnapshotResponse resp_;
  absl::Notification started_;
  std::thread exporter_;
};

}  // namespace

grpc::ServerWriteReactor<SnapshotResponse>* MaintenanceService::Snapshot(
    grpc::CallbackServerContext*, const etcdserverpb::SnapshotRequest*) {
  return new SnapshotReactor(server_, snapshot_dir_);
}

}  // namespace raftkv::rpc
