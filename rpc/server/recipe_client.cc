#include "rpc/server/recipe_client.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace raftkv::rpc {

using etcdserverpb::RangeRequest;
using etcdserverpb::ResponseHeader;
using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

namespace {

// Deadline of a clean-up RPC after the call it belongs to was cancelled.
constexpr absl::Duration kCleanupTimeout = absl::Seconds(5);

const grpc::Status& CancelledStatus() {
  static const grpc::Status* s =
      new grpc::Status(grpc::StatusCode::CANCELLED, "context canceled");
  return *s;
}

}  // namespace

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() =
          static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

RangeRequest FirstCreated(const std::string& prefix) {
  RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(PrefixRangeEnd(prefix));
  r.set_sort_target(RangeRequest::CREATE);
  r.set_sort_order(RangeRequest::ASCEND);
  r.set_limit(1);
  return r;
}

etcdserverpb::Compare CreateRevisionIs(const std::string& key,
                                       int64_t revision) {
  etcdserverpb::Compare cmp;
  cmp.set_key(key);
  cmp.set_target(etcdserverpb::Compare::CREATE);
  cmp.set_result(etcdserverpb::Compare::EQUAL);
  cmp.set_create_revision(revision);
  return cmp;
}

grpc::Status RecipeError(const grpc::Status& s) {
  if (s.ok() || s.error_code() == grpc::StatusCode::CANCELLED ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return s;
  }
  return grpc::Status(grpc::StatusCode::UNKNOWN, s.error_message());
}

RecipeClient::RecipeClient(std::shared_ptr<grpc::Channel> channel,
                           const grpc::CallbackServerContext& ctx)
    : kv_(etcdserverpb::KV::NewStub(channel)),
      watch_(etcdserverpb::Watch::NewStub(channel)),
      lease_(etcdserverpb::Lease::NewStub(channel)),
      deadline_(ctx.deadline()) {
  for (const auto& [key, value] : ctx.client_metadata()) {
    if (key == "token" || key == "authorization") {
      metadata_.emplace_back(std::string(key.data(), key.size()),
                             std::string(value.data(), value.size()));
    }
  }
}

void RecipeClient::Cancel() {
  absl::MutexLock l(&mu_);
  cancelled_ = true;
  for (grpc::ClientContext* c : active_) c->TryCancel();
}

bool RecipeClient::cancelled() const {
  absl::MutexLock l(&mu_);
  return cancelled_;
}

grpc::Status RecipeClient::Run(
    bool cleanup,
    const std::function<grpc::Status(grpc::ClientContext*)>& rpc) {
  grpc::ClientContext context;
  for (const auto& [key, value] : metadata_) context.AddMetadata(key, value);
  if (cleanup) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCleanupTimeout));
  } else {
    context.set_deadline(deadline_);
    absl::MutexLock l(&mu_);
    if (cancelled_) return CancelledStatus();
    active_.insert(&context);
  }
  grpc::Status s = rpc(&context);
  if (!cleanup) {
    absl::MutexLock l(&mu_);
    active_.erase(&context);
    if (cancelled_ && !s.ok()) return CancelledStatus();
  }
  return s;
}

grpc::Status RecipeClient::Range(const RangeRequest& req,
                                 etcdserverpb::RangeResponse* resp) {
  return Run(false,
             [&](grpc::ClientContext* c) { return kv_->Range(c, req, resp); });
}

grpc::Status RecipeClient::Txn(const etcdserverpb::TxnRequest& req,
                               etcdserverpb::TxnResponse* resp) {
  return Run(false,
             [&](grpc::ClientContext* c) { return kv_->Txn(c, req, resp); });
}

grpc::Status RecipeClient::CleanupTxn(const etcdserverpb::TxnRequest& req,
                                      etcdserverpb::TxnResponse* resp) {
  return Run(true,
             [&](grpc::ClientContext* c) { return kv_->Txn(c, req, resp); });
}

grpc::Status RecipeClient::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& req,
    etcdserverpb::DeleteRangeResponse* resp) {
  return Run(false, [&](grpc::ClientContext* c) {
    return kv_->DeleteRange(c, req, resp);
  });
}

grpc::Status RecipeClient::CleanupDelete(const std::string& key) {
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(key);
  etcdserverpb::DeleteRangeResponse resp;
  return Run(true, [&](grpc::ClientContext* c) {
    return kv_->DeleteRange(c, req, &resp);
  });
}

grpc::Status RecipeClient::SessionLease(int64_t lease, int64_t* id) {
  if (lease != 0) {
    *id = lease;
    return grpc::Status::OK;
  }
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(kRecipeSessionTtl);
  etcdserverpb::LeaseGrantResponse resp;
  grpc::Status s = Run(false, [&](grpc::ClientContext* c) {
    return lease_->LeaseGrant(c, req, &resp);
  });
  if (s.ok()) *id = resp.id();
  return s;
}

grpc::Status RecipeClient::Watch(
    const std::string& key, const std::string& range_end,
    int64_t start_revision,
    const std::function<bool(const WatchResponse&)>& on_response) {
  return Run(false, [&](grpc::ClientContext* c) {
    auto stream = watch_->Watch(c);
    WatchRequest req;
    etcdserverpb::WatchCreateRequest* create = req.mutable_create_request();
    create->set_key(key);
    create->set_range_end(range_end);
    create->set_start_revision(start_revision);
    grpc::Status result(grpc::StatusCode::UNKNOWN,
                        "lost watcher waiting for delete");
    if (stream->Write(req)) {
      WatchResponse resp;
      while (stream->Read(&resp)) {
        if (resp.canceled()) {
          result = grpc::Status(
              grpc::StatusCode::UNKNOWN,
              resp.compact_revision() != 0
                  ? "etcdserver: mvcc: required revision has been compacted"
                  : resp.cancel_reason());
          break;
        }
        if (resp.events_size() > 0 && !on_response(resp)) {
          result = grpc::Status::OK;
          break;
        }
      }
    }
    // Ends the stream whatever state it is in; its own status only matters
    // when the server ended it.
    c->TryCancel();
    grpc::Status finished = stream->Finish();
    if (result.ok() || finished.error_code() == grpc::StatusCode::CANCELLED) {
      return result;
    }
    return finished.ok() ? result : finished;
  });
}

grpc::Status RecipeClient::WaitDelete(const std::string& key,
                                      int64_t revision) {
  return Watch(key, "", revision, [](const WatchResponse& resp) {
    for (const auto& ev : resp.events()) {
      if (ev.type() == mvccpb::Event::DELETE) return false;
    }
    return true;
  });
}

grpc::Status RecipeClient::WaitDeletes(const std::string& prefix,
                                       int64_t max_create_revision,
                                       ResponseHeader* header) {
  RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(PrefixRangeEnd(prefix));
  req.set_sort_target(RangeRequest::CREATE);
  req.set_sort_order(RangeRequest::DESCEND);
  req.set_limit(1);
  req.set_max_create_revision(max_create_revision);
  for (;;) {
    etcdserverpb::RangeResponse resp;
    if (grpc::Status s = Range(req, &resp); !s.ok()) return s;
    if (resp.kvs_size() == 0) {
      *header = resp.header();
      return grpc::Status::OK;
    }
    grpc::Status s = WaitDelete(resp.kvs(0).key(), resp.header().revision());
    if (!s.ok()) return s;
  }
}

CallThreads::~CallThreads() {
  std::vector<std::thread> done;
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](std::map<uint64_t, std::thread>* r) { return r->empty(); },
        &running_));
    done.swap(finished_);
  }
  for (auto& t : done) t.join();
}

void CallThreads::Start(std::function<void()> fn) {
  std::vector<std::thread> done;
  {
    absl::MutexLock l(&mu_);
    done.swap(finished_);
    const uint64_t id = next_id_++;
    // Inserted under mu_, before the thread can take mu_ to move itself.
    running_.emplace(id, std::thread([this, id, fn = std::move(fn)] {
                       fn();
                       absl::MutexLock l(&mu_);
                       auto it = running_.find(id);
                       finished_.push_back(std::move(it->second));
                       running_.erase(it);
                     }));
  }
  for (auto& t : done) t.join();
}

namespace {

// One unary call of RecipeRunner::Serve; deletes itself when gRPC is done
// with it.
class BlockingUnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  BlockingUnaryReactor(std::shared_ptr<grpc::Channel> channel,
                       grpc::CallbackServerContext* ctx)
      : client_(std::move(channel), *ctx) {}
  void OnCancel() override { client_.Cancel(); }
  void OnDone() override { delete this; }
  RecipeClient& client() { return client_; }

 private:
  RecipeClient client_;
};

}  // namespace

grpc::Status RecipeNotReady() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "etcdserver: server is not ready");
}

void RecipeRunner::SetChannel(std::shared_ptr<grpc::Channel> channel) {
  absl::MutexLock l(&mu_);
  channel_ = std::move(channel);
}

std::shared_ptr<grpc::Channel> RecipeRunner::channel() const {
  absl::MutexLock l(&mu_);
  return channel_;
}

grpc::ServerUnaryReactor* RecipeRunner::Serve(
    grpc::CallbackServerContext* ctx,
    std::function<grpc::Status(RecipeClient&)> body) {
  std::shared_ptr<grpc::Channel> ch = channel();
  if (ch == nullptr) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(RecipeNotReady());
    return reactor;
  }
  auto* reactor = new BlockingUnaryReactor(std::move(ch), ctx);
  threads_.Start([reactor, body = std::move(body)] {
    // Finish is the last touch: OnDone may delete the reactor right after.
    reactor->Finish(RecipeError(body(reactor->client())));
  });
  return reactor;
}

}  // namespace raftkv::rpc
