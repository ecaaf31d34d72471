#include "rpc/server/lock_service.h"

#include <string>

#include "absl/strings/str_format.h"

namespace raftkv::rpc {

namespace {

// The body of Lock (see lock_service.h).
grpc::Status AcquireLock(RecipeClient& client, const v3lockpb::LockRequest& req,
                         v3lockpb::LockResponse* resp) {
  int64_t lease = 0;
  if (grpc::Status s = client.SessionLease(req.lease(), &lease); !s.ok()) {
    return s;
  }
  const std::string prefix = req.name() + "/";
  const std::string key = absl::StrFormat("%s%x", prefix, lease);

  // Create the key unless this lease has it already; either way read it and
  // the current holder in the same revision.
  etcdserverpb::TxnRequest txn;
  *txn.add_compare() = CreateRevisionIs(key, 0);
  etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_lease(lease);
  *txn.add_success()->mutable_request_range() = FirstCreated(prefix);
  txn.add_failure()->mutable_request_range()->set_key(key);
  *txn.add_failure()->mutable_request_range() = FirstCreated(prefix);
  etcdserverpb::TxnResponse tresp;
  if (grpc::Status s = client.Txn(txn, &tresp); !s.ok()) return s;
  if (tresp.responses_size() != 2) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "lock: malformed txn");
  }
  int64_t my_revision = tresp.header().revision();
  if (!tresp.succeeded()) {
    const auto& mine = tresp.responses(0).response_range();
    if (mine.kvs_size() == 0) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "lock: key vanished");
    }
    my_revision = mine.kvs(0).create_revision();
  }
  resp->set_key(key);
  const auto& owner = tresp.responses(1).response_range();
  if (owner.kvs_size() == 0 || owner.kvs(0).create_revision() == my_revision) {
    *resp->mutable_header() = tresp.header();
    return grpc::Status::OK;
  }

  grpc::Status s =
      client.WaitDeletes(prefix, my_revision - 1, resp->mutable_header());
  if (!s.ok()) {
    // Gave up waiting (cancelled, deadline, lost watch): our key must not
    // block the next waiter until the lease ends.
    client.CleanupDelete(key);
  }
  return s;
}

}  // namespace

grpc::ServerUnaryReactor* LockService::Lock(grpc::CallbackServerContext* ctx,
                                            const v3lockpb::LockRequest* req,
                                            v3lockpb::LockResponse* resp) {
  return runner_.Serve(ctx, [req, resp](RecipeClient& client) {
    return AcquireLock(client, *req, resp);
  });
}

grpc::ServerUnaryReactor* LockService::Unlock(
    grpc::CallbackServerContext* ctx, const v3lockpb::UnlockRequest* req,
    v3lockpb::UnlockResponse* resp) {
  return runner_.Serve(ctx, [req, resp](RecipeClient& client) {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(req->key());
    etcdserverpb::DeleteRangeResponse dresp;
    grpc::Status s = client.DeleteRange(del, &dresp);
    if (s.ok()) *resp->mutable_header() = dresp.header();
    return s;
  });
}

}  // namespace raftkv::rpc
