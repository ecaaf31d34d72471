// Command: one parsed line of a scenario script, e.g.
//
//   add-nodes 3 voters=(1,2,3) pre-vote=false
//   partition (1) (2,3)
//
// Tokens are separated by spaces. A token "key=value" is an option; any other
// token is a positional argument. A value or argument written "(1,2,3)" is a
// list. Accessors return InvalidArgument naming the offending token, which the
// runner turns into a test failure (a broken script, not a Raft answer).
#ifndef RAFTKV_TESTS_RAFT_COMMAND_H_
#define RAFTKV_TESTS_RAFT_COMMAND_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace raftkv::raft::scenario {

struct Command {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> options;

  // Positional argument i as a node id / number.
  absl::StatusOr<uint64_t> ArgUint(size_t i) const;
  // All positional arguments from `from` on, as numbers.
  absl::StatusOr<std::vector<uint64_t>> ArgUints(size_t from) const;

  bool HasOption(const std::string& key) const {
    return options.count(key) > 0;
  }
  absl::StatusOr<uint64_t> OptionUint(const std::string& key,
                                      uint64_t dflt) const;
  absl::StatusOr<bool> OptionBool(const std::string& key, bool dflt) const;
  absl::StatusOr<std::vector<uint64_t>> OptionList(
      const std::string& key) const;

  // Fails if an option outside `allowed` was given (catches typos).
  absl::Status CheckOptions(const std::vector<std::string>& allowed) const;
};

absl::StatusOr<Command> ParseCommand(const std::string& line);

// "(1,2,3)" or "1" -> {1,2,3} / {1}; "()" -> {}.
absl::StatusOr<std::vector<uint64_t>> ParseIdList(const std::string& s);

}  // namespace raftkv::raft::scenario

#endif  // RAFTKV_TESTS_RAFT_COMMAND_H_
