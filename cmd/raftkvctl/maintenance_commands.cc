// alarm list, alarm disarm and defrag (etcdctl's alarm_command.go and
// defrag_command.go), and raftkv's own recovery from NOSPACE in one step:
// `alarm recover` compacts to the current revision, defragments every
// member and disarms NOSPACE (docs/space-and-integrity.md).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"
#include "grpcpp/client_context.h"
#include "kv/alarms.h"

namespace raftkv::ctl {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

absl::StatusOr<etcdserverpb::AlarmResponse> CallAlarm(
    Context& ctx, const etcdserverpb::AlarmRequest& req) {
  client::Client& c = ctx.client();
  grpc::ClientContext call;
  c.PrepareContext(call, ctx.command_timeout());
  etcdserverpb::AlarmResponse resp;
  grpc::Status s = c.maintenance().Alarm(&call, req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

void PrintAlarms(const etcdserverpb::AlarmResponse& resp) {
  for (const etcdserverpb::AlarmMember& a : resp.alarms()) {
    kvpb::AlarmMember m;
    m.set_member_id(a.memberid());
    m.set_alarm(a.alarm());
    std::cout << kv::AlarmText(m) << "\n";
  }
}

etcdserverpb::AlarmResponse ListOrExit(Context& ctx) {
  etcdserverpb::AlarmRequest req;
  req.set_action(etcdserverpb::AlarmRequest::GET);
  auto resp = CallAlarm(ctx, req);
  if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
  return *std::move(resp);
}

// Disarms each raised alarm of type `only` (NONE: all), as clientv3's
// AlarmDisarm with an empty member does; returns what was disarmed.
etcdserverpb::AlarmResponse DisarmOrExit(Context& ctx,
                                         etcdserverpb::AlarmType only) {
  etcdserverpb::AlarmResponse out;
  const etcdserverpb::AlarmResponse raised = ListOrExit(ctx);
  for (const etcdserverpb::AlarmMember& a : raised.alarms()) {
    if (only != etcdserverpb::NONE && a.alarm() != only) continue;
    etcdserverpb::AlarmRequest req;
    req.set_action(etcdserverpb::AlarmRequest::DEACTIVATE);
    req.set_memberid(a.memberid());
    req.set_alarm(a.alarm());
    auto resp = CallAlarm(ctx, req);
    if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
    for (const auto& m : resp->alarms()) *out.add_alarms() = m;
  }
  return out;
}

// Defragments each endpoint in turn, printing etcdctl's lines; returns the
// number of failures.
int DefragAll(Context& ctx) {
  client::Client& c = ctx.client();
  int failures = 0;
  for (size_t i = 0; i < ctx.endpoints().size(); ++i) {
    grpc::ClientContext call;
    c.PrepareContext(call, ctx.command_timeout());
    etcdserverpb::DefragmentRequest req;
    etcdserverpb::DefragmentResponse resp;
    grpc::Status s =
        c.maintenance(static_cast<int>(i)).Defragment(&call, req, &resp);
    if (!s.ok()) {
      std::cerr << "Failed to defragment etcd member[" << ctx.endpoints()[i]
                << "] (" << ErrorText(FromGrpc(s)) << ")\n";
      ++failures;
    } else {
      std::cout << "Finished defragmenting etcd member[" << ctx.endpoints()[i]
                << "]\n";
    }
  }
  return failures;
}

}  // namespace

int RunAlarmList(Context& ctx, const std::vector<std::string>& args) {
  if (!args.empty()) {
    ExitWithError(kExitBadArgs, "alarm list command accepts no arguments");
  }
  PrintAlarms(ListOrExit(ctx));
  return kExitSuccess;
}

int RunAlarmDisarm(Context& ctx, const std::vector<std::string>& args) {
  if (!args.empty()) {
    ExitWithError(kExitBadArgs, "alarm disarm command accepts no arguments");
  }
  PrintAlarms(DisarmOrExit(ctx, etcdserverpb::NONE));
  return kExitSuccess;
}

int RunDefrag(Context& ctx, const std::vector<std::string>&) {
  return DefragAll(ctx) == 0 ? kExitSuccess : kExitError;
}

int RunAlarmRecover(Context& ctx, const std::vector<std::string>& args) {
  if (!args.empty()) {
    ExitWithError(kExitBadArgs, "alarm recover command accepts no arguments");
  }
  // 1. Compact to the current revision (history is what fills a store).
  auto status = ctx.client().Status();
  if (!status.ok()) ExitWithError(kExitError, ErrorText(status.status()));
  const int64_t rev = status->header().revision();
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(rev);
  compact.set_physical(true);
  auto compacted = ctx.client().Compact(compact);
  if (compacted.ok()) {
    std::cout << "compacted revision " << rev << "\n";
  } else if (compacted.status().message() !=
             "etcdserver: mvcc: required revision has been compacted") {
    ExitWithError(kExitError, ErrorText(compacted.status()));
  }
  // 2. Defragment every endpoint given (pass every member's).
  if (DefragAll(ctx) != 0) {
    ExitWithError(kExitError, "defragmentation failed; alarms left raised");
  }
  // 3. Disarm NOSPACE (CORRUPT needs an operator's judgement: left alone).
  PrintAlarms(DisarmOrExit(ctx, etcdserverpb::NOSPACE));
  return kExitSuccess;
}

}  // namespace raftkv::ctl
