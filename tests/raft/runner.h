// Runner: executes scenario commands against a Cluster and returns their
// printed output. The command set is documented in docs/raft-scenarios.md.
//
// Two kinds of failure are kept apart: an answer of the Raft core (a rejected
// proposal, a Step error) is printed as part of the output and compared like
// any other; a broken script (unknown command, bad argument, a node that does
// not exist) is returned as an error status and fails the test.
#ifndef RAFTKV_TESTS_RAFT_RUNNER_H_
#define RAFTKV_TESTS_RAFT_RUNNER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/raft/cluster.h"
#include "tests/raft/command.h"

namespace raftkv::raft::scenario {

class Runner {
 public:
  // Runs one command. Output is newline-terminated and never contains a
  // blank line ("ok" when the command has nothing to say).
  absl::StatusOr<std::string> Run(const Command& cmd);

  // Invariant violations found since the last call.
  std::vector<std::string> CheckInvariants() {
    return cluster_.CheckInvariants();
  }

 private:
  absl::StatusOr<std::string> AddNodes(const Command& cmd);
  absl::StatusOr<std::string> Tick(const Command& cmd);
  absl::StatusOr<std::string> ProposeConfChange(const Command& cmd);
  absl::StatusOr<std::string> ProcessReady(const Command& cmd);
  absl::StatusOr<std::string> DeliverMsgs(const Command& cmd);
  absl::StatusOr<std::string> Partition(const Command& cmd);
  absl::StatusOr<std::string> Compact(const Command& cmd);
  absl::StatusOr<std::string> InjectMsg(const Command& cmd);
  absl::StatusOr<std::string> ForEachLive(const Command& cmd,
                                          std::string (*describe)(const Node&));
  // Node `cmd.args[0]`, which must exist and be up.
  absl::StatusOr<Node*> Target(const Command& cmd);

  Cluster cluster_;
};

}  // namespace raftkv::raft::scenario

#endif  // RAFTKV_TESTS_RAFT_RUNNER_H_
