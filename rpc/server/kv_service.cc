// KV: Range (linearizable through ReadIndex, or serializable from local
// state), and Put / DeleteRange / Txn / Compact through Raft.
#include <utility>
#include <variant>

#include "kv/validate.h"
#include "rpc/server/services.h"

namespace raftkv::rpc {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

grpc::ServerUnaryReactor* KvService::Range(
    grpc::CallbackServerContext* ctx, const etcdserverpb::RangeRequest* req,
    etcdserverpb::RangeResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (absl::Status s = kv::ValidateRange(*req); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  auto read = [this, req, resp, reactor] {
    auto result = server_->state_machine().store()->Range(*req);
    if (!result.ok()) {
      reactor->Finish(ToGrpc(result.status()));
      return;
    }
    *resp = std::move(*result);
    server_->FillHeader(resp->mutable_header());
    reactor->Finish(grpc::Status::OK);
  };
  if (req->serializable()) {
    read();
  } else {
    server_->LinearizableRead(std::move(read), [reactor](absl::Status s) {
      reactor->Finish(ToGrpc(s));
    });
  }
  return reactor;
}

template <typename T>
grpc::ServerUnaryReactor* KvService::Propose(grpc::CallbackServerContext* ctx,
                                             kvpb::InternalRequest request,
                                             T* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  server_->Write(std::move(request),
                 [this, resp, reactor](const kv::ApplyResult& result) {
                   if (!result.ok()) {
                     reactor->Finish(ToGrpc(result.status()));
                     return;
                   }
                   if (const T* r = std::get_if<T>(&*result)) *resp = *r;
                   server_->FillHeader(resp->mutable_header());
                   reactor->Finish(grpc::Status::OK);
                 });
  return reactor;
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::PutRequest* req,
                                         etcdserverpb::PutResponse* resp) {
  if (absl::Status s = kv::ValidatePut(*req); !s.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  kvpb::InternalRequest request;
  *request.mutable_put() = *req;
  return Propose(ctx, std::move(request), resp);
}

grpc::ServerUnaryReactor* KvService::DeleteRange(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::DeleteRangeRequest* req,
    etcdserverpb::DeleteRangeResponse* resp) {
  if (absl::Status s = kv::ValidateDeleteRange(*req); !s.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  kvpb::InternalRequest request;
  *request.mutable_delete_range() = *req;
  return Propose(ctx, std::move(request), resp);
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::TxnRequest* req,
                                         etcdserverpb::TxnResponse* resp) {
  if (absl::Status s = kv::ValidateTxn(*req, server_->options().max_txn_ops);
      !s.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  kvpb::InternalRequest request;
  *request.mutable_txn() = *req;
  return Propose(ctx, std::move(request), resp);
}

grpc::ServerUnaryReactor* KvService::Compact(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::CompactionRequest* req,
    etcdserverpb::CompactionResponse* resp) {
  kvpb::InternalRequest request;
  *request.mutable_compaction() = *req;
  return Propose(ctx, std::move(request), resp);
}

}  // namespace raftkv::rpc
