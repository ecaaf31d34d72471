// Context, global flags and the command table; see command.h.
#include "cmd/raftkvctl/command.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_split.h"
#include "cmd/raftkvctl/format.h"

namespace raftkv::ctl {

void ExitWithError(int code, absl::string_view message) {
  std::cout.flush();
  std::cerr << "Error: " << message << std::endl;
  std::exit(code);
}

void GlobalFlags::Register(FlagSet& flags) {
  flags.String("endpoints", 0, &endpoints);
  flags.String("dial-timeout", 0, &dial_timeout);
  flags.String("command-timeout", 0, &command_timeout);
  flags.String("write-out", 'w', &write_out);
  flags.Bool("hex", 0, &hex);
  flags.String("cacert", 0, &cacert);
  flags.String("cert", 0, &cert);
  flags.String("key", 0, &key);
  flags.Bool("insecure-skip-tls-verify", 0, &insecure_skip_tls_verify);
  flags.Bool("insecure-transport", 0, &insecure_transport);
}

client::ClientTlsOptions GlobalFlags::Tls() const {
  client::ClientTlsOptions tls;
  tls.ca_file = cacert;
  tls.cert_file = cert;
  tls.key_file = key;
  tls.insecure_skip_verify = insecure_skip_tls_verify;
  tls.insecure_transport = insecure_transport;
  return tls;
}

namespace {

absl::Duration ParseDurationOrDie(const std::string& flag,
                                  const std::string& text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d)) {
    ExitWithError(kExitError, "invalid argument \"" + text + "\" for \"--" +
                                  flag + "\" flag: time: invalid duration \"" +
                                  text + "\"");
  }
  return d;
}

}  // namespace

Context::Context(GlobalFlags globals) : globals_(std::move(globals)) {
  for (absl::string_view ep :
       absl::StrSplit(globals_.endpoints, ',', absl::SkipEmpty())) {
    endpoints_.emplace_back(ep);
  }
  dial_timeout_ = ParseDurationOrDie("dial-timeout", globals_.dial_timeout);
  command_timeout_ =
      ParseDurationOrDie("command-timeout", globals_.command_timeout);
  const std::string& w = globals_.write_out;
  // jsonl: one JSON object per event, watch only (watch_command.cc).
  if (w != "simple" && w != "json" && w != "table" && w != "fields" &&
      w != "protobuf" && w != "jsonl") {
    ExitWithError(kExitBadFeature, "unknown output format \"" + w + "\"");
  }
}

client::Options Context::ClientOptions() const {
  client::Options options;
  options.dial_timeout = dial_timeout_;
  options.call_timeout = command_timeout_;
  options.tls = globals_.Tls();
  return options;
}

client::Client& Context::client() {
  if (client_ != nullptr) return *client_;
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect(endpoints_, ClientOptions());
  // etcdctl 3.4 does not fail the dial itself: its first call runs into the
  // command timeout and exits 1 with "context deadline exceeded". Same text
  // and code here, only sooner. Unusable endpoints or TLS files are bad
  // arguments (128), as in etcdctl.
  if (!c.ok()) {
    // INVALID_ARGUMENT comes from the client's own checks, never from a
    // server: its message is printed bare, as etcdctl prints such errors.
    if (absl::IsInvalidArgument(c.status())) {
      ExitWithError(kExitBadArgs, c.status().message());
    }
    // etcdctl logs the balancer's error in a zap line before its "Error:";
    // the same shape here, with gRPC's reason (a TLS handshake failure says
    // which certificate check failed).
    if (std::string reason = client::ConnectError(c.status());
        !reason.empty()) {
      std::cerr << "{\"level\":\"warn\",\"ts\":\""
                << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone())
                << "\",\"caller\":\"raftkvctl\",\"msg\":\"cannot connect to "
                   "any endpoint\",\"error\":"
                << GoJsonString(reason) << "}" << std::endl;
    }
    ExitWithError(kExitError, ErrorText(c.status()));
  }
  client_ = *std::move(c);
  return *client_;
}

std::unique_ptr<client::Client> Context::ClientFor(size_t i,
                                                   absl::Status* error) {
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect({endpoints_[i]}, ClientOptions());
  // Bad arguments (endpoint, TLS files) end the command, as in client().
  if (absl::IsInvalidArgument(c.status())) {
    ExitWithError(kExitBadArgs, c.status().message());
  }
  if (!c.ok()) {
    *error = c.status();
    return nullptr;
  }
  return *std::move(c);
}

void RegisterNoFlags(FlagSet&) {}

const std::vector<Command>& AllCommands() {
  static const std::vector<Command>* commands = new std::vector<Command>{
      {"get", RegisterGetFlags, RunGet},
      {"put", RegisterPutFlags, RunPut},
      {"del", RegisterDelFlags, RunDel},
      {"txn", RegisterTxnFlags, RunTxn},
      {"compaction", RegisterCompactionFlags, RunCompaction},
      {"member list", RegisterNoFlags, RunMemberList},
      {"endpoint status", RegisterNoFlags, RunEndpointStatus},
      {"endpoint health", RegisterNoFlags, RunEndpointHealth},
      {"lease grant", RegisterNoFlags, RunLeaseGrant},
      {"lease revoke", RegisterNoFlags, RunLeaseRevoke},
      {"lease timetolive", RegisterLeaseTimeToLiveFlags, RunLeaseTimeToLive},
      {"lease list", RegisterNoFlags, RunLeaseList},
      {"lease keep-alive", RegisterLeaseKeepAliveFlags, RunLeaseKeepAlive},
      {"watch", RegisterWatchFlags, RunWatch},
      {"alarm list", RegisterNoFlags, RunAlarmList},
      {"alarm disarm", RegisterNoFlags, RunAlarmDisarm},
      {"alarm recover", RegisterNoFlags, RunAlarmRecover},
      {"defrag", RegisterNoFlags, RunDefrag},
      {"snapshot save", RegisterNoFlags, RunSnapshotSave},
      {"snapshot status", RegisterNoFlags, RunSnapshotStatus},
      {"snapshot restore", RegisterSnapshotRestoreFlags, RunSnapshotRestore},
  };
  return *commands;
}

}  // namespace raftkv::ctl
