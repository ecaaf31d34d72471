#include "tests/kv/model.h"

#include <algorithm>

#include "kv/errors.h"
#include "kv/validate.h"

namespace raftkv::kv::testing {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using mvccpb::KeyValue;

namespace {

bool InRange(const std::string& k, const std::string& key,
             const std::string& end) {
  if (end.empty()) return k == key;
  if (end == std::string(1, '\0')) return k >= key;
  return k >= key && k < end;
}

int64_t SortValue(const KeyValue& kv, RangeRequest::SortTarget t) {
  switch (t) {
    case RangeRequest::VERSION:
      return kv.version();
    case RangeRequest::CREATE:
      return kv.create_revision();
    case RangeRequest::MOD:
      return kv.mod_revision();
    default:
      return 0;
  }
}

const google::protobuf::RepeatedPtrField<RequestOp>& Branch(
    const TxnRequest& req, bool ok) {
  return ok ? req.success() : req.failure();
}

}  // namespace

Model::Model() : states_(2), events_(2) {}

Model::Pending Model::Begin() const {
  return Pending{revision(), states_.back(), {}};
}

void Model::End(Pending* p) {
  if (p->events.empty()) return;
  states_.push_back(p->state);
  events_.push_back(p->events);
}

absl::StatusOr<etcdserverpb::RangeResponse> Model::RangeIn(
    const State& latest, int64_t current, const RangeRequest& req) const {
  int64_t rev = req.revision() <= 0 ? current : req.revision();
  if (rev > current) return FutureRevError();
  if (rev < compact_) return CompactedError();
  const State& state = rev == current ? latest : states_[rev];
  std::vector<KeyValue> all;
  for (const auto& [k, kv] : state) {
    if (InRange(k, req.key(), req.range_end())) all.push_back(kv);
  }
  etcdserverpb::RangeResponse resp;
  resp.mutable_header()->set_revision(current);
  resp.set_count(static_cast<int64_t>(all.size()));
  if (req.count_only()) return resp;
  bool filters = req.min_mod_revision() || req.max_mod_revision() ||
                 req.min_create_revision() || req.max_create_revision();
  if (req.sort_order() == RangeRequest::NONE && !filters && req.limit() > 0 &&
      static_cast<int64_t>(all.size()) > req.limit() + 1) {
    all.resize(req.limit() + 1);
  }
  std::vector<KeyValue> kept;
  for (const KeyValue& kv : all) {
    if (req.max_mod_revision() && kv.mod_revision() > req.max_mod_revision())
      continue;
    if (req.min_mod_revision() && kv.mod_revision() < req.min_mod_revision())
      continue;
    if (req.max_create_revision() &&
        kv.create_revision() > req.max_create_revision())
      continue;
    if (req.min_create_revision() &&
        kv.create_revision() < req.min_create_revision())
      continue;
    kept.push_back(kv);
  }
  auto order = req.sort_order();
  if (order == RangeRequest::NONE && req.sort_target() != RangeRequest::KEY) {
    order = RangeRequest::ASCEND;
  }
  if (order != RangeRequest::NONE) {
    auto t = req.sort_target();
    auto less = [t](const KeyValue& a, const KeyValue& b) {
      if (t == RangeRequest::KEY) return a.key() < b.key();
      if (t == RangeRequest::VALUE) return a.value() < b.value();
      return SortValue(a, t) < SortValue(b, t);
    };
    if (order == RangeRequest::ASCEND) {
      std::stable_sort(kept.begin(), kept.end(), less);
    } else {
      std::stable_sort(
          kept.begin(), kept.end(),
          [&](const KeyValue& a, const KeyValue& b) { return less(b, a); });
    }
  }
  if (req.limit() > 0 && static_cast<int64_t>(kept.size()) > req.limit()) {
    kept.resize(req.limit());
    resp.set_more(true);
  }
  for (KeyValue& kv : kept) {
    if (req.keys_only()) kv.clear_value();
    *resp.add_kvs() = kv;
  }
  return resp;
}

absl::StatusOr<etcdserverpb::RangeResponse> Model::Range(
    const RangeRequest& req) const {
  if (req.key().empty()) return EmptyKeyError();
  return RangeIn(states_.back(), revision(), req);
}

etcdserverpb::PutResponse Model::DoPut(Pending* p,
                                       const etcdserverpb::PutRequest& req,
                                       bool* key_missing) {
  etcdserverpb::PutResponse resp;
  auto it = p->state.find(req.key());
  const KeyValue* prev = it == p->state.end() ? nullptr : &it->second;
  if ((req.ignore_value() || req.ignore_lease()) && prev == nullptr) {
    *key_missing = true;
    return resp;
  }
  if (req.prev_kv() && prev != nullptr) *resp.mutable_prev_kv() = *prev;
  KeyValue kv;
  kv.set_key(req.key());
  kv.set_value(req.ignore_value() ? prev->value() : req.value());
  kv.set_lease(req.ignore_lease() ? prev->lease() : req.lease());
  kv.set_mod_revision(p->begin + 1);
  kv.set_create_revision(prev ? prev->create_revision() : p->begin + 1);
  kv.set_version(prev ? prev->version() + 1 : 1);
  p->state[req.key()] = kv;
  mvccpb::Event& ev = p->events.emplace_back();
  ev.set_type(mvccpb::Event::PUT);
  *ev.mutable_kv() = kv;
  resp.mutable_header()->set_revision(p->rev());
  return resp;
}

etcdserverpb::DeleteRangeResponse Model::DoDelete(
    Pending* p, const etcdserverpb::DeleteRangeRequest& req) {
  etcdserverpb::DeleteRangeResponse resp;
  std::vector<std::string> doomed;
  for (const auto& [k, kv] : p->state) {
    if (!InRange(k, req.key(), req.range_end())) continue;
    doomed.push_back(k);
    if (req.prev_kv()) *resp.add_prev_kvs() = kv;
  }
  for (const std::string& k : doomed) {
    p->state.erase(k);
    mvccpb::Event& ev = p->events.emplace_back();
    ev.set_type(mvccpb::Event::DELETE);
    ev.mutable_kv()->set_key(k);
    ev.mutable_kv()->set_mod_revision(p->begin + 1);
  }
  resp.set_deleted(static_cast<int64_t>(doomed.size()));
  resp.mutable_header()->set_revision(p->rev());
  return resp;
}

absl::StatusOr<etcdserverpb::PutResponse> Model::Put(
    const etcdserverpb::PutRequest& req) {
  if (absl::Status s = ValidatePut(req); !s.ok()) return s;
  Pending p = Begin();
  bool missing = false;
  auto resp = DoPut(&p, req, &missing);
  if (missing) return KeyNotFoundError();
  End(&p);
  return resp;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> Model::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& req) {
  if (absl::Status s = ValidateDeleteRange(req); !s.ok()) return s;
  Pending p = Begin();
  auto resp = DoDelete(&p, req);
  End(&p);
  return resp;
}

bool Model::CompareOk(const Compare& cmp) const {
  std::vector<KeyValue> kvs;
  for (const auto& [k, kv] : states_.back()) {
    if (InRange(k, cmp.key(), cmp.range_end())) kvs.push_back(kv);
  }
  if (kvs.empty()) {
    if (cmp.target() == Compare::VALUE) return false;
    kvs.emplace_back();
  }
  for (const KeyValue& kv : kvs) {
    int r = 0;
    auto cmp3 = [](auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); };
    switch (cmp.target()) {
      case Compare::VALUE:
        r = cmp3(kv.value(), cmp.value());
        break;
      case Compare::VERSION:
        r = cmp3(kv.version(), cmp.version());
        break;
      case Compare::CREATE:
        r = cmp3(kv.create_revision(), cmp.create_revision());
        break;
      case Compare::MOD:
        r = cmp3(kv.mod_revision(), cmp.mod_revision());
        break;
      case Compare::LEASE:
        r = cmp3(kv.lease(), cmp.lease());
        break;
      default:
        break;
    }
    bool ok = cmp.result() == Compare::EQUAL       ? r == 0
              : cmp.result() == Compare::NOT_EQUAL ? r != 0
              : cmp.result() == Compare::GREATER   ? r > 0
                                                   : r < 0;
    if (!ok) return false;
  }
  return true;
}

void Model::Path(const TxnRequest& req, std::vector<bool>* path) const {
  bool ok = std::all_of(req.compare().begin(), req.compare().end(),
                        [this](const Compare& c) { return CompareOk(c); });
  path->push_back(ok);
  for (const RequestOp& op : Branch(req, ok)) {
    if (op.has_request_txn()) Path(op.request_txn(), path);
  }
}

absl::Status Model::Check(const TxnRequest& req, const std::vector<bool>& path,
                          size_t* pos) const {
  bool ok = path[(*pos)++];
  for (const RequestOp& op : Branch(req, ok)) {
    if (op.has_request_txn()) {
      if (auto s = Check(op.request_txn(), path, pos); !s.ok()) return s;
    } else if (op.has_request_range()) {
      int64_t r = op.request_range().revision();
      if (r > revision()) return FutureRevError();
      if (r > 0 && r < compact_) return CompactedError();
    } else if (op.has_request_put()) {
      const auto& put = op.request_put();
      if ((put.ignore_value() || put.ignore_lease()) &&
          states_.back().count(put.key()) == 0) {
        return KeyNotFoundError();
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<etcdserverpb::TxnResponse> Model::Run(
    Pending* p, const TxnRequest& req, const std::vector<bool>& path,
    size_t* pos) {
  etcdserverpb::TxnResponse resp;
  bool ok = path[(*pos)++];
  resp.set_succeeded(ok);
  resp.mutable_header();
  for (const RequestOp& op : Branch(req, ok)) {
    auto* out = resp.add_responses();
    if (op.has_request_range()) {
      auto r = RangeIn(p->state, p->rev(), op.request_range());
      if (!r.ok()) return r.status();
      *out->mutable_response_range() = *r;
    } else if (op.has_request_put()) {
      bool missing = false;
      auto r = DoPut(p, op.request_put(), &missing);
      if (missing) return KeyNotFoundError();
      *out->mutable_response_put() = r;
    } else if (op.has_request_delete_range()) {
      *out->mutable_response_delete_range() =
          DoDelete(p, op.request_delete_range());
    } else if (op.has_request_txn()) {
      auto r = Run(p, op.request_txn(), path, pos);
      if (!r.ok()) return r.status();
      *out->mutable_response_txn() = *r;
    }
  }
  return resp;
}

absl::StatusOr<etcdserverpb::TxnResponse> Model::Txn(const TxnRequest& req) {
  if (absl::Status s = ValidateTxn(req); !s.ok()) return s;
  std::vector<bool> path;
  Path(req, &path);
  size_t pos = 0;
  if (auto s = Check(req, path, &pos); !s.ok()) return s;
  Pending p = Begin();
  pos = 0;
  auto resp = Run(&p, req, path, &pos);
  if (!resp.ok()) return resp.status();
  resp->mutable_header()->set_revision(p.rev());
  End(&p);
  return resp;
}

absl::StatusOr<etcdserverpb::CompactionResponse> Model::Compact(
    const etcdserverpb::CompactionRequest& req) {
  if (req.revision() <= compact_) return CompactedError();
  if (req.revision() > revision()) return FutureRevError();
  compact_ = req.revision();
  etcdserverpb::CompactionResponse resp;
  resp.mutable_header()->set_revision(revision());
  return resp;
}

absl::StatusOr<std::vector<mvccpb::Event>> Model::Changes(int64_t from,
                                                          int64_t to,
                                                          bool prev_kv) const {
  if (from < compact_) return CompactedError();
  std::vector<mvccpb::Event> out;
  for (int64_t r = std::max<int64_t>(from, 2); r <= std::min(to, revision());
       ++r) {
    State before = states_[r - 1];
    for (const mvccpb::Event& ev : events_[r]) {
      mvccpb::Event e = ev;
      auto it = before.find(ev.kv().key());
      // Physical compaction keeps a version below the compact revision only
      // if it is the newest at or below it.
      if (prev_kv && it != before.end() &&
          !(it->second.mod_revision() < compact_ && r <= compact_)) {
        *e.mutable_prev_kv() = it->second;
      }
      if (ev.type() == mvccpb::Event::PUT) {
        before[ev.kv().key()] = ev.kv();
      } else {
        before.erase(ev.kv().key());
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace raftkv::kv::testing
