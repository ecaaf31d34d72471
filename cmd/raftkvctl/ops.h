// Building Range/Put/DeleteRange requests from "get"/"put"/"del" arguments,
// shared by those commands and by "txn", whose lines use the same syntax
// (etcdctl's getGetOp, getPutOp and getDelOp). Bad arguments end the run
// with etcdctl's message and exit code.
#ifndef RAFTKV_CMD_RAFTKVCTL_OPS_H_
#define RAFTKV_CMD_RAFTKVCTL_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cmd/raftkvctl/flags.h"
#include "rpc/rpc.pb.h"

namespace raftkv::ctl {

struct GetFlags {
  std::string consistency = "l";
  std::string order;
  std::string sort_by;
  int64_t limit = 0;
  bool prefix = false;
  bool from_key = false;
  int64_t rev = 0;
  bool keys_only = false;
  bool count_only = false;
  bool print_value_only = false;
  void Register(FlagSet& flags);
};

struct PutFlags {
  std::string lease = "0";
  bool prev_kv = false;
  bool ignore_value = false;
  bool ignore_lease = false;
  void Register(FlagSet& flags);
};

struct DelFlags {
  bool prefix = false;
  bool prev_kv = false;
  bool from_key = false;
  void Register(FlagSet& flags);
};

etcdserverpb::RangeRequest BuildRange(const GetFlags& flags,
                                      const std::vector<std::string>& args);
// Reads the value from stdin when it is not an argument (put only; in a txn
// the value must be given).
etcdserverpb::PutRequest BuildPut(const PutFlags& flags,
                                  const std::vector<std::string>& args,
                                  bool allow_stdin);
etcdserverpb::DeleteRangeRequest BuildDel(const DelFlags& flags,
                                          const std::vector<std::string>& args);

}  // namespace raftkv::ctl

#endif  // RAFTKV_CMD_RAFTKVCTL_OPS_H_
