#include "rpc/server/lease_service.h"

#include <deque>
#include <utility>

#include "absl/time/clock.h"
#include "kv/errors.h"
#include "kv/lessor.h"
#include "rpc/server/services.h"

namespace raftkv::rpc {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

grpc::ServerUnaryReactor* LeaseService::LeaseGrant(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::LeaseGrantRequest* req,
    etcdserverpb::LeaseGrantResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (req->ttl() > kv::kMaxLeaseTtl) {
    reactor->Finish(ToGrpc(kv::LeaseTtlTooLargeError()));
    return reactor;
  }
  kvpb::InternalRequest request;
  kvpb::LeaseGrant* grant = request.mutable_lease_grant();
  grant->set_id(req->id() != 0 ? req->id() : server_->NewLeaseId());
  grant->set_ttl(std::max(req->ttl(), server_->options().min_lease_ttl));
  server_->Write(std::move(request),
                 [this, resp, reactor](const kv::ApplyResult& r) {
                   if (!r.ok()) {
                     reactor->Finish(ToGrpc(r.status()));
                     return;
                   }
                   const auto& result = std::get<kvpb::LeaseResult>(*r);
                   resp->set_id(result.id());
                   resp->set_ttl(result.ttl());
                   resp->mutable_header()->set_revision(result.revision());
                   server_->FillHeader(resp->mutable_header());
                   reactor->Finish(grpc::Status::OK);
                 });
  return reactor;
}

grpc::ServerUnaryReactor* LeaseService::LeaseRevoke(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::LeaseRevokeRequest* req,
    etcdserverpb::LeaseRevokeResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  kvpb::InternalRequest request;
  request.mutable_lease_revoke()->set_id(req->id());
  server_->Write(std::move(request),
                 [this, resp, reactor](const kv::ApplyResult& r) {
                   if (!r.ok()) {
                     reactor->Finish(ToGrpc(r.status()));
                     return;
                   }
                   const auto& result = std::get<kvpb::LeaseResult>(*r);
                   resp->mutable_header()->set_revision(result.revision());
                   server_->FillHeader(resp->mutable_header());
                   reactor->Finish(grpc::Status::OK);
                 });
  return reactor;
}

absl::StatusOr<std::shared_ptr<etcdserverpb::Lease::Stub>>
LeaseService::LeaderStub() {
  const uint64_t leader = server_->node().leader();
  if (leader == 0) return absl::UnavailableError("etcdserver: no leader");
  std::string url;
  const kvpb::MemberList members = server_->state_machine().members().List();
  for (const auto& m : members.members()) {
    if (m.id() == leader && m.client_urls_size() > 0) url = m.client_urls(0);
  }
  if (url.empty()) return absl::UnavailableError("etcdserver: no leader");
  const bool tls = url.rfind("https://", 0) == 0;
  for (const char* scheme : {"http://", "https://"}) {
    if (url.rfind(scheme, 0) == 0) url = url.substr(strlen(scheme));
  }
  absl::MutexLock l(&mu_);
  auto& stub = stubs_[url];
  if (!stub) {
    const auto& tls_credentials = server_->options().client_dial_credentials;
    stub = etcdserverpb::Lease::NewStub(grpc::CreateChannel(
        url, tls && tls_credentials ? tls_credentials
                                    : grpc::InsecureChannelCredentials()));
  }
  return stub;
}

absl::StatusOr<LeaseKeepAliveResponse> LeaseService::KeepAliveOnce(int64_t id) {
  raft::Node& node = server_->node();
  const raft::NodeStatus st = node.status();
  LeaseKeepAliveResponse resp;
  if (st.leader == st.id) {
    // A new leader promotes its lessor only once it has applied its log
    // (LessorLoop, within a tick): until then wait, and if that takes too
    // long make the client retry. Answering TTL 0 instead would tell the
    // client that the lease is gone (clientv3 then stops keeping it alive)
    // although it will live on.
    kv::Lessor& lessor = server_->state_machine().lessor();
    const absl::Time deadline =
        absl::Now() + server_->options().election_timeout;
    bool reset_checkpoint = false;
    absl::StatusOr<int64_t> ttl = lessor.Renew(id, &reset_checkpoint);
    while (!ttl.ok() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      ttl = lessor.Renew(id, &reset_checkpoint);
    }
    if (!ttl.ok()) return absl::UnavailableError("etcdserver: leader changed");
    resp.set_id(id);
    resp.set_ttl(*ttl);
    if (reset_checkpoint) server_->ResetLeaseCheckpoint(id);
    server_->FillHeader(resp.mutable_header());
    return resp;
  }
  auto stub = LeaderStub();
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  auto stream = (*stub)->LeaseKeepAlive(&ctx);
  LeaseKeepAliveRequest req;
  req.set_id(id);
  if (!stream->Write(req) || !stream->Read(&resp)) {
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    return absl::UnavailableError(s.ok() ? "etcdserver: leader changed"
                                         : s.error_message());
  }
  stream->WritesDone();
  stream->Finish().IgnoreError();
  return resp;
}

// One keep-alive stream: reads a request, answers it (on the executor, since
// a follower blocks on the leader), writes, reads the next.
class LeaseService::KeepAliveReactor
    : public grpc::ServerBidiReactor<LeaseKeepAliveRequest,
                                     LeaseKeepAliveResponse> {
 public:
  explicit KeepAliveReactor(LeaseService* service) : service_(service) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    const int64_t id = request_.id();
    service_->server_->RunBlocking([this, id] {
      auto resp = service_->KeepAliveOnce(id);
      if (!resp.ok()) {
        Finish(ToGrpc(resp.status()));
        return;
      }
      response_ = std::move(*resp);
      StartWrite(&response_);
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  LeaseService* const service_;
  LeaseKeepAliveRequest request_;
  LeaseKeepAliveResponse response_;
};

grpc::ServerBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse>*
LeaseService::LeaseKeepAlive(grpc::CallbackServerContext*) {
  return new KeepAliveReactor(this);
}

absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> LeaseService::TimeToLive(
    const etcdserverpb::LeaseTimeToLiveRequest& req) {
  const raft::NodeStatus st = server_->node().status();
  if (st.leader != st.id) {
    auto stub = LeaderStub();
    if (!stub.ok()) return stub.status();
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    etcdserverpb::LeaseTimeToLiveResponse resp;
    grpc::Status s = (*stub)->LeaseTimeToLive(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return resp;
  }
  etcdserverpb::LeaseTimeToLiveResponse resp;
  const kv::Lessor::TimeToLive ttl =
      server_->state_machine().lessor().Remaining(req.id());
  resp.set_id(req.id());
  resp.set_ttl(ttl.remaining);  // -1: unknown lease, as etcd answers
  resp.set_grantedttl(ttl.granted);
  if (req.keys() && ttl.remaining >= 0) {
    auto keys = server_->state_machine().store()->LeaseKeys(req.id());
    if (!keys.ok()) return keys.status();
    for (auto& k : *keys) resp.add_keys(std::move(k));
  }
  server_->FillHeader(resp.mutable_header());
  return resp;
}

grpc::ServerUnaryReactor* LeaseService::LeaseTimeToLive(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::LeaseTimeToLiveRequest* req,
    etcdserverpb::LeaseTimeToLiveResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  server_->RunBlocking([this, req, resp, reactor] {
    auto r = TimeToLive(*req);
    if (!r.ok()) {
      reactor->Finish(ToGrpc(r.status()));
      return;
    }
    *resp = std::move(*r);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* LeaseService::LeaseLeases(
    grpc::CallbackServerContext* ctx, const etcdserverpb::LeaseLeasesRequest*,
    etcdserverpb::LeaseLeasesResponse* resp) {
  for (int64_t id : server_->state_machine().lessor().Ids()) {
    resp->add_leases()->set_id(id);
  }
  server_->FillHeader(resp->mutable_header());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace raftkv::rpc
