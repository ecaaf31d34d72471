// A small pflag-like command-line parser for raftkvctl, so that etcdctl's
// invocation style works: flags before or after positional arguments
// ("put foo bar", "get foo --prefix", "--endpoints=a,b get foo"), "--name
// value" and "--name=value", one-letter shorthands ("-w json"), and "--" to
// end flag parsing.
#ifndef RAFTKV_CMD_RAFTKVCTL_FLAGS_H_
#define RAFTKV_CMD_RAFTKVCTL_FLAGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace raftkv::ctl {

class FlagSet {
 public:
  // Registers a flag; `shorthand` is 0 when there is none. Targets must
  // outlive the FlagSet and hold the default value on entry.
  void Bool(const std::string& name, char shorthand, bool* target);
  void String(const std::string& name, char shorthand, std::string* target);
  void Int64(const std::string& name, char shorthand, int64_t* target);

  // Parses `args`, setting flags and appending the other arguments to
  // `positional` in order. Errors read like pflag's ("unknown flag: --x").
  absl::Status Parse(const std::vector<std::string>& args,
                     std::vector<std::string>* positional) const;

  // True when `name` (long form, or one-letter shorthand) takes a value.
  bool TakesValue(const std::string& name) const;

 private:
  enum class Type { kBool, kString, kInt64 };
  struct Flag {
    Type type;
    void* target;
  };
  absl::Status Set(const std::string& display, const Flag& flag,
                   const std::string& value) const;
  const Flag* Find(const std::string& name) const;

  std::map<std::string, Flag> flags_;
  std::map<char, std::string> shorthands_;
};

}  // namespace raftkv::ctl

#endif  // RAFTKV_CMD_RAFTKVCTL_FLAGS_H_
