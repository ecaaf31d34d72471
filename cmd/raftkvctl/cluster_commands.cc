// member list, endpoint status and endpoint health (etcdctl's
// member_command.go and ep_command.go).
#include <iostream>

#include "absl/time/clock.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"
#include "cmd/raftkvctl/printer.h"

namespace raftkv::ctl {

int RunMemberList(Context& ctx, const std::vector<std::string>&) {
  auto resp = ctx.client().MemberList();
  if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
  Printer(ctx.globals().write_out, ctx.globals().hex).MemberList(*resp);
  return kExitSuccess;
}

int RunEndpointStatus(Context& ctx, const std::vector<std::string>&) {
  // One client for all endpoints (it must connect to one of them), then a
  // Status call pinned to each endpoint in turn.
  client::Client& c = ctx.client();
  std::vector<EndpointStatus> list;
  bool failed = false;
  for (size_t i = 0; i < ctx.endpoints().size(); ++i) {
    client::CallOptions call;
    call.endpoint = static_cast<int>(i);
    auto resp = c.Status(call);
    if (!resp.ok()) {
      failed = true;
      std::cerr << "Failed to get the status of endpoint " << ctx.endpoints()[i]
                << " (" << ErrorText(resp.status()) << ")\n";
      continue;
    }
    list.push_back({ctx.endpoints()[i], *std::move(resp)});
  }
  Printer(ctx.globals().write_out, ctx.globals().hex).EndpointStatusList(list);
  return failed ? kExitError : kExitSuccess;
}

int RunEndpointHealth(Context& ctx, const std::vector<std::string>&) {
  // Like etcdctl: a linearizable Get("health") through a client of its own
  // per endpoint; "permission denied" still proves the member is healthy.
  std::vector<EndpointHealth> list;
  bool failed = false;
  for (size_t i = 0; i < ctx.endpoints().size(); ++i) {
    EndpointHealth h;
    h.endpoint = ctx.endpoints()[i];
    absl::Status error;
    std::unique_ptr<client::Client> c = ctx.ClientFor(i, &error);
    if (c == nullptr) {
      h.error = ErrorText(error);
    } else {
      const absl::Time start = absl::Now();
      auto resp = c->Get("health");
      h.took = GoDuration(absl::Now() - start);
      if (resp.ok() || absl::IsPermissionDenied(resp.status())) {
        h.health = true;
      } else {
        h.error = ErrorText(resp.status());
      }
    }
    failed = failed || !h.error.empty();
    list.push_back(std::move(h));
  }
  Printer(ctx.globals().write_out, ctx.globals().hex).EndpointHealthList(list);
  if (failed) ExitWithError(kExitError, "unhealthy cluster");
  return kExitSuccess;
}

}  // namespace raftkv::ctl
