// The route table and the unary and streaming handlers of etcd's JSON
// gateway; the wire rules are in gateway.h.
#include "rpc/gateway/gateway.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/async_stream.h>

#include <functional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "rpc/gateway/gateway_error.pb.h"
#include "rpc/gateway/peer_socket.h"
#include "rpc/gateway/stream_call.h"
#include "rpc/rpc.grpc.pb.h"
#include "rpc/v3election.grpc.pb.h"
#include "rpc/v3lock.grpc.pb.h"

namespace raftkv::rpc::gateway {
namespace {

namespace pb = etcdserverpb;
using google::protobuf::Message;

constexpr char kJson[] = "application/json";

// A route's work once its body has been read.
using Handler = std::function<void(const httplib::Request&, const std::string&,
                                   httplib::Response&)>;

// grpc-gateway v1's HTTPStatusFromCode, with Go's http.StatusText.
struct HttpCode {
  int code;
  const char* text;
};
HttpCode HttpFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK:
      return {200, "OK"};
    case grpc::CANCELLED:
      return {408, "Request Timeout"};
    case grpc::INVALID_ARGUMENT:
    case grpc::OUT_OF_RANGE:
      return {400, "Bad Request"};
    case grpc::DEADLINE_EXCEEDED:
      return {504, "Gateway Timeout"};
    case grpc::NOT_FOUND:
      return {404, "Not Found"};
    case grpc::ALREADY_EXISTS:
    case grpc::ABORTED:
      return {409, "Conflict"};
    case grpc::PERMISSION_DENIED:
      return {403, "Forbidden"};
    case grpc::UNAUTHENTICATED:
      return {401, "Unauthorized"};
    case grpc::RESOURCE_EXHAUSTED:
      return {429, "Too Many Requests"};
    case grpc::FAILED_PRECONDITION:
      return {412, "Precondition Failed"};
    case grpc::UNIMPLEMENTED:
      return {501, "Not Implemented"};
    case grpc::UNAVAILABLE:
      return {503, "Service Unavailable"};
    default:
      return {500, "Internal Server Error"};  // Unknown, Internal, ...
  }
}
int HttpStatus(grpc::StatusCode code) { return HttpFor(code).code; }

std::string ToJson(const Message& message, bool print_defaults = false) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = print_defaults;
  std::string out;
  // Only fails for a message with an unresolvable Any, which none has.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void WriteError(const grpc::Status& status, httplib::Response& res) {
  gatewaypb::Error body;
  body.set_error(status.error_message());
  body.set_message(status.error_message());
  body.set_code(status.error_code());
  res.status = HttpStatus(status.error_code());
  res.set_content(ToJson(body, /*print_defaults=*/true), kJson);
}

// A stream's error chunk (without the delimiter).
std::string StreamErrorJson(const grpc::Status& status) {
  gatewaypb::StreamErrorChunk chunk;
  auto* e = chunk.mutable_error();
  const HttpCode http = HttpFor(status.error_code());
  e->set_grpc_code(status.error_code());
  e->set_http_code(http.code);
  e->set_message(status.error_message());
  e->set_http_status(http.text);
  return ToJson(chunk, /*print_defaults=*/true);
}

grpc::Status ParseBody(const std::string& body, Message* request) {
  // grpc-gateway takes an empty body as an empty request.
  if (absl::StripAsciiWhitespace(body).empty()) return grpc::Status::OK;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // as grpc-gateway's decoder
  auto parsed =
      google::protobuf::util::JsonStringToMessage(body, request, options);
  if (parsed.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::INVALID_ARGUMENT, std::string(parsed.message()));
}

// The Authorization header as metadata `authorization` (tokens), when it is
// a value gRPC accepts (printable ASCII).
void ForwardMetadata(const httplib::Request& req, grpc::ClientContext* ctx) {
  if (!req.has_header("Authorization")) return;
  const std::string value = req.get_header_value("Authorization");
  for (unsigned char c : value) {
    if (c < 0x20 || c > 0x7e) return;
  }
  ctx->AddMetadata("authorization", value);
}

template <typename Stub, typename Req, typename Resp>
Handler Unary(std::shared_ptr<Stub> stub,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                           Resp*)) {
  return [stub, method](const httplib::Request& req, const std::string& body,
                        httplib::Response& res) {
    Req request;
    grpc::Status status = ParseBody(body, &request);
    if (!status.ok()) return WriteError(status, res);
    grpc::ClientContext ctx;
    ForwardMetadata(req, &ctx);
    Resp response;
    status = ((*stub).*method)(&ctx, request, &response);
    if (!status.ok()) return WriteError(status, res);
    res.status = 200;
    res.set_content(ToJson(response), kJson);
  };
}

// Streams every response of `call` (whose first response has been read) as
// grpc-gateway's chunks. The provider owns the call: httplib destroys it
// with the response, which cancels whatever is still running.
template <typename R, typename Resp>
void StreamResponses(std::shared_ptr<StreamCall<R, Resp>> call,
                     httplib::Response& res) {
  res.status = 200;
  res.set_chunked_content_provider(
      kJson, [call](size_t, httplib::DataSink& sink) {
        const std::string chunk =
            absl::StrCat("{\"result\":", ToJson(call->response()), "}\n");
        if (!sink.write(chunk.data(), chunk.size())) return false;
        if (call->Read()) return true;
        if (call->client_gone()) return false;
        grpc::Status status;
        call->Finish(&status);
        if (!status.ok()) {
          const std::string error = StreamErrorJson(status);
          sink.write(error.data(), error.size());
        }
        sink.done();
        return true;
      });
}

// The answer when a stream ends before its first response: its error with
// the mapped HTTP status, as grpc-gateway (an empty 200 if it ended well).
template <typename R, typename Resp>
void EndedEarly(StreamCall<R, Resp>& call, httplib::Response& res) {
  grpc::Status status;
  call.Finish(&status);
  res.status = HttpStatus(status.error_code());
  if (!status.ok()) res.set_content(StreamErrorJson(status), kJson);
}

template <typename Req, typename Resp>
using BidiCall = StreamCall<grpc::ClientAsyncReaderWriter<Req, Resp>, Resp>;

// A bidirectional stream fed one request (the body), then half-closed.
template <typename Stub, typename Req, typename Resp>
Handler Bidi(std::shared_ptr<Stub> stub,
             std::unique_ptr<grpc::ClientAsyncReaderWriter<Req, Resp>> (
                 Stub::*prepare)(grpc::ClientContext*,
                                 grpc::CompletionQueue*)) {
  return [stub, prepare](const httplib::Request& req, const std::string& body,
                         httplib::Response& res) {
    Req request;
    grpc::Status status = ParseBody(body, &request);
    if (!status.ok()) return WriteError(status, res);
    auto call = std::make_shared<BidiCall<Req, Resp>>(PeerSocket::Find(
        req.local_addr, req.local_port, req.remote_addr, req.remote_port));
    ForwardMetadata(req, call->context());
    call->set_call(((*stub).*prepare)(call->context(), call->cq()));
    // A failed write or half-close shows in the Read that follows.
    if (call->Start() && call->Write(request) && call->WritesDone() &&
        call->Read()) {
      return StreamResponses(std::move(call), res);
    }
    if (!call->client_gone()) EndedEarly(*call, res);
  };
}

template <typename Resp>
using ServerStreamCall = StreamCall<grpc::ClientAsyncReader<Resp>, Resp>;

// A server stream (Maintenance.Snapshot).
template <typename Stub, typename Req, typename Resp>
Handler ServerStream(std::shared_ptr<Stub> stub,
                     std::unique_ptr<grpc::ClientAsyncReader<Resp>> (
                         Stub::*prepare)(grpc::ClientContext*, const Req&,
                                         grpc::CompletionQueue*)) {
  return [stub, prepare](const httplib::Request& req, const std::string& body,
                         httplib::Response& res) {
    Req request;
    grpc::Status status = ParseBody(body, &request);
    if (!status.ok()) return WriteError(status, res);
    auto call = std::make_shared<ServerStreamCall<Resp>>(PeerSocket::Find(
        req.local_addr, req.local_port, req.remote_addr, req.remote_port));
    ForwardMetadata(req, call->context());
    call->set_call(((*stub).*prepare)(call->context(), request, call->cq()));
    if (call->Start() && call->Read()) {
      return StreamResponses(std::move(call), res);
    }
    if (!call->client_gone()) EndedEarly(*call, res);
  };
}

// The routes of etcd 3.4's generated gateway (etcdserverpb/gw/rpc.pb.gw.go),
// by path under /v3. Where two methods share a path (Hash and HashKV on
// maintenance/hash) grpc-gateway serves the first registered, Hash.
using Routes = absl::flat_hash_map<std::string, Handler>;

void AddKv(Routes& r, std::shared_ptr<pb::KV::Stub> kv) {
  r["/kv/range"] = Unary(kv, &pb::KV::Stub::Range);
  r["/kv/put"] = Unary(kv, &pb::KV::Stub::Put);
  r["/kv/deleterange"] = Unary(kv, &pb::KV::Stub::DeleteRange);
  r["/kv/txn"] = Unary(kv, &pb::KV::Stub::Txn);
  r["/kv/compaction"] = Unary(kv, &pb::KV::Stub::Compact);
}

void AddWatchAndLease(Routes& r, std::shared_ptr<pb::Watch::Stub> watch,
                      std::shared_ptr<pb::Lease::Stub> lease) {
  r["/watch"] = Bidi(watch, &pb::Watch::Stub::PrepareAsyncWatch);
  r["/lease/grant"] = Unary(lease, &pb::Lease::Stub::LeaseGrant);
  r["/lease/revoke"] = Unary(lease, &pb::Lease::Stub::LeaseRevoke);
  r["/kv/lease/revoke"] = r["/lease/revoke"];
  r["/lease/keepalive"] =
      Bidi(lease, &pb::Lease::Stub::PrepareAsyncLeaseKeepAlive);
  r["/lease/timetolive"] = Unary(lease, &pb::Lease::Stub::LeaseTimeToLive);
  r["/kv/lease/timetolive"] = r["/lease/timetolive"];
  r["/lease/leases"] = Unary(lease, &pb::Lease::Stub::LeaseLeases);
  r["/kv/lease/leases"] = r["/lease/leases"];
}

void AddCluster(Routes& r, std::shared_ptr<pb::Cluster::Stub> c) {
  r["/cluster/member/add"] = Unary(c, &pb::Cluster::Stub::MemberAdd);
  r["/cluster/member/remove"] = Unary(c, &pb::Cluster::Stub::MemberRemove);
  r["/cluster/member/update"] = Unary(c, &pb::Cluster::Stub::MemberUpdate);
  r["/cluster/member/list"] = Unary(c, &pb::Cluster::Stub::MemberList);
  r["/cluster/member/promote"] = Unary(c, &pb::Cluster::Stub::MemberPromote);
}

void AddMaintenance(Routes& r, std::shared_ptr<pb::Maintenance::Stub> m) {
  using M = pb::Maintenance::Stub;
  r["/maintenance/alarm"] = Unary(m, &M::Alarm);
  r["/maintenance/status"] = Unary(m, &M::Status);
  r["/maintenance/defragment"] = Unary(m, &M::Defragment);
  r["/maintenance/hash"] = Unary(m, &M::Hash);
  r["/maintenance/snapshot"] = ServerStream(m, &M::PrepareAsyncSnapshot);
  r["/maintenance/transfer-leadership"] = Unary(m, &M::MoveLeader);
}

void AddAuth(Routes& r, std::shared_ptr<pb::Auth::Stub> a) {
  using A = pb::Auth::Stub;
  r["/auth/enable"] = Unary(a, &A::AuthEnable);
  r["/auth/disable"] = Unary(a, &A::AuthDisable);
  r["/auth/authenticate"] = Unary(a, &A::Authenticate);
  r["/auth/user/add"] = Unary(a, &A::UserAdd);
  r["/auth/user/get"] = Unary(a, &A::UserGet);
  r["/auth/user/list"] = Unary(a, &A::UserList);
  r["/auth/user/delete"] = Unary(a, &A::UserDelete);
  r["/auth/user/changepw"] = Unary(a, &A::UserChangePassword);
  r["/auth/user/grant"] = Unary(a, &A::UserGrantRole);
  r["/auth/user/revoke"] = Unary(a, &A::UserRevokeRole);
  r["/auth/role/add"] = Unary(a, &A::RoleAdd);
  r["/auth/role/get"] = Unary(a, &A::RoleGet);
  r["/auth/role/list"] = Unary(a, &A::RoleList);
  r["/auth/role/delete"] = Unary(a, &A::RoleDelete);
  r["/auth/role/grant"] = Unary(a, &A::RoleGrantPermission);
  r["/auth/role/revoke"] = Unary(a, &A::RoleRevokePermission);
}

// etcd's v3lock and v3election gateways (v3lockpb/gw, v3electionpb/gw).
void AddLockAndElection(Routes& r, std::shared_ptr<v3lockpb::Lock::Stub> l,
                        std::shared_ptr<v3electionpb::Election::Stub> e) {
  using E = v3electionpb::Election::Stub;
  r["/lock"] = Unary(l, &v3lockpb::Lock::Stub::Lock);
  r["/lock/unlock"] = Unary(l, &v3lockpb::Lock::Stub::Unlock);
  r["/election/campaign"] = Unary(e, &E::Campaign);
  r["/election/proclaim"] = Unary(e, &E::Proclaim);
  r["/election/leader"] = Unary(e, &E::Leader);
  r["/election/observe"] = ServerStream(e, &E::PrepareAsyncObserve);
  r["/election/resign"] = Unary(e, &E::Resign);
}

Routes MakeRoutes(const std::shared_ptr<grpc::Channel>& channel) {
  Routes routes;
  AddKv(routes, pb::KV::NewStub(channel));
  AddWatchAndLease(routes, pb::Watch::NewStub(channel),
                   pb::Lease::NewStub(channel));
  AddCluster(routes, pb::Cluster::NewStub(channel));
  AddMaintenance(routes, pb::Maintenance::NewStub(channel));
  AddAuth(routes, pb::Auth::NewStub(channel));
  AddLockAndElection(routes, v3lockpb::Lock::NewStub(channel),
                     v3electionpb::Election::NewStub(channel));
  return routes;
}

// Reads the body through `reader`, refusing one over `limit` bytes.
bool ReadBody(const httplib::ContentReader& reader, size_t limit,
              std::string* body) {
  return reader([&](const char* data, size_t len) {
    if (body->size() + len > limit) return false;
    body->append(data, len);
    return true;
  });
}

}  // namespace

void RegisterRoutes(httplib::Server* http,
                    std::shared_ptr<grpc::Channel> channel,
                    const Options& options) {
  auto routes = std::make_shared<const Routes>(MakeRoutes(channel));
  const size_t limit =
      static_cast<size_t>(2 * options.max_request_bytes + 64 * 1024);
  // Group 1 is the path after the version prefix.
  http->Post(
      R"(/v3(?:beta|alpha)?(/.*))",
      [routes, limit](const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) {
        auto route = routes->find(req.matches[1].str());
        if (route == routes->end()) {
          res.status = 404;  // grpc-gateway: not a gRPC status
          res.set_content("Not Found\n", "text/plain; charset=utf-8");
          return;
        }
        std::string body;
        if (!ReadBody(reader, limit, &body)) {
          WriteError(grpc::Status(grpc::RESOURCE_EXHAUSTED,
                                  absl::StrCat("request body larger "
                                               "than ",
                                               limit, " bytes")),
                     res);
          res.set_header("Connection", "close");
          return;
        }
        route->second(req, body, res);
      });
}

void RegisterRoutes(httplib::Server* http,
                    std::shared_ptr<grpc::Channel> channel) {
  RegisterRoutes(http, std::move(channel), Options{});
}

}  // namespace raftkv::rpc::gateway
