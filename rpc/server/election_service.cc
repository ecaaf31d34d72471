#include "rpc/server/election_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"

namespace raftkv::rpc {

using etcdserverpb::ResponseHeader;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;
using etcdserverpb::WatchResponse;
using v3electionpb::LeaderResponse;

namespace {

// etcd's messages (clientv3/concurrency and v3election), matched by clients.
constexpr char kNotLeader[] = "election: not leader";
constexpr char kNoLeader[] = "election: no leader";
constexpr char kMissingLeader[] = "\"leader\" field must be provided";

grpc::Status Unknown(const char* message) {
  return grpc::Status(grpc::StatusCode::UNKNOWN, message);
}

// etcd's Election.Proclaim: `value` replaces the leader key's, with the
// leader's lease, if the key still has create revision `rev`.
grpc::Status ProclaimAs(RecipeClient& client, const std::string& key,
                        int64_t rev, int64_t lease, const std::string& value,
                        ResponseHeader* header) {
  TxnRequest txn;
  *txn.add_compare() = CreateRevisionIs(key, rev);
  etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  TxnResponse resp;
  if (grpc::Status s = client.Txn(txn, &resp); !s.ok()) return s;
  if (!resp.succeeded()) return Unknown(kNotLeader);
  *header = resp.header();
  return grpc::Status::OK;
}

// etcd's Election.Resign: deletes the key if it still has create revision
// `rev`; `cleanup` for a call that was cancelled.
grpc::Status ResignAs(RecipeClient& client, const std::string& key, int64_t rev,
                      bool cleanup, ResponseHeader* header) {
  TxnRequest txn;
  *txn.add_compare() = CreateRevisionIs(key, rev);
  txn.add_success()->mutable_request_delete_range()->set_key(key);
  TxnResponse resp;
  grpc::Status s =
      cleanup ? client.CleanupTxn(txn, &resp) : client.Txn(txn, &resp);
  if (s.ok() && header != nullptr) *header = resp.header();
  return s;
}

grpc::Status RunCampaign(RecipeClient& client,
                         const v3electionpb::CampaignRequest& req,
                         v3electionpb::CampaignResponse* resp) {
  int64_t lease = 0;
  if (grpc::Status s = client.SessionLease(req.lease(), &lease); !s.ok()) {
    return s;
  }
  const std::string prefix = req.name() + "/";
  const std::string key = absl::StrFormat("%s%x", prefix, lease);
  TxnRequest txn;
  *txn.add_compare() = CreateRevisionIs(key, 0);
  etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(req.value());
  put->set_lease(lease);
  txn.add_failure()->mutable_request_range()->set_key(key);
  TxnResponse tresp;
  if (grpc::Status s = client.Txn(txn, &tresp); !s.ok()) return s;
  int64_t rev = tresp.header().revision();
  if (!tresp.succeeded()) {
    // This lease campaigns already: keep its place in line.
    if (tresp.responses_size() != 1 ||
        tresp.responses(0).response_range().kvs_size() == 0) {
      return Unknown(kNotLeader);
    }
    const mvccpb::KeyValue& kv = tresp.responses(0).response_range().kvs(0);
    rev = kv.create_revision();
    if (kv.value() != req.value()) {
      ResponseHeader ignored;
      grpc::Status s =
          ProclaimAs(client, key, rev, lease, req.value(), &ignored);
      if (!s.ok()) {
        ResignAs(client, key, rev, /*cleanup=*/false, nullptr);
        return s;
      }
    }
  }
  ResponseHeader waited;
  grpc::Status s = client.WaitDeletes(prefix, rev - 1, &waited);
  if (!s.ok()) {
    // A caller that gave up withdraws; a lost watch leaves the key (etcd).
    if (client.cancelled()) ResignAs(client, key, rev, true, nullptr);
    return s;
  }
  *resp->mutable_header() = tresp.header();
  v3electionpb::LeaderKey* leader = resp->mutable_leader();
  leader->set_name(req.name());
  leader->set_key(key);
  leader->set_rev(rev);
  leader->set_lease(lease);
  return grpc::Status::OK;
}

// One Observe stream: the observing loop runs on a RecipeRunner thread and
// hands each response to Send, which waits until gRPC has written it (one
// write in flight, as etcd's unbuffered channel). Deletes itself when gRPC
// is done with it.
class ObserveReactor final : public grpc::ServerWriteReactor<LeaderResponse> {
 public:
  ObserveReactor(std::shared_ptr<grpc::Channel> channel,
                 grpc::CallbackServerContext* ctx)
      : client_(std::move(channel), *ctx) {}

  RecipeClient& client() { return client_; }

  // False once the stream is cancelled or a write failed.
  bool Send(const ResponseHeader& header, const mvccpb::KeyValue& kv) {
    {
      absl::MutexLock l(&mu_);
      if (broken_) return false;
      *message_.mutable_header() = header;
      *message_.mutable_kv() = kv;
      writing_ = true;
    }
    // Outside mu_: OnWriteDone takes it.
    StartWrite(&message_);
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(this, &ObserveReactor::WriteEnded));
    return !broken_;
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) broken_ = true;
  }
  void OnCancel() override {
    client_.Cancel();
    absl::MutexLock l(&mu_);
    broken_ = true;
  }
  void OnDone() override { delete this; }

 private:
  bool WriteEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !writing_ || broken_;
  }

  RecipeClient client_;
  absl::Mutex mu_;
  // Invariant: not touched by this class while writing_ (gRPC reads it);
  // lives until OnDone, so a write still pending after a cancel is safe.
  LeaderResponse message_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

// A stream refused before the runner has its channel.
class RefusedObserve final : public grpc::ServerWriteReactor<LeaderResponse> {
 public:
  RefusedObserve() { Finish(RecipeNotReady()); }
  void OnDone() override { delete this; }
};

// etcd's Election.observe, until the stream breaks or an inner call fails.
void ObserveLoop(ObserveReactor& stream, const std::string& prefix) {
  RecipeClient& client = stream.client();
  for (;;) {
    etcdserverpb::RangeResponse range;
    if (!client.Range(FirstCreated(prefix), &range).ok()) return;
    ResponseHeader header;
    mvccpb::KeyValue kv;
    if (range.kvs_size() == 0) {
      // No leader: the first put under the prefix announces one.
      bool found = false;
      client.Watch(prefix, PrefixRangeEnd(prefix), range.header().revision(),
                   [&](const WatchResponse& w) {
                     for (const auto& ev : w.events()) {
                       if (ev.type() != mvccpb::Event::PUT) continue;
                       header = w.header();
                       kv = ev.kv();
                       header.set_revision(kv.mod_revision());
                       found = true;
                       return false;
                     }
                     return true;
                   });
      if (!found) return;
    } else {
      header = range.header();
      kv = range.kvs(0);
    }
    if (!stream.Send(header, kv)) return;
    // Every put of the leader key until it is deleted; events after the
    // delete in the same response are dropped (etcd).
    bool deleted = false;
    bool sent = true;
    client.Watch(kv.key(), "", header.revision() + 1,
                 [&](const WatchResponse& w) {
                   for (const auto& ev : w.events()) {
                     if (ev.type() == mvccpb::Event::DELETE) {
                       deleted = true;
                       return false;
                     }
                     if (!stream.Send(w.header(), ev.kv())) {
                       sent = false;
                       return false;
                     }
                   }
                   return true;
                 });
    if (!deleted || !sent) return;
  }
}

}  // namespace

grpc::ServerUnaryReactor* ElectionService::Campaign(
    grpc::CallbackServerContext* ctx, const v3electionpb::CampaignRequest* req,
    v3electionpb::CampaignResponse* resp) {
  return runner_.Serve(ctx, [req, resp](RecipeClient& client) {
    return RunCampaign(client, *req, resp);
  });
}

grpc::ServerUnaryReactor* ElectionService::Proclaim(
    grpc::CallbackServerContext* ctx, const v3electionpb::ProclaimRequest* req,
    v3electionpb::ProclaimResponse* resp) {
  return runner_.Serve(ctx, [req, resp](RecipeClient& client) {
    if (!req->has_leader()) return Unknown(kMissingLeader);
    const v3electionpb::LeaderKey& leader = req->leader();
    int64_t lease = 0;
    grpc::Status s = client.SessionLease(leader.lease(), &lease);
    if (!s.ok()) return s;
    return ProclaimAs(client, leader.key(), leader.rev(), lease, req->value(),
                      resp->mutable_header());
  });
}

grpc::ServerUnaryReactor* ElectionService::Leader(
    grpc::CallbackServerContext* ctx, const v3electionpb::LeaderRequest* req,
    v3electionpb::LeaderResponse* resp) {
  return runner_.Serve(ctx, [req, resp](RecipeClient& client) {
    etcdserverpb::RangeResponse range;
    grpc::Status s = client.Range(FirstCreated(req->name() + "/"), &range);
    if (!s.ok()) return s;
    if (range.kvs_size() == 0) return Unknown(kNoLeader);
    *resp->mutable_header() = range.header();
    *resp->mutable_kv() = range.kvs(0);
    return grpc::Status::OK;
  });
}

grpc::ServerWriteReactor<LeaderResponse>* ElectionService::Observe(
    grpc::CallbackServerContext* ctx, const v3electionpb::LeaderRequest* req) {
  std::shared_ptr<grpc::Channel> channel = runner_.channel();
  if (channel == nullptr) return new RefusedObserve();
  auto* stream = new ObserveReactor(std::move(channel), ctx);
  runner_.threads().Start([stream, prefix = req->name() + "/"] {
    ObserveLoop(*stream, prefix);
    // As etcd: the end of observing is OK unless the caller left. Finish is
    // the last touch: OnDone may delete the reactor right after.
    stream->Finish(
        stream->client().cancelled()
            ? grpc::Status(grpc::StatusCode::CANCELLED, "context canceled")
            : grpc::Status::OK);
  });
  return stream;
}

grpc::ServerUnaryReactor* ElectionService::Resign(
    grpc::CallbackServerContext* ctx, const v3electionpb::ResignRequest* req,
    v3electionpb::ResignResponse* resp) {
  return runner_.Serve(ctx, [req, resp](RecipeClient& client) {
    if (!req->has_leader()) return Unknown(kMissingLeader);
    int64_t lease = 0;
    grpc::Status s = client.SessionLease(req->leader().lease(), &lease);
    if (!s.ok()) return s;
    return ResignAs(client, req->leader().key(), req->leader().rev(),
                    /*cleanup=*/false, resp->mutable_header());
  });
}

}  // namespace raftkv::rpc
