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

client::Client& Context::client() {
  if (client_ != nullptr) return *client_;
  client::Options options;
  options.dial_timeout = dial_timeout_;
  options.call_timeout = command_timeout_;
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect(endpoints_, options);
  // etcdctl 3.4 does not fail the dial itself: its first call runs into the
  // command timeout and exits 1 with "context deadline exceeded". Same text
  // and code here, only sooner.
  if (!c.ok()) {
    ExitWithError(
        absl::IsInvalidArgument(c.status()) ? kExitBadArgs : kExitError,
        ErrorText(c.status()));
  }
  client_ = *std::move(c);
  return *client_;
}

std::unique_ptr<client::Client> Context::ClientFor(size_t i,
                                                   absl::Status* error) {
  client::Options options;
  options.dial_timeout = dial_timeout_;
  options.call_timeout = command_timeout_;
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect({endpoints_[i]}, options);
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
  };
  return *commands;
}

}  // namespace raftkv::ctl
