#include "kv/snapshot_copy.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "leveldb/iterator.h"
#include "leveldb/write_batch.h"

namespace raftkv::kv {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

bool GetU32(const std::string& in, size_t* pos, uint32_t* v) {
  if (in.size() - *pos < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; ++i) {
    *v |= static_cast<uint32_t>(static_cast<unsigned char>(in[*pos + i]))
          << (8 * i);
  }
  *pos += 4;
  return true;
}

void PutRecord(std::string* out, std::string_view key, std::string_view value) {
  PutU32(out, static_cast<uint32_t>(key.size()));
  out->append(key);
  PutU32(out, static_cast<uint32_t>(value.size()));
  out->append(value);
}

class StoreSource : public raft::SnapshotSource {
 public:
  StoreSource(std::shared_ptr<MvccStore> store, const kvpb::MemberList& members)
      : store_(std::move(store)),
        view_(store_->RawSnapshot()),
        it_(view_->NewIterator()),
        members_(members.SerializeAsString()) {
    it_->SeekToFirst();
  }

  absl::StatusOr<bool> Next(std::string* chunk) override {
    chunk->clear();
    if (!members_sent_) {
      PutRecord(chunk, kMembersKey, members_);
      members_sent_ = true;
    }
    while (it_->Valid() && chunk->size() < kChunkBytes) {
      const leveldb::Slice k = it_->key(), v = it_->value();
      PutRecord(chunk, std::string_view(k.data(), k.size()),
                std::string_view(v.data(), v.size()));
      it_->Next();
    }
    if (!it_->status().ok()) {
      return absl::InternalError(
          absl::StrCat("snapshot read: ", it_->status().ToString()));
    }
    return !chunk->empty();
  }

 private:
  std::shared_ptr<MvccStore> store_;
  std::unique_ptr<ReadView> view_;
  std::unique_ptr<leveldb::Iterator> it_;
  std::string members_;
  bool members_sent_ = false;
};

class StoreSink : public raft::SnapshotSink {
 public:
  StoreSink(std::unique_ptr<leveldb::DB> db, std::string dir,
            std::string members_path)
      : db_(std::move(db)),
        dir_(std::move(dir)),
        members_path_(std::move(members_path)) {}

  // A sink dropped before Finish() (the stream failed) discards its copy.
  ~StoreSink() override {
    if (finished_) return;
    db_.reset();
    leveldb::DestroyDB(dir_, leveldb::Options());
  }

  // The transport re-cuts the stream (rpc/peer/snapshot_sender.h): a record
  // may span pieces. Complete records are written; the rest waits.
  absl::Status Write(const std::string& piece) override {
    pending_.append(piece);
    leveldb::WriteBatch batch;
    size_t pos = 0;
    for (;;) {
      size_t p = pos;
      uint32_t klen = 0, vlen = 0;
      if (!GetU32(pending_, &p, &klen)) break;
      if (klen > kMaxRecordPart) return Corrupt(pos);
      if (pending_.size() - p < klen) break;
      const size_t key_at = p;
      p += klen;
      if (!GetU32(pending_, &p, &vlen)) break;
      if (vlen > kMaxRecordPart) return Corrupt(pos);
      if (pending_.size() - p < vlen) break;
      const std::string_view key(pending_.data() + key_at, klen);
      if (key == kMembersKey) {
        members_.assign(pending_, p, vlen);
      } else {
        batch.Put(leveldb::Slice(key.data(), key.size()),
                  leveldb::Slice(pending_.data() + p, vlen));
      }
      pos = p + vlen;
    }
    leveldb::Status s = db_->Write(leveldb::WriteOptions(), &batch);
    if (!s.ok()) return absl::InternalError(s.ToString());
    pending_.erase(0, pos);
    offset_ += pos;
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (!pending_.empty()) {
      return absl::DataLossError(
          absl::StrCat("snapshot stream ends inside a record at byte ", offset_,
                       " (", pending_.size(), " bytes left over)"));
    }
    leveldb::WriteOptions sync;
    sync.sync = true;
    leveldb::WriteBatch empty;
    leveldb::Status s = db_->Write(sync, &empty);
    if (!s.ok()) return absl::InternalError(s.ToString());
    db_.reset();
    std::ofstream out(members_path_, std::ios::binary | std::ios::trunc);
    out << members_;
    out.close();
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write ", members_path_));
    }
    // The copy is complete: the destructor must keep it for InstallSnapshot
    // (the peer service drops the sink right after Finish()).
    finished_ = true;
    return absl::OkStatus();
  }

 private:
  // A key or value longer than this is a corrupt length field.
  static constexpr uint32_t kMaxRecordPart = 1u << 30;

  absl::Status Corrupt(size_t pos) const {
    return absl::DataLossError(
        absl::StrCat("snapshot stream corrupt at byte ", offset_ + pos));
  }

  std::unique_ptr<leveldb::DB> db_;
  std::string dir_;
  std::string members_path_;
  bool finished_ = false;
  std::string members_;
  std::string pending_;  // an incomplete record's bytes so far
  uint64_t offset_ = 0;  // stream bytes consumed before pending_
};

}  // namespace

std::unique_ptr<raft::SnapshotSource> NewSnapshotSource(
    std::shared_ptr<MvccStore> store, const kvpb::MemberList& members) {
  return std::make_unique<StoreSource>(std::move(store), members);
}

absl::StatusOr<std::unique_ptr<raft::SnapshotSink>> NewSnapshotSink(
    const std::string& dir, const std::string& members_path) {
  leveldb::Options options;
  leveldb::DestroyDB(dir, options);
  options.create_if_missing = true;
  options.error_if_exists = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat(
        "cannot create snapshot staging store ", dir, ": ", s.ToString()));
  }
  return std::unique_ptr<raft::SnapshotSink>(
      new StoreSink(std::unique_ptr<leveldb::DB>(raw), dir, members_path));
}

}  // namespace raftkv::kv
