#include "kv/write_txn.h"

#include <utility>

#include "kv/errors.h"
#include "kv/key_layout.h"
#include "kv/status_macros.h"
#include "raft/check.h"

namespace raftkv::kv {

using etcdserverpb::Compare;
using etcdserverpb::DeleteRangeRequest;
using etcdserverpb::DeleteRangeResponse;
using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;
using etcdserverpb::RequestOp;
using etcdserverpb::ResponseOp;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;
using mvccpb::KeyValue;

namespace {

int CompareInt(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

// etcd's compareKV: the target's value against the compare's operand (an
// operand of another target than the compared one reads as zero).
bool CompareKv(const Compare& cmp, const KeyValue& kv) {
  int result = 0;
  switch (cmp.target()) {
    case Compare::VALUE:
      result = kv.value().compare(cmp.value());
      result = result < 0 ? -1 : (result > 0 ? 1 : 0);
      break;
    case Compare::CREATE:
      result = CompareInt(kv.create_revision(), cmp.create_revision());
      break;
    case Compare::MOD:
      result = CompareInt(kv.mod_revision(), cmp.mod_revision());
      break;
    case Compare::VERSION:
      result = CompareInt(kv.version(), cmp.version());
      break;
    case Compare::LEASE:
      result = CompareInt(kv.lease(), cmp.lease());
      break;
    default:
      break;
  }
  switch (cmp.result()) {
    case Compare::EQUAL:
      return result == 0;
    case Compare::NOT_EQUAL:
      return result != 0;
    case Compare::GREATER:
      return result > 0;
    case Compare::LESS:
      return result < 0;
    default:
      return true;
  }
}

bool IsReadOnly(const TxnRequest& req) {
  for (const auto* branch : {&req.success(), &req.failure()}) {
    for (const RequestOp& op : *branch) {
      if (op.has_request_put() || op.has_request_delete_range()) return false;
      if (op.has_request_txn() && !IsReadOnly(op.request_txn())) return false;
    }
  }
  return true;
}

const google::protobuf::RepeatedPtrField<RequestOp>& Branch(
    const TxnRequest& req, bool succeeded) {
  return succeeded ? req.success() : req.failure();
}

}  // namespace

WriteTxn::WriteTxn(const ReadView* view, WriteOverlay* overlay,
                   int64_t begin_revision, int64_t compact_revision)
    : view_(view),
      overlay_(overlay),
      begin_revision_(begin_revision),
      compact_revision_(compact_revision) {}

ReadContext WriteTxn::Context() const {
  ReadContext ctx;
  ctx.view = view_;
  ctx.current_rev = end_revision();
  ctx.compact_rev = compact_revision_;
  return ctx;
}

void WriteTxn::WritePut(std::string_view key, std::string value,
                        int64_t lease) {
  absl::StatusOr<std::optional<layout::KeyMeta>> prev =
      LatestMeta(Context(), key);
  RAFTKV_CHECK(prev.ok());  // Callers read the key just before.
  const int64_t main = begin_revision_ + 1;
  const int64_t sub = changes_++;
  layout::KeyMeta meta;
  meta.create_revision = prev->has_value() ? (*prev)->create_revision : main;
  meta.version = prev->has_value() ? (*prev)->version + 1 : 1;
  meta.mod_revision = main;
  meta.lease = lease;
  const int64_t prev_lease = prev->has_value() ? (*prev)->lease : 0;
  if (prev_lease != lease) {
    if (prev_lease != 0) {
      overlay_->Delete(layout::LeaseKeyIndexKey(prev_lease, key));
    }
    if (lease != 0) overlay_->Put(layout::LeaseKeyIndexKey(lease, key), "");
  }

  KeyValue kv;
  kv.set_key(std::string(key));
  kv.set_create_revision(meta.create_revision);
  kv.set_mod_revision(main);
  kv.set_version(meta.version);
  kv.set_value(std::move(value));
  kv.set_lease(lease);
  std::string encoded(1, layout::kPutTag);
  kv.AppendToString(&encoded);

  overlay_->Put(layout::CurrentKey(key), layout::EncodeMeta(meta));
  overlay_->Put(layout::HistoryKey(key, main, sub), std::move(encoded));
  overlay_->Put(layout::ChangeKey(main, sub), std::string(key));
}

void WriteTxn::WriteTombstone(std::string_view key) {
  absl::StatusOr<std::optional<layout::KeyMeta>> prev =
      LatestMeta(Context(), key);
  RAFTKV_CHECK(prev.ok());  // Callers read the key just before.
  if (prev->has_value() && (*prev)->lease != 0) {
    overlay_->Delete(layout::LeaseKeyIndexKey((*prev)->lease, key));
  }
  const int64_t main = begin_revision_ + 1;
  const int64_t sub = changes_++;
  overlay_->Delete(layout::CurrentKey(key));
  overlay_->Put(layout::HistoryKey(key, main, sub),
                std::string(1, layout::kTombstoneTag));
  overlay_->Put(layout::ChangeKey(main, sub), std::string(key));
}

absl::StatusOr<PutResponse> WriteTxn::Put(const PutRequest& req) {
  PutResponse resp;
  std::string value = req.value();
  int64_t lease = req.lease();
  if (req.prev_kv() || req.ignore_value() || req.ignore_lease()) {
    absl::StatusOr<std::vector<KeyValue>> prev =
        LatestKeyValues(Context(), KeyRange::FromRequest(req.key(), ""));
    if (!prev.ok()) return prev.status();
    if (prev->empty() && (req.ignore_value() || req.ignore_lease())) {
      return KeyNotFoundError();
    }
    if (!prev->empty()) {
      if (req.ignore_value()) value = (*prev)[0].value();
      if (req.ignore_lease()) lease = (*prev)[0].lease();
      if (req.prev_kv()) *resp.mutable_prev_kv() = std::move((*prev)[0]);
    }
  }
  WritePut(req.key(), std::move(value), lease);
  resp.mutable_header()->set_revision(end_revision());
  return resp;
}

absl::StatusOr<DeleteRangeResponse> WriteTxn::DeleteRange(
    const DeleteRangeRequest& req) {
  DeleteRangeResponse resp;
  std::vector<std::string> keys;
  absl::Status s = ScanLiveKeys(
      Context(), end_revision(),
      KeyRange::FromRequest(req.key(), req.range_end()),
      [&](std::string_view key) {
        keys.emplace_back(key);
        return req.prev_kv() ? ScanAction::kLoad : ScanAction::kCountOnly;
      },
      [&](KeyValue kv) { *resp.add_prev_kvs() = std::move(kv); });
  if (!s.ok()) return s;
  // The scan's iterators are gone: the overlay may change now.
  for (const std::string& key : keys) WriteTombstone(key);
  resp.set_deleted(static_cast<int64_t>(keys.size()));
  resp.mutable_header()->set_revision(end_revision());
  return resp;
}

absl::StatusOr<bool> WriteTxn::Compare(const etcdserverpb::Compare& cmp) {
  absl::StatusOr<std::vector<KeyValue>> kvs = LatestKeyValues(
      Context(), KeyRange::FromRequest(cmp.key(), cmp.range_end()));
  if (!kvs.ok()) return kvs.status();
  if (kvs->empty()) {
    // A missing key has no value to compare; other targets read as 0.
    if (cmp.target() == Compare::VALUE) return false;
    return CompareKv(cmp, KeyValue());
  }
  for (const KeyValue& kv : *kvs) {
    if (!CompareKv(cmp, kv)) return false;
  }
  return true;
}

absl::Status WriteTxn::ComparePath(const TxnRequest& req,
                                   std::vector<bool>* path) {
  bool succeeded = true;
  for (const etcdserverpb::Compare& cmp : req.compare()) {
    absl::StatusOr<bool> ok = Compare(cmp);
    if (!ok.ok()) return ok.status();
    if (!*ok) {
      succeeded = false;
      break;
    }
  }
  path->push_back(succeeded);
  for (const RequestOp& op : Branch(req, succeeded)) {
    if (op.has_request_txn()) {
      RAFTKV_RETURN_IF_NOT_OK(ComparePath(op.request_txn(), path));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteTxn::CheckTxn(const TxnRequest& req,
                                const std::vector<bool>& path, size_t* pos) {
  const bool succeeded = path[(*pos)++];
  ReadContext ctx = Context();
  for (const RequestOp& op : Branch(req, succeeded)) {
    if (op.has_request_txn()) {
      RAFTKV_RETURN_IF_NOT_OK(CheckTxn(op.request_txn(), path, pos));
    } else if (op.has_request_range()) {
      int64_t rev = op.request_range().revision();
      if (rev > ctx.current_rev) return FutureRevError();
      if (rev > 0 && rev < ctx.compact_rev) return CompactedError();
    } else if (op.has_request_put()) {
      const PutRequest& put = op.request_put();
      // As etcd's checkPut: only the puts on the path taken must name an
      // existing lease.
      if (put.lease() != 0 && !LeaseExists(*view_, put.lease())) {
        return LeaseNotFoundError();
      }
      if (put.ignore_value() || put.ignore_lease()) {
        absl::StatusOr<std::optional<layout::KeyMeta>> meta =
            LatestMeta(ctx, put.key());
        if (!meta.ok()) return meta.status();
        if (!meta->has_value()) return KeyNotFoundError();
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TxnResponse> WriteTxn::RunTxn(const TxnRequest& req,
                                             const std::vector<bool>& path,
                                             size_t* pos) {
  TxnResponse resp;
  const bool succeeded = path[(*pos)++];
  resp.set_succeeded(succeeded);
  resp.mutable_header();
  for (const RequestOp& op : Branch(req, succeeded)) {
    ResponseOp* out = resp.add_responses();
    switch (op.request_case()) {
      case RequestOp::kRequestRange: {
        auto r = ExecuteRange(Context(), op.request_range());
        if (!r.ok()) return r.status();
        *out->mutable_response_range() = *std::move(r);
        break;
      }
      case RequestOp::kRequestPut: {
        auto r = Put(op.request_put());
        if (!r.ok()) return r.status();
        *out->mutable_response_put() = *std::move(r);
        break;
      }
      case RequestOp::kRequestDeleteRange: {
        auto r = DeleteRange(op.request_delete_range());
        if (!r.ok()) return r.status();
        *out->mutable_response_delete_range() = *std::move(r);
        break;
      }
      case RequestOp::kRequestTxn: {
        // As in etcd, a nested txn's header stays empty.
        auto r = RunTxn(op.request_txn(), path, pos);
        if (!r.ok()) return r.status();
        *out->mutable_response_txn() = *std::move(r);
        break;
      }
      default:
        break;
    }
  }
  return resp;
}

absl::StatusOr<TxnResponse> WriteTxn::Txn(const TxnRequest& req) {
  RAFTKV_CHECK_EQ(changes_, 0);
  // Every compare (nested ones too) sees the store before the txn.
  std::vector<bool> path;
  RAFTKV_RETURN_IF_NOT_OK(ComparePath(req, &path));
  size_t pos = 0;
  RAFTKV_RETURN_IF_NOT_OK(CheckTxn(req, path, &pos));
  pos = 0;
  // Ops may still fail after changes (etcd 3.4 panics there, e.g. "put b
  // ignore_value" after "delete [a, \0)"); the caller rolls the overlay back.
  absl::StatusOr<TxnResponse> resp = RunTxn(req, path, &pos);
  if (!resp.ok()) return resp.status();
  resp->mutable_header()->set_revision(end_revision());
  return resp;
}

bool WriteTxn::IsWrite(const TxnRequest& req) { return !IsReadOnly(req); }

absl::StatusOr<int64_t> WriteTxn::RevokeLease(int64_t id) {
  const std::string record = layout::LeaseKey(id);
  std::unique_ptr<leveldb::Iterator> it = view_->NewIterator();
  it->Seek(record);
  if (!it->Valid() || it->key() != leveldb::Slice(record)) {
    return LeaseNotFoundError();
  }
  const std::string prefix = layout::LeaseKeyIndexKey(id, "");
  std::vector<std::string> keys;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    keys.emplace_back(it->key().data() + prefix.size(),
                      it->key().size() - prefix.size());
  }
  it.reset();
  // All of the lease's keys go in one revision, like one DeleteRange.
  for (const std::string& key : keys) WriteTombstone(key);
  overlay_->Delete(record);
  return static_cast<int64_t>(keys.size());
}

bool LeaseExists(const ReadView& view, int64_t id) {
  const std::string record = layout::LeaseKey(id);
  std::unique_ptr<leveldb::Iterator> it = view.NewIterator();
  it->Seek(record);
  return it->Valid() && it->key() == leveldb::Slice(record);
}

}  // namespace raftkv::kv
