// WriteTxn: executes one write request (Put, DeleteRange or Txn) of an apply
// batch, with etcd's semantics, by adding its changes to the batch's
// WriteOverlay. All changes of one request share main revision
// begin_revision + 1 and get sub revisions 0, 1, 2, ... in op order.
//
// A request either fails before changing anything (every check runs first,
// as in etcd's applier) or succeeds; a failure after a change is a broken
// invariant.
#ifndef RAFTKV_KV_WRITE_TXN_H_
#define RAFTKV_KV_WRITE_TXN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "kv/kvpb.pb.h"
#include "kv/range_reader.h"
#include "kv/read_view.h"

namespace raftkv::kv {

class WriteTxn {
 public:
  // `view` must show `base` overlaid with `overlay` (an OverlayView), and
  // begin_revision/compact_revision describe that view before this request.
  // REQUIRES: all pointers outlive the WriteTxn.
  WriteTxn(const ReadView* view, WriteOverlay* overlay, int64_t begin_revision,
           int64_t compact_revision);

  absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& req);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& req);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& req);

  // Deletes every key attached to lease `id` (one revision, like a
  // DeleteRange) and the lease record. Returns the number of keys deleted,
  // or LeaseNotFoundError().
  absl::StatusOr<int64_t> RevokeLease(int64_t id);

  // Whether `req` has a put or delete in any branch (etcd's !isTxnReadonly).
  static bool IsWrite(const etcdserverpb::TxnRequest& req);

  // The store revision after this request: begin_revision, +1 if it changed
  // anything.
  int64_t end_revision() const {
    return begin_revision_ + (changes_ > 0 ? 1 : 0);
  }

 private:
  ReadContext Context() const;
  // Revision checks of Txn's range ops and ignore_* checks of its puts, on
  // the branch each (nested) txn will take.
  absl::Status CheckTxn(const etcdserverpb::TxnRequest& req,
                        const std::vector<bool>& path, size_t* pos);
  // Evaluates every compare of every txn that will run, in etcd's order.
  absl::Status ComparePath(const etcdserverpb::TxnRequest& req,
                           std::vector<bool>* path);
  absl::StatusOr<bool> Compare(const etcdserverpb::Compare& cmp);
  // Runs the chosen branch; path[*pos] is this txn's outcome.
  absl::StatusOr<etcdserverpb::TxnResponse> RunTxn(
      const etcdserverpb::TxnRequest& req, const std::vector<bool>& path,
      size_t* pos);

  void WritePut(std::string_view key, std::string value, int64_t lease);
  void WriteTombstone(std::string_view key);

  const ReadView* const view_;
  WriteOverlay* const overlay_;
  const int64_t begin_revision_;
  const int64_t compact_revision_;
  // Number of changes so far; the next change's sub revision.
  int64_t changes_ = 0;
};

// Whether lease `id` exists in `view`.
bool LeaseExists(const ReadView& view, int64_t id);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_WRITE_TXN_H_
