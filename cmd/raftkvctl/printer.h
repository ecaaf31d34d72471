// Rendering of command results in etcdctl 3.4's formats (printer_simple.go,
// printer_json.go, printer_table.go): "simple", "json" and, for member and
// endpoint listings, "table". A format a command does not support ends the
// run with "Error: <format> not supported as output format" (exit 4), as
// etcdctl does.
#ifndef RAFTKV_CMD_RAFTKVCTL_PRINTER_H_
#define RAFTKV_CMD_RAFTKVCTL_PRINTER_H_

#include <string>
#include <utility>
#include <vector>

#include "rpc/rpc.pb.h"

namespace raftkv::ctl {

// One row of "endpoint health".
struct EndpointHealth {
  std::string endpoint;
  bool health = false;
  std::string took;
  std::string error;
};

// One row of "endpoint status".
struct EndpointStatus {
  std::string endpoint;
  etcdserverpb::StatusResponse status;
};

class Printer {
 public:
  Printer(std::string format, bool hex)
      : format_(std::move(format)), hex_(hex) {}

  // REQUIRES for value_only: the simple format (checked by the caller).
  void Get(const etcdserverpb::RangeResponse& r, bool value_only = false);
  void Put(const etcdserverpb::PutResponse& r);
  void Del(const etcdserverpb::DeleteRangeResponse& r);
  void Txn(const etcdserverpb::TxnResponse& r);
  void MemberList(const etcdserverpb::MemberListResponse& r);
  void EndpointStatusList(const std::vector<EndpointStatus>& list);
  // Simple format writes to stderr, like etcdctl.
  void EndpointHealthList(const std::vector<EndpointHealth>& list);

 private:
  // Exits unless the format is simple or json; returns true for json.
  bool JsonOrSimple();
  void PrintKV(const mvccpb::KeyValue& kv, bool value_only);

  std::string format_;
  bool hex_;
};

}  // namespace raftkv::ctl

#endif  // RAFTKV_CMD_RAFTKVCTL_PRINTER_H_
