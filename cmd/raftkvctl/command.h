// What every raftkvctl command shares: the global flags, the connection,
// the output format and etcdctl's exit codes.
#ifndef RAFTKV_CMD_RAFTKVCTL_COMMAND_H_
#define RAFTKV_CMD_RAFTKVCTL_COMMAND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cmd/raftkvctl/flags.h"
#include "rpc/client/client.h"

namespace raftkv::ctl {

// etcdctl's exit codes (etcdctl/ctlv3/command/error.go).
enum ExitCode {
  kExitSuccess = 0,
  kExitError = 1,
  kExitBadConnection = 2,
  kExitInvalidInput = 3,
  kExitBadFeature = 4,
  kExitInterrupted = 5,
  kExitIO = 6,
  kExitBadArgs = 128,
};

// Prints "Error: <message>" to stderr and exits with `code`, as etcdctl.
[[noreturn]] void ExitWithError(int code, absl::string_view message);

struct GlobalFlags {
  std::string endpoints = "127.0.0.1:2379";
  std::string dial_timeout = "2s";
  std::string command_timeout = "5s";
  std::string write_out = "simple";
  bool hex = false;
  // Transport security, as etcdctl's flags of the same names
  // (rpc/client/tls.h says which endpoints use TLS).
  std::string cacert;
  std::string cert;
  std::string key;
  bool insecure_skip_tls_verify = false;
  bool insecure_transport = true;

  // etcdctl's flags above as client options.
  client::ClientTlsOptions Tls() const;

  // Registers the flags above on `flags`.
  void Register(FlagSet& flags);
};

// The state a command runs with. The connection is made lazily, so that a
// command that fails on its arguments never dials.
class Context {
 public:
  explicit Context(GlobalFlags globals);

  const GlobalFlags& globals() const { return globals_; }
  // The endpoints exactly as the user wrote them (etcdctl prints those).
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  absl::Duration dial_timeout() const { return dial_timeout_; }
  absl::Duration command_timeout() const { return command_timeout_; }

  // Connects to all endpoints, or exits with kExitBadConnection.
  client::Client& client();
  // A client for endpoint `i` alone; nullptr with `error` set when it
  // cannot connect. Exits with kExitBadArgs on unusable arguments.
  std::unique_ptr<client::Client> ClientFor(size_t i, absl::Status* error);

 private:
  client::Options ClientOptions() const;

  GlobalFlags globals_;
  std::vector<std::string> endpoints_;
  absl::Duration dial_timeout_;
  absl::Duration command_timeout_;
  std::unique_ptr<client::Client> client_;
};

// The commands. `args` are the positional arguments after the command
// words; `flags` already holds the global flags, to which the command adds
// its own before parsing.
using CommandFn = int (*)(Context& ctx, const std::vector<std::string>& args);

struct Command {
  // E.g. "get" or "member list".
  std::string path;
  // Registers the command's flags (into static storage owned by the
  // command's file).
  void (*register_flags)(FlagSet& flags);
  CommandFn run;
};

const std::vector<Command>& AllCommands();

// Per-command entry points, one file each (kv_commands.cc, ...).
void RegisterGetFlags(FlagSet& flags);
int RunGet(Context& ctx, const std::vector<std::string>& args);
void RegisterPutFlags(FlagSet& flags);
int RunPut(Context& ctx, const std::vector<std::string>& args);
void RegisterDelFlags(FlagSet& flags);
int RunDel(Context& ctx, const std::vector<std::string>& args);
void RegisterCompactionFlags(FlagSet& flags);
int RunCompaction(Context& ctx, const std::vector<std::string>& args);
void RegisterTxnFlags(FlagSet& flags);
int RunTxn(Context& ctx, const std::vector<std::string>& args);
void RegisterNoFlags(FlagSet& flags);
int RunMemberList(Context& ctx, const std::vector<std::string>& args);
int RunEndpointStatus(Context& ctx, const std::vector<std::string>& args);
int RunEndpointHealth(Context& ctx, const std::vector<std::string>& args);
void RegisterLeaseTimeToLiveFlags(FlagSet& flags);
void RegisterLeaseKeepAliveFlags(FlagSet& flags);
int RunLeaseGrant(Context& ctx, const std::vector<std::string>& args);
int RunLeaseRevoke(Context& ctx, const std::vector<std::string>& args);
int RunLeaseTimeToLive(Context& ctx, const std::vector<std::string>& args);
int RunLeaseList(Context& ctx, const std::vector<std::string>& args);
int RunLeaseKeepAlive(Context& ctx, const std::vector<std::string>& args);
void RegisterWatchFlags(FlagSet& flags);
int RunWatch(Context& ctx, const std::vector<std::string>& args);
int RunAlarmList(Context& ctx, const std::vector<std::string>& args);
int RunAlarmDisarm(Context& ctx, const std::vector<std::string>& args);
int RunAlarmRecover(Context& ctx, const std::vector<std::string>& args);
int RunDefrag(Context& ctx, const std::vector<std::string>& args);
void RegisterSnapshotRestoreFlags(FlagSet& flags);
int RunSnapshotSave(Context& ctx, const std::vector<std::string>& args);
int RunSnapshotStatus(Context& ctx, const std::vector<std::string>& args);
int RunSnapshotRestore(Context& ctx, const std::vector<std::string>& args);

}  // namespace raftkv::ctl

#endif  // RAFTKV_CMD_RAFTKVCTL_COMMAND_H_
