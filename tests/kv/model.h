// A deliberately naive reference model of etcd v3's MVCC semantics for the
// randomized test: the whole key space is copied at every revision, and
// every read walks a std::map. Shares nothing with kv/ except the protos and
// request validation (validation has its own edge-case tests).
#ifndef RAFTKV_TESTS_KV_MODEL_H_
#define RAFTKV_TESTS_KV_MODEL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kv/kvpb.pb.h"
#include "kv/mvccpb.pb.h"

namespace raftkv::kv::testing {

class Model {
 public:
  Model();

  int64_t revision() const { return static_cast<int64_t>(states_.size()) - 1; }
  int64_t compact_revision() const { return compact_; }

  absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& req);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& req);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& req);
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(
      const etcdserverpb::CompactionRequest& req);
  absl::StatusOr<etcdserverpb::RangeResponse> Range(
      const etcdserverpb::RangeRequest& req) const;
  // Events from `from` through min(to, revision()); prev_kv omitted where
  // a fully finished physical compaction removed it.
  absl::StatusOr<std::vector<mvccpb::Event>> Changes(int64_t from, int64_t to,
                                                     bool prev_kv) const;

 private:
  using State = std::map<std::string, mvccpb::KeyValue>;
  // One write txn in progress.
  struct Pending {
    int64_t begin = 0;
    State state;
    std::vector<mvccpb::Event> events;
    int64_t rev() const { return begin + (events.empty() ? 0 : 1); }
  };

  Pending Begin() const;
  void End(Pending* p);
  absl::StatusOr<etcdserverpb::RangeResponse> RangeIn(
      const State& state, int64_t current,
      const etcdserverpb::RangeRequest& req) const;
  etcdserverpb::PutResponse DoPut(Pending* p,
                                  const etcdserverpb::PutRequest& req,
                                  bool* key_missing);
  etcdserverpb::DeleteRangeResponse DoDelete(
      Pending* p, const etcdserverpb::DeleteRangeRequest& req);
  bool CompareOk(const etcdserverpb::Compare& cmp) const;
  void Path(const etcdserverpb::TxnRequest& req, std::vector<bool>* path) const;
  absl::Status Check(const etcdserverpb::TxnRequest& req,
                     const std::vector<bool>& path, size_t* pos) const;
  absl::StatusOr<etcdserverpb::TxnResponse> Run(
      Pending* p, const etcdserverpb::TxnRequest& req,
      const std::vector<bool>& path, size_t* pos);

  // states_[r] is the key space at revision r; states_[0] is unused.
  std::vector<State> states_;
  // events_[r] are the changes of revision r, in order.
  std::vector<std::vector<mvccpb::Event>> events_;
  int64_t compact_ = 0;
};

}  // namespace raftkv::kv::testing

#endif  // RAFTKV_TESTS_KV_MODEL_H_
