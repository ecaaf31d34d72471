// The etcd 3.4 command line as raftkv takes it: the table of every flag
// etcd 3.4 defines (plus raftkv's own), parsed with the rules of Go's `flag`
// package, with ETCD_* environment variables layered under it as etcd's
// pkg/flags does. What each flag means in raftkv is decided here, flag by
// flag, and docs/flags.md is the table in prose: a flag is either accepted
// (it maps onto ServerConfig) or refused at start with an error naming it
// and why, unless given a neutral value (etcd's default, or e.g. --proxy=off)
// that asks for nothing raftkv lacks. Turning values into a ServerConfig is
// config.cc's job; reading --config-file is config_file.cc's.
#ifndef RAFTKV_CMD_RAFTKV_ETCD_FLAGS_H_
#define RAFTKV_CMD_RAFTKV_ETCD_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::cmd {

// How a value is checked when it is set (Go's flag.Value types in etcd).
enum class FlagKind {
  kString,
  kBool,      // Go's strconv.ParseBool; a bare --flag means true
  kUint,      // unsigned, 64-bit, Go's base prefixes (0x, 0o, 0b, leading 0)
  kUint32,    // same, at most 2^32-1
  kInt,       // signed, 64-bit
  kDuration,  // Go's time.ParseDuration: "100ms", "1h30m", "0"
  kUrls,      // comma-separated etcd URLs (http, https, unix, unixs)
  kStrings,   // comma-separated list
};

enum class FlagSupport {
  kAccepted,  // has a meaning in raftkv (FlagSpec::note says which)
  kRefused,   // error at start unless the value is neutral
  kLegacy,    // in etcd's own list of flags it warns about and ignores
  kAction,    // --help, --version, --config-file, --raftkv-check-config
};

struct FlagSpec {
  const char* name;  // etcd's spelling, with dashes
  FlagKind kind;
  // The value when the flag is not given. For accepted flags raftkv's own
  // default; for refused ones etcd's.
  const char* default_value;
  FlagSupport support;
  // Accepted: what the flag does in raftkv. Refused: why it cannot apply.
  const char* note;
  // Refused flags only: values besides the default that are accepted
  // because they ask for what raftkv does anyway ('|'-separated).
  const char* neutral = "";
  bool etcd = true;  // false for raftkv's own flags
};

// Every flag, in etcd's --help order, then raftkv's own.
const std::vector<FlagSpec>& AllFlags();
// nullptr if `name` is no flag.
const FlagSpec* FindFlag(absl::string_view name);

// Checks `value` against `spec.kind`; the error says what was expected.
absl::Status CheckValue(const FlagSpec& spec, const std::string& value);

// Where each flag's value came from, for errors that name it.
// Invariant: every name is a FindFlag() name; every value passed CheckValue.
class FlagValues {
 public:
  // REQUIRES: FindFlag(name) != nullptr.
  void Set(const std::string& name, std::string value, std::string origin);
  bool IsSet(absl::string_view name) const;
  // The value set, or the flag's default.
  std::string Get(absl::string_view name) const;
  // "--name", "ETCD_NAME" or "file.yml: key name"; "--name" when unset.
  std::string Origin(absl::string_view name) const;
  std::vector<std::string> Names() const;  // the names set, sorted

 private:
  struct Entry {
    std::string value;
    std::string origin;
  };
  std::map<std::string, Entry, std::less<>> values_;
};

// A command line split into its parts.
struct CommandLine {
  FlagValues flags;  // every flag given (legacy ones excluded)
  bool help = false;
  bool version = false;
  bool check_config = false;          // --raftkv-check-config
  std::string config_file;            // --config-file
  std::vector<std::string> warnings;  // e.g. legacy flags, ignored
};

// Parses args (without argv[0]) as Go's flag package does: "-f" and "--f"
// alike; "-f=v" or "-f v", except booleans, which take only "-f" or
// "-f=v"; parsing stops at "--" or the first non-flag, and, as etcd, any
// argument left over is an error. Errors read as Go's ("flag provided but
// not defined: -foo", "invalid value "x" for flag -election-timeout: ...").
absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& args);

// Layers ETCD_* variables (`environ` as "KEY=VALUE") under `flags`, as
// etcd's pkg/flags: ETCD_ + upper-case name with '_' for '-' sets a flag
// not given on the command line (a non-empty value only); a variable whose
// flag IS on the command line is an error ("conflicting environment
// variable ... is shadowed"), as etcd 3.4 exits on it; an unknown ETCD_*
// variable is a warning. Log lines go to `log`.
absl::Status ApplyEnvironment(const std::vector<std::string>& environ,
                              FlagValues* flags, std::vector<std::string>* log);

// "ETCD_LISTEN_CLIENT_URLS" for "listen-client-urls".
std::string EnvName(absl::string_view flag);

// Refused flags given a value that is not neutral: the first one, as an
// error naming its origin and why raftkv cannot honour it.
absl::Status CheckRefused(const FlagValues& flags);

// `raftkv --help`: every flag with its default and note.
std::string HelpText();

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_ETCD_FLAGS_H_
