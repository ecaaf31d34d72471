// lease grant / revoke / timetolive / list / keep-alive (etcdctl 3.4's
// lease_command.go), with its simple and json output (printer_simple.go,
// printer.go printerRPC over clientv3's lease response structs).
//
// The json format prints clientv3's wrapper structs, not the protobuf
// messages: their *pb.ResponseHeader is embedded, so Go's encoding/json
// promotes the header's fields to the top level ({"cluster_id":..,
// "member_id":..,"revision":..,"raft_term":..,"ID":..,"TTL":..}); only
// revoke prints the protobuf message ({"header":{...}}).
//
// Keep-alive follows clientv3's lessor: a renewal every TTL/3, a lease given
// up when no renewal succeeded within its TTL (the first one within dial
// timeout + 1 s) or when the server answers TTL <= 0; a failed stream is
// retried after 500 ms on the next endpoint.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"

namespace raftkv::ctl {
namespace {

bool timetolive_keys = false;
bool keepalive_once = false;

// clientv3's retryConnWait.
constexpr absl::Duration kRetryWait = absl::Milliseconds(500);

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError("context deadline exceeded");
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// etcdctl's leaseFromArgs: a hex ID, or exit 128.
int64_t LeaseFromArg(const std::string& arg) {
  errno = 0;
  char* end = nullptr;
  const long long id = std::strtoll(arg.c_str(), &end, 16);
  if (arg.empty() || *end != '\0' || errno != 0) {
    const char* why = errno == ERANGE ? "value out of range" : "invalid syntax";
    ExitWithError(
        kExitBadArgs,
        absl::StrCat("bad lease ID arg (strconv.ParseInt: parsing ",
                     GoJsonString(arg), ": ", why, "), expecting ID in Hex"));
  }
  return id;
}

bool IsJson(Context& ctx) {
  const std::string& w = ctx.globals().write_out;
  if (w != "simple" && w != "json") {
    ExitWithError(kExitBadFeature, w + " not supported as output format");
  }
  return w == "json";
}

// The header's fields as Go promotes them from an embedded
// *pb.ResponseHeader: `"cluster_id":1,...,` (empty when all are zero).
std::string PromotedHeader(const etcdserverpb::ResponseHeader& h) {
  std::string json = GoJson(h);  // "{...}"
  if (json.size() <= 2) return "";
  return json.substr(1, json.size() - 2) + ",";
}

// Runs a unary lease call on each endpoint in turn from the current one,
// moving on while the answer is UNAVAILABLE.
template <typename Response, typename Rpc>
absl::StatusOr<Response> CallLease(Context& ctx, Rpc rpc) {
  client::Client& c = ctx.client();
  const int n = static_cast<int>(c.endpoints().size());
  const absl::Time deadline = absl::Now() + ctx.command_timeout();
  absl::Status last;
  for (int attempt = 0; attempt < n && absl::Now() < deadline; ++attempt) {
    const int ep = (c.current_endpoint() + attempt) % n;
    grpc::ClientContext gctx;
    c.PrepareContext(gctx, deadline - absl::Now());
    Response resp;
    grpc::Status s = rpc(c.lease(ep), &gctx, &resp);
    if (s.ok()) return resp;
    last = FromGrpc(s);
    if (!absl::IsUnavailable(last)) return last;
  }
  if (last.ok())
    return absl::DeadlineExceededError("context deadline exceeded");
  return last;
}

void PrintKeepAlive(Context& ctx,
                    const etcdserverpb::LeaseKeepAliveResponse& r) {
  if (IsJson(ctx)) {
    std::cout << "{" << PromotedHeader(r.header()) << "\"ID\":" << r.id()
              << ",\"TTL\":" << r.ttl() << "}\n";
  } else {
    std::cout << absl::StrFormat("lease %016x keepalived with TTL(%d)\n",
                                 r.id(), r.ttl());
  }
  std::cout.flush();
}

// One keep-alive round trip on endpoint `ep`, bounded by `deadline`.
absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> KeepAliveRound(
    client::Client& c, int ep, int64_t id, absl::Time deadline) {
  grpc::ClientContext gctx;
  c.PrepareContext(gctx, deadline - absl::Now());
  auto stream = c.lease(ep).LeaseKeepAlive(&gctx);
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(id);
  etcdserverpb::LeaseKeepAliveResponse resp;
  if (stream->Write(req) && stream->Read(&resp)) {
    stream->WritesDone();
    gctx.TryCancel();
    stream->Finish().IgnoreError();
    return resp;
  }
  stream->WritesDone();
  grpc::Status s = stream->Finish();
  if (s.ok()) return absl::UnavailableError("keep-alive stream ended");
  return FromGrpc(s);
}

int KeepAliveOnce(Context& ctx, int64_t id) {
  client::Client& c = ctx.client();
  const int n = static_cast<int>(c.endpoints().size());
  const absl::Time deadline = absl::Now() + ctx.command_timeout();
  int ep = c.current_endpoint();
  for (;;) {
    auto resp = KeepAliveRound(c, ep, id, deadline);
    if (resp.ok()) {
      // clientv3 KeepAliveOnce: TTL <= 0 means the lease is gone.
      if (resp->ttl() <= 0) {
        ExitWithError(kExitBadConnection,
                      "etcdserver: requested lease not found");
      }
      PrintKeepAlive(ctx, *resp);
      return kExitSuccess;
    }
    // clientv3 retries UNAVAILABLE and INTERNAL; anything else halts.
    const bool retry =
        absl::IsUnavailable(resp.status()) || absl::IsInternal(resp.status());
    if (!retry || absl::Now() + kRetryWait >= deadline) {
      ExitWithError(
          kExitBadConnection,
          ErrorText(absl::Now() >= deadline ? absl::DeadlineExceededError(
                                                  "context deadline exceeded")
                                            : resp.status()));
    }
    ep = (ep + 1) % n;
    absl::SleepFor(kRetryWait);
  }
}

int KeepAliveForever(Context& ctx, int64_t id) {
  client::Client& c = ctx.client();
  const int n = static_cast<int>(c.endpoints().size());
  int ep = c.current_endpoint();
  // clientv3's firstKeepAliveTimeout.
  absl::Time expiry = absl::Now() + ctx.dial_timeout() + absl::Seconds(1);
  while (absl::Now() < expiry) {
    auto resp = KeepAliveRound(c, ep, id, expiry);
    if (!resp.ok()) {
      ep = (ep + 1) % n;
      absl::SleepFor(kRetryWait);
      continue;
    }
    if (resp->ttl() <= 0) break;
    PrintKeepAlive(ctx, *resp);
    const absl::Time now = absl::Now();
    expiry = now + absl::Seconds(resp->ttl());
    absl::SleepFor(std::max(absl::Seconds(resp->ttl()) / 3, kRetryWait));
  }
  if (!IsJson(ctx)) {
    std::cout << absl::StrFormat("lease %016x expired or revoked.\n", id);
  }
  return kExitSuccess;
}

}  // namespace

void RegisterLeaseTimeToLiveFlags(FlagSet& flags) {
  flags.Bool("keys", 0, &timetolive_keys);
}

void RegisterLeaseKeepAliveFlags(FlagSet& flags) {
  flags.Bool("once", 0, &keepalive_once);
}

int RunLeaseGrant(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs, "lease grant command needs TTL argument");
  }
  errno = 0;
  char* end = nullptr;
  const long long ttl = std::strtoll(args[0].c_str(), &end, 10);
  if (args[0].empty() || *end != '\0' || errno != 0) {
    const char* why = errno == ERANGE ? "value out of range" : "invalid syntax";
    ExitWithError(kExitBadArgs,
                  absl::StrCat("bad TTL (strconv.ParseInt: parsing ",
                               GoJsonString(args[0]), ": ", why, ")"));
  }
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  auto resp = CallLease<etcdserverpb::LeaseGrantResponse>(
      ctx, [&req](etcdserverpb::Lease::Stub& stub, grpc::ClientContext* g,
                  etcdserverpb::LeaseGrantResponse* r) {
        return stub.LeaseGrant(g, req, r);
      });
  if (!resp.ok()) {
    ExitWithError(kExitError, absl::StrCat("failed to grant lease (",
                                           ErrorText(resp.status()), ")"));
  }
  if (IsJson(ctx)) {
    std::cout << "{" << PromotedHeader(resp->header())
              << "\"ID\":" << resp->id() << ",\"TTL\":" << resp->ttl()
              << ",\"Error\":" << GoJsonString(resp->error()) << "}\n";
  } else {
    std::cout << absl::StrFormat("lease %016x granted with TTL(%ds)\n",
                                 resp->id(), resp->ttl());
  }
  return kExitSuccess;
}

int RunLeaseRevoke(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs, "lease revoke command needs 1 argument");
  }
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(LeaseFromArg(args[0]));
  auto resp = CallLease<etcdserverpb::LeaseRevokeResponse>(
      ctx, [&req](etcdserverpb::Lease::Stub& stub, grpc::ClientContext* g,
                  etcdserverpb::LeaseRevokeResponse* r) {
        return stub.LeaseRevoke(g, req, r);
      });
  if (!resp.ok()) {
    ExitWithError(kExitError, absl::StrCat("failed to revoke lease (",
                                           ErrorText(resp.status()), ")"));
  }
  if (IsJson(ctx)) {
    std::cout << GoJson(*resp) << "\n";
  } else {
    std::cout << absl::StrFormat("lease %016x revoked\n", req.id());
  }
  return kExitSuccess;
}

int RunLeaseTimeToLive(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs,
                  "lease timetolive command needs lease ID as argument");
  }
  etcdserverpb::LeaseTimeToLiveRequest req;
  req.set_id(LeaseFromArg(args[0]));
  req.set_keys(timetolive_keys);
  auto resp = CallLease<etcdserverpb::LeaseTimeToLiveResponse>(
      ctx, [&req](etcdserverpb::Lease::Stub& stub, grpc::ClientContext* g,
                  etcdserverpb::LeaseTimeToLiveResponse* r) {
        return stub.LeaseTimeToLive(g, req, r);
      });
  if (!resp.ok()) ExitWithError(kExitBadConnection, ErrorText(resp.status()));
  if (IsJson(ctx)) {
    std::vector<std::string> keys;
    for (const std::string& k : resp->keys()) {
      keys.push_back(GoJsonString(absl::Base64Escape(k)));
    }
    std::cout << "{" << PromotedHeader(resp->header())
              << "\"id\":" << resp->id() << ",\"ttl\":" << resp->ttl()
              << ",\"granted-ttl\":" << resp->grantedttl() << ",\"keys\":"
              << (resp->keys().empty()
                      ? std::string("null")
                      : absl::StrCat("[", absl::StrJoin(keys, ","), "]"))
              << "}\n";
    return kExitSuccess;
  }
  if (resp->grantedttl() == 0 && resp->ttl() == -1) {
    std::cout << absl::StrFormat("lease %016x already expired\n", resp->id());
    return kExitSuccess;
  }
  std::string text =
      absl::StrFormat("lease %016x granted with TTL(%ds), remaining(%ds)",
                      resp->id(), resp->grantedttl(), resp->ttl());
  if (timetolive_keys) {
    // Go's %v of a []string: "[a b c]".
    absl::StrAppend(&text, ", attached keys([",
                    absl::StrJoin(resp->keys(), " "), "])");
  }
  std::cout << text << "\n";
  return kExitSuccess;
}

int RunLeaseList(Context& ctx, const std::vector<std::string>&) {
  auto resp = CallLease<etcdserverpb::LeaseLeasesResponse>(
      ctx, [](etcdserverpb::Lease::Stub& stub, grpc::ClientContext* g,
              etcdserverpb::LeaseLeasesResponse* r) {
        return stub.LeaseLeases(g, etcdserverpb::LeaseLeasesRequest(), r);
      });
  if (!resp.ok()) ExitWithError(kExitBadConnection, ErrorText(resp.status()));
  if (IsJson(ctx)) {
    std::vector<std::string> items;
    for (const auto& l : resp->leases()) {
      items.push_back(absl::StrCat("{\"id\":", l.id(), "}"));
    }
    std::cout << "{" << PromotedHeader(resp->header()) << "\"leases\":["
              << absl::StrJoin(items, ",") << "]}\n";
    return kExitSuccess;
  }
  std::cout << "found " << resp->leases_size() << " leases\n";
  for (const auto& l : resp->leases()) {
    std::cout << absl::StrFormat("%016x\n", l.id());
  }
  return kExitSuccess;
}

int RunLeaseKeepAlive(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs,
                  "lease keep-alive command needs lease ID as argument");
  }
  const int64_t id = LeaseFromArg(args[0]);
  return keepalive_once ? KeepAliveOnce(ctx, id) : KeepAliveForever(ctx, id);
}

}  // namespace raftkv::ctl
