// Client: channels, failover and the synchronous calls; see client.h.
#include "rpc/client/client.h"

#include <climits>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "rpc/client/endpoint.h"
#include "rpc/client/status.h"
#include "rpc/client/tls.h"

namespace raftkv::client {

// One endpoint's channel and the stubs bound to it. Immutable once built.
struct Client::Endpoint {
  Endpoint(const std::string& target,
           std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    // etcd's clientv3 accepts responses of any size; so do we.
    args.SetMaxReceiveMessageSize(INT_MAX);
    // Reconnect quickly to a member that comes back, instead of gRPC's
    // default of up to two minutes of backoff: failover returns to it.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel = grpc::CreateCustomChannel(target, credentials, args);
    kv = etcdserverpb::KV::NewStub(channel);
    watch = etcdserverpb::Watch::NewStub(channel);
    lease = etcdserverpb::Lease::NewStub(channel);
    cluster = etcdserverpb::Cluster::NewStub(channel);
    maintenance = etcdserverpb::Maintenance::NewStub(channel);
    auth = etcdserverpb::Auth::NewStub(channel);
  }

  // Waits until the channel is connected or `deadline` passes.
  bool WaitConnected(absl::Time deadline) {
    if (channel->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY) {
      return true;
    }
    return channel->WaitForConnected(absl::ToChronoTime(deadline));
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Cluster::Stub> cluster;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
};

namespace {

constexpr char kConnectErrorPayload[] = "type.raftkv/client.connect-error";

bool IsReadOnly(const etcdserverpb::TxnRequest& txn);

bool IsReadOnly(const etcdserverpb::RequestOp& op) {
  switch (op.request_case()) {
    case etcdserverpb::RequestOp::kRequestRange:
      return true;
    case etcdserverpb::RequestOp::kRequestTxn:
      return IsReadOnly(op.request_txn());
    default:
      return false;
  }
}

bool IsReadOnly(const etcdserverpb::TxnRequest& txn) {
  for (const auto& op : txn.success()) {
    if (!IsReadOnly(op)) return false;
  }
  for (const auto& op : txn.failure()) {
    if (!IsReadOnly(op)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    std::vector<std::string> endpoints, Options options) {
  std::vector<std::string> targets;
  std::vector<std::shared_ptr<grpc::ChannelCredentials>> credentials;
  // One credentials object per transport, shared by the channels (the
  // certificate files are read once).
  std::shared_ptr<grpc::ChannelCredentials> plain, tls;
  for (const std::string& ep : endpoints) {
    absl::StatusOr<EndpointUrl> url = ParseEndpointUrl(ep);
    if (!url.ok()) return url.status();
    const bool use_tls = UsesTls(options.tls, url->scheme);
    std::shared_ptr<grpc::ChannelCredentials>& creds = use_tls ? tls : plain;
    if (creds == nullptr) {
      auto made = ChannelCredentialsFor(options.tls, url->scheme);
      if (!made.ok()) return made.status();
      creds = *std::move(made);
    }
    targets.push_back(std::move(url->target));
    credentials.push_back(creds);
  }
  if (targets.empty()) return absl::InvalidArgumentError("no endpoints given");
  std::unique_ptr<Client> client(new Client(
      std::move(targets), std::move(credentials), std::move(options)));
  if (client->options_.dial_timeout <= absl::ZeroDuration()) return client;

  // Wait for any endpoint to connect: poll the channels' states in turn,
  // each poll blocking until a state change or a short slice passes.
  const absl::Time deadline = absl::Now() + client->options_.dial_timeout;
  const int n = static_cast<int>(client->channels_.size());
  for (int i = 0; absl::Now() < deadline; i = (i + 1) % n) {
    grpc::Channel& ch = *client->channels_[i]->channel;
    grpc_connectivity_state state = ch.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) {
      absl::MutexLock lock(&client->mu_);
      client->current_ = i;
      return client;
    }
    absl::Time slice = std::min(deadline, absl::Now() + absl::Milliseconds(20));
    ch.WaitForStateChange(state, absl::ToChronoTime(slice));
  }
  absl::Status status = DeadlineExceededStatus();
  if (std::string reason = client->LastConnectError(); !reason.empty()) {
    status.SetPayload(kConnectErrorPayload, absl::Cord(reason));
  }
  return status;
}

std::string ConnectError(const absl::Status& status) {
  auto reason = status.GetPayload(kConnectErrorPayload);
  return reason.has_value() ? std::string(*reason) : std::string();
}

std::string Client::LastConnectError() {
  // A call that does not wait for the channel fails at once with the
  // subchannels' last error while the channel is in TRANSIENT_FAILURE.
  for (const std::unique_ptr<Endpoint>& ep : channels_) {
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    etcdserverpb::StatusRequest request;
    etcdserverpb::StatusResponse response;
    grpc::Status s = ep->maintenance->Status(&context, request, &response);
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return s.error_message();
    }
  }
  return "";
}

Client::Client(
    std::vector<std::string> endpoints,
    std::vector<std::shared_ptr<grpc::ChannelCredentials>> credentials,
    Options options)
    : endpoints_(std::move(endpoints)), options_(std::move(options)) {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    channels_.push_back(
        std::make_unique<Endpoint>(endpoints_[i], std::move(credentials[i])));
  }
}

Client::~Client() = default;

int Client::current_endpoint() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

Client::Endpoint& Client::EndpointAt(int index) {
  if (index < 0 || index >= static_cast<int>(channels_.size())) {
    index = current_endpoint();
  }
  return *channels_[index];
}

void Client::Advance(int from) {
  absl::MutexLock lock(&mu_);
  // Another call may already have moved on; only move from where we failed.
  if (current_ == from) {
    current_ = (from + 1) % static_cast<int>(endpoints_.size());
  }
}

void Client::PrepareContext(grpc::ClientContext& context,
                            absl::Duration timeout) const {
  for (const auto& [key, value] : options_.metadata) {
    context.AddMetadata(key, value);
  }
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

template <typename Response, typename Rpc>
absl::StatusOr<Response> Client::Call(Kind kind, const CallOptions& call,
                                      Rpc rpc) {
  const absl::Duration timeout = call.timeout > absl::ZeroDuration()
                                     ? call.timeout
                                     : options_.call_timeout;
  const absl::Time deadline = absl::Now() + timeout;
  const int n = static_cast<int>(endpoints_.size());
  const bool pinned = call.endpoint >= 0 && call.endpoint < n;
  const int start = pinned ? call.endpoint : current_endpoint();
  absl::Status last;
  for (int attempt = 0; absl::Now() < deadline; ++attempt) {
    if (attempt > 0 && (pinned || attempt % n == 0)) {
      if (pinned) break;
      absl::SleepFor(std::min(options_.retry_backoff, deadline - absl::Now()));
      if (absl::Now() >= deadline) break;
    }
    const int index = pinned ? start : (start + attempt) % n;
    Endpoint& ep = *channels_[index];
    // In the first round, skip an endpoint already known to be down (when
    // there is another to try); later rounds give each one time to connect.
    grpc_connectivity_state state = ep.channel->GetState(true);
    bool skip = !pinned && n > 1 && attempt < n &&
                state == GRPC_CHANNEL_TRANSIENT_FAILURE;
    absl::Time connect_by = deadline;
    if (options_.dial_timeout > absl::ZeroDuration()) {
      connect_by = std::min(deadline, absl::Now() + options_.dial_timeout);
    }
    if (skip || !ep.WaitConnected(connect_by)) {
      // Nothing was sent: moving on is safe for reads and writes alike.
      last = absl::UnavailableError(
          absl::StrCat("cannot connect to ", endpoints_[index]));
      if (!pinned) Advance(index);
      continue;
    }
    grpc::ClientContext context;
    PrepareContext(context, deadline - absl::Now());
    Response response;
    grpc::Status status = rpc(ep, &context, &response);
    if (status.ok()) return response;
    absl::Status result = FromGrpcStatus(status);
    // A write that may have reached the server is never resent.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        kind == Kind::kWrite || pinned) {
      return result;
    }
    last = result;
    Advance(index);
  }
  // Like clientv3: once the deadline is gone, the caller sees the context's
  // error rather than the last per-endpoint failure.
  if (last.ok() || absl::Now() >= deadline) return DeadlineExceededStatus();
  return last;
}

absl::StatusOr<etcdserverpb::RangeResponse> Client::Range(
    const etcdserverpb::RangeRequest& request, CallOptions call) {
  return Call<etcdserverpb::RangeResponse>(
      Kind::kRead, call, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) {
        return ep.kv->Range(ctx, request, r);
      });
}

absl::StatusOr<etcdserverpb::PutResponse> Client::Put(
    const etcdserverpb::PutRequest& request, CallOptions call) {
  return Call<etcdserverpb::PutResponse>(
      Kind::kWrite, call, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) {
        return ep.kv->Put(ctx, request, r);
      });
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> Client::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& request, CallOptions call) {
  return Call<etcdserverpb::DeleteRangeResponse>(
      Kind::kWrite, call, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) {
        return ep.kv->DeleteRange(ctx, request, r);
      });
}

absl::StatusOr<etcdserverpb::TxnResponse> Client::Txn(
    const etcdserverpb::TxnRequest& request, CallOptions call) {
  const Kind kind = IsReadOnly(request) ? Kind::kRead : Kind::kWrite;
  return Call<etcdserverpb::TxnResponse>(
      kind, call, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) {
        return ep.kv->Txn(ctx, request, r);
      });
}

absl::StatusOr<etcdserverpb::CompactionResponse> Client::Compact(
    const etcdserverpb::CompactionRequest& request, CallOptions call) {
  return Call<etcdserverpb::CompactionResponse>(
      Kind::kWrite, call, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) {
        return ep.kv->Compact(ctx, request, r);
      });
}

absl::StatusOr<etcdserverpb::RangeResponse> Client::Get(std::string key,
                                                        CallOptions call) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::move(key));
  return Range(request, call);
}

absl::StatusOr<etcdserverpb::PutResponse> Client::Put(std::string key,
                                                      std::string value,
                                                      CallOptions call) {
  etcdserverpb::PutRequest request;
  request.set_key(std::move(key));
  request.set_value(std::move(value));
  return Put(request, call);
}

absl::StatusOr<etcdserverpb::MemberListResponse> Client::MemberList(
    CallOptions call) {
  etcdserverpb::MemberListRequest request;
  return Call<etcdserverpb::MemberListResponse>(
      Kind::kRead, call, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) {
        return ep.cluster->MemberList(ctx, request, r);
      });
}

absl::StatusOr<etcdserverpb::StatusResponse> Client::Status(CallOptions call) {
  etcdserverpb::StatusRequest request;
  return Call<etcdserverpb::StatusResponse>(
      Kind::kRead, call, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) {
        return ep.maintenance->Status(ctx, request, r);
      });
}

etcdserverpb::KV::Stub& Client::kv(int endpoint) {
  return *EndpointAt(endpoint).kv;
}
etcdserverpb::Watch::Stub& Client::watch(int endpoint) {
  return *EndpointAt(endpoint).watch;
}
etcdserverpb::Lease::Stub& Client::lease(int endpoint) {
  return *EndpointAt(endpoint).lease;
}
etcdserverpb::Cluster::Stub& Client::cluster(int endpoint) {
  return *EndpointAt(endpoint).cluster;
}
etcdserverpb::Maintenance::Stub& Client::maintenance(int endpoint) {
  return *EndpointAt(endpoint).maintenance;
}
etcdserverpb::Auth::Stub& Client::auth(int endpoint) {
  return *EndpointAt(endpoint).auth;
}

}  // namespace raftkv::client
