// get, put, del and compaction (etcdctl's get_command.go, put_command.go,
// del_command.go, compaction_command.go).
#include <iostream>

#include "absl/strings/numbers.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"
#include "cmd/raftkvctl/ops.h"
#include "cmd/raftkvctl/printer.h"

namespace raftkv::ctl {
namespace {

GetFlags get_flags;
PutFlags put_flags;
DelFlags del_flags;
bool compact_physical = false;

}  // namespace

void RegisterGetFlags(FlagSet& flags) { get_flags.Register(flags); }
void RegisterPutFlags(FlagSet& flags) { put_flags.Register(flags); }
void RegisterDelFlags(FlagSet& flags) { del_flags.Register(flags); }
void RegisterCompactionFlags(FlagSet& flags) {
  flags.Bool("physical", 0, &compact_physical);
}

int RunGet(Context& ctx, const std::vector<std::string>& args) {
  etcdserverpb::RangeRequest req = BuildRange(get_flags, args);
  auto resp = ctx.client().Range(req);
  if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
  if (get_flags.print_value_only && ctx.globals().write_out != "simple") {
    ExitWithError(kExitBadArgs,
                  "print-value-only is only for `--write-out=simple`");
  }
  Printer(ctx.globals().write_out, ctx.globals().hex)
      .Get(*resp, get_flags.print_value_only);
  return kExitSuccess;
}

int RunPut(Context& ctx, const std::vector<std::string>& args) {
  etcdserverpb::PutRequest req = BuildPut(put_flags, args, true);
  auto resp = ctx.client().Put(req);
  if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
  Printer(ctx.globals().write_out, ctx.globals().hex).Put(*resp);
  return kExitSuccess;
}

int RunDel(Context& ctx, const std::vector<std::string>& args) {
  etcdserverpb::DeleteRangeRequest req = BuildDel(del_flags, args);
  auto resp = ctx.client().DeleteRange(req);
  if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
  Printer(ctx.globals().write_out, ctx.globals().hex).Del(*resp);
  return kExitSuccess;
}

int RunCompaction(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs, "compaction command needs 1 argument");
  }
  int64_t rev = 0;
  if (!absl::SimpleAtoi(args[0], &rev)) {
    ExitWithError(kExitError, "strconv.ParseInt: parsing \"" + args[0] +
                                  "\": invalid syntax");
  }
  etcdserverpb::CompactionRequest req;
  req.set_revision(rev);
  req.set_physical(compact_physical);
  auto resp = ctx.client().Compact(req);
  if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
  // etcdctl prints this in every output format.
  std::cout << "compacted revision " << rev << "\n";
  return kExitSuccess;
}

}  // namespace raftkv::ctl
