// The etcdctl-compatibility script: a list of commands run in order against
// a fresh single-member server, once with etcdctl and once with raftkvctl.
// The outputs (stdout, stderr without clientv3's JSON log lines, exit code)
// must be equal after Normalize().
//
// The table is data, so the e2e tests can replay it against raftkv: in each
// argument "{ep}" becomes the server's client endpoint and "{dead}" an
// endpoint where nothing listens.
#ifndef RAFTKV_TESTS_RPC_CLIENT_CTL_CASES_H_
#define RAFTKV_TESTS_RPC_CLIENT_CTL_CASES_H_

#include <string>
#include <utility>
#include <vector>

namespace raftkv::testing {

struct CtlCase {
  CtlCase(std::vector<std::string> args_in, std::string input_in = "")
      : args(std::move(args_in)), input(std::move(input_in)) {}

  // Arguments after the program name; "{ep}"/"{dead}" are substituted.
  // --endpoints={ep} is prepended unless an argument sets --endpoints.
  std::vector<std::string> args;
  // Fed to stdin (txn scripts, put without a value).
  std::string input;
};

// The script, in order; later cases depend on the state earlier ones left
// (revisions are part of the expected output).
const std::vector<CtlCase>& CtlCompatCases();

// Replaces what legitimately differs between two runs: durations ("took"),
// and clientv3's {"level":...} log lines on stderr.
std::string NormalizeCtlOutput(const std::string& text);

// The case's argument vector with {ep}/{dead} substituted.
std::vector<std::string> ExpandCtlArgs(const CtlCase& c,
                                       const std::string& endpoint,
                                       const std::string& dead_endpoint);

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTS_RPC_CLIENT_CTL_CASES_H_
