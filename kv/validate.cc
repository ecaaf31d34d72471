#include "kv/validate.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "kv/errors.h"
#include "kv/status_macros.h"

namespace raftkv::kv {
namespace {

using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;

// A delete's interval as etcd 3.4's checkIntervals sees it: [key, range_end)
// taken literally (so a "\0" range_end is an empty interval), or the point
// [key, key+"\0") without a range_end.
struct Interval {
  std::string begin;
  std::string end;
  bool Contains(const std::string& k) const { return begin <= k && k < end; }
};

bool AnyContains(const std::vector<Interval>& dels, const std::string& k) {
  return std::any_of(dels.begin(), dels.end(),
                     [&k](const Interval& iv) { return iv.Contains(k); });
}

struct Writes {
  std::set<std::string> puts;
  std::vector<Interval> dels;
};

absl::Status CheckIntervals(
    const google::protobuf::RepeatedPtrField<RequestOp>& ops, Writes* out) {
  for (const RequestOp& op : ops) {
    if (!op.has_request_delete_range()) continue;
    const auto& del = op.request_delete_range();
    out->dels.push_back(del.range_end().empty()
                            ? Interval{del.key(), del.key() + '\0'}
                            : Interval{del.key(), del.range_end()});
  }
  // Children's writes; the two branches of one child exclude each other, so
  // a key put in both is fine.
  for (const RequestOp& op : ops) {
    if (!op.has_request_txn()) continue;
    Writes then_writes, else_writes;
    RAFTKV_RETURN_IF_NOT_OK(
        CheckIntervals(op.request_txn().success(), &then_writes));
    RAFTKV_RETURN_IF_NOT_OK(
        CheckIntervals(op.request_txn().failure(), &else_writes));
    for (const std::string& k : then_writes.puts) {
      if (out->puts.count(k) > 0 || AnyContains(out->dels, k)) {
        return DuplicateKeyError();
      }
      out->puts.insert(k);
    }
    for (const std::string& k : else_writes.puts) {
      if (out->puts.count(k) > 0 && then_writes.puts.count(k) == 0) {
        return DuplicateKeyError();
      }
      if (AnyContains(out->dels, k)) return DuplicateKeyError();
      out->puts.insert(k);
    }
    for (auto* child : {&then_writes, &else_writes}) {
      out->dels.insert(out->dels.end(), child->dels.begin(), child->dels.end());
    }
  }
  for (const RequestOp& op : ops) {
    if (!op.has_request_put()) continue;
    const std::string& k = op.request_put().key();
    if (out->puts.count(k) > 0 || AnyContains(out->dels, k)) {
      return DuplicateKeyError();
    }
    out->puts.insert(k);
  }
  return absl::OkStatus();
}

absl::Status ValidateTxnOps(const TxnRequest& req, int64_t max_txn_ops);

absl::Status ValidateOp(const RequestOp& op, int64_t max_txn_ops) {
  switch (op.request_case()) {
    case RequestOp::kRequestRange:
      return ValidateRange(op.request_range());
    case RequestOp::kRequestPut:
      return ValidatePut(op.request_put());
    case RequestOp::kRequestDeleteRange:
      return ValidateDeleteRange(op.request_delete_range());
    case RequestOp::kRequestTxn:
      return ValidateTxnOps(op.request_txn(), max_txn_ops);
    default:
      return KeyNotFoundError();
  }
}

absl::Status ValidateTxnOps(const TxnRequest& req, int64_t max_txn_ops) {
  int64_t ops =
      std::max({req.compare_size(), req.success_size(), req.failure_size()});
  if (ops > max_txn_ops) return TooManyOpsError();
  for (const auto& cmp : req.compare()) {
    if (cmp.key().empty()) return EmptyKeyError();
  }
  for (const auto* branch : {&req.success(), &req.failure()}) {
    for (const RequestOp& op : *branch) {
      RAFTKV_RETURN_IF_NOT_OK(ValidateOp(op, max_txn_ops - ops));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRange(const etcdserverpb::RangeRequest& req) {
  if (req.key().empty()) return EmptyKeyError();
  return absl::OkStatus();
}

absl::Status ValidatePut(const etcdserverpb::PutRequest& req) {
  if (req.key().empty()) return EmptyKeyError();
  if (req.ignore_value() && !req.value().empty()) return ValueProvidedError();
  if (req.ignore_lease() && req.lease() != 0) return LeaseProvidedError();
  return absl::OkStatus();
}

absl::Status ValidateDeleteRange(const etcdserverpb::DeleteRangeRequest& req) {
  if (req.key().empty()) return EmptyKeyError();
  return absl::OkStatus();
}

absl::Status ValidateTxn(const TxnRequest& req, int64_t max_txn_ops) {
  RAFTKV_RETURN_IF_NOT_OK(ValidateTxnOps(req, max_txn_ops));
  for (const auto* branch : {&req.success(), &req.failure()}) {
    Writes writes;
    RAFTKV_RETURN_IF_NOT_OK(CheckIntervals(*branch, &writes));
  }
  return absl::OkStatus();
}

}  // namespace raftkv::kv
