// raftkvctl: a command-line client for raftkv (and etcd) that mirrors
// etcdctl 3.4's commands, flags, output formats, error messages and exit
// codes. See docs/raftkvctl.md.
//
// Usage: raftkvctl [global flags] <command> [flags] [args]
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/flags.h"
#include "grpc/support/log.h"

namespace raftkv::ctl {
namespace {

// gRPC core logs every failed TLS handshake at ERROR, three lines per
// reconnect attempt ("Corruption detected", "alert bad certificate", ...);
// raftkvctl reports a failed connection once itself, with gRPC's reason
// (command.cc). Setting GRPC_VERBOSITY keeps gRPC's own logging.
void DropGrpcLog(gpr_log_func_args*) {}

void PrintUsage() {
  std::cout << "Usage: raftkvctl [--endpoints=a,b] [--dial-timeout=2s] "
               "[--command-timeout=5s] [-w simple|json|table] [--hex]\n"
               "                 [--cacert=ca.pem] [--cert=c.pem --key=k.pem] "
               "[--insecure-skip-tls-verify]\n"
               "                 [--insecure-transport=true] "
               "<command> [flags] [args]\n\n"
               "Endpoints: host:port, http://host:port (plaintext) or "
               "https://host:port (TLS);\nhost:port uses TLS when --cacert, "
               "--cert or --key is given or --insecure-transport=false.\n\n"
               "Commands:\n";
  for (const Command& c : AllCommands()) std::cout << "  " << c.path << "\n";
}

// The indices of the positional words in `args`, skipping flags and the
// values of flags that take one (of any command: the command is not known
// yet).
std::vector<size_t> PositionalIndices(const std::vector<std::string>& args) {
  FlagSet all;
  GlobalFlags globals;
  globals.Register(all);
  for (const Command& c : AllCommands()) c.register_flags(all);
  std::vector<size_t> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      for (++i; i < args.size(); ++i) out.push_back(i);
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.push_back(i);
      continue;
    }
    if (a.find('=') != std::string::npos) continue;
    std::string name = a[1] == '-' ? a.substr(2) : a.substr(1);
    if (a[1] != '-' && name.size() > 1) continue;  // "-wjson"
    if (all.TakesValue(name)) ++i;
  }
  return out;
}

int Main(int argc, char** argv) {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function(DropGrpcLog);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" ||
      args[0] == "-h") {
    PrintUsage();
    return kExitSuccess;
  }
  std::vector<size_t> words = PositionalIndices(args);
  const Command* command = nullptr;
  size_t used = 0;
  for (const Command& c : AllCommands()) {
    if (words.size() >= 2 && c.path == args[words[0]] + " " + args[words[1]]) {
      command = &c;
      used = 2;
      break;
    }
  }
  if (command == nullptr && !words.empty()) {
    for (const Command& c : AllCommands()) {
      if (c.path == args[words[0]]) {
        command = &c;
        used = 1;
        break;
      }
    }
  }
  if (command == nullptr) {
    ExitWithError(kExitError, words.empty()
                                  ? "no command given"
                                  : "unknown command \"" + args[words[0]] +
                                        "\" for \"raftkvctl\"");
  }
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    bool is_command_word = false;
    for (size_t w = 0; w < used; ++w) is_command_word |= words[w] == i;
    if (!is_command_word) rest.push_back(args[i]);
  }
  GlobalFlags globals;
  FlagSet flags;
  globals.Register(flags);
  command->register_flags(flags);
  std::vector<std::string> positional;
  if (absl::Status s = flags.Parse(rest, &positional); !s.ok()) {
    ExitWithError(kExitError, s.message());
  }
  Context ctx(std::move(globals));
  return command->run(ctx, positional);
}

}  // namespace
}  // namespace raftkv::ctl

int main(int argc, char** argv) { return raftkv::ctl::Main(argc, argv); }
