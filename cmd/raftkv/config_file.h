// --config-file: etcd 3.4's YAML configuration file (the keys of its
// embed.Config and the v2 proxy's, which are the flag names, plus the
// nested client-transport-security / peer-transport-security maps), read
// into the same FlagValues the command line fills, so one set of rules
// (config.cc) turns either into a ServerConfig.
#ifndef RAFTKV_CMD_RAFTKV_CONFIG_FILE_H_
#define RAFTKV_CMD_RAFTKV_CONFIG_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cmd/raftkv/etcd_flags.h"

namespace raftkv::cmd {

// Reads `path`. As etcd: a key whose value is null (`data-dir:`) keeps the
// default; a key etcd does not know is ignored, with a line in `log`
// naming file and key (etcd ignores it silently). Durations are integers
// in nanoseconds (Go's JSON form of time.Duration, what etcd takes) or,
// beyond etcd, strings like "5s". Errors name the file and the key (or the
// line, for YAML syntax), e.g. `etcd.yml: key "heartbeat-interval":
// invalid value "x": not an unsigned integer`.
absl::StatusOr<FlagValues> ReadConfigFile(const std::string& path,
                                          std::vector<std::string>* log);

}  // namespace raftkv::cmd

#endif  // RAFTKV_CMD_RAFTKV_CONFIG_FILE_H_
