// Printer; see printer.h.
#include "cmd/raftkvctl/printer.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"

namespace raftkv::ctl {

bool Printer::JsonOrSimple() {
  if (format_ == "json") return true;
  if (format_ != "simple") {
    ExitWithError(kExitBadFeature, format_ + " not supported as output format");
  }
  return false;
}

void Printer::PrintKV(const mvccpb::KeyValue& kv, bool value_only) {
  if (!value_only) {
    std::cout << (hex_ ? HexEscaped(kv.key()) : kv.key()) << "\n";
  }
  std::cout << (hex_ ? HexEscaped(kv.value()) : kv.value()) << "\n";
}

void Printer::Get(const etcdserverpb::RangeResponse& r, bool value_only) {
  if (JsonOrSimple()) {
    std::cout << GoJson(r) << "\n";
    return;
  }
  for (const auto& kv : r.kvs()) PrintKV(kv, value_only);
}

void Printer::Put(const etcdserverpb::PutResponse& r) {
  if (JsonOrSimple()) {
    std::cout << GoJson(r) << "\n";
    return;
  }
  std::cout << "OK\n";
  if (r.has_prev_kv()) PrintKV(r.prev_kv(), false);
}

void Printer::Del(const etcdserverpb::DeleteRangeResponse& r) {
  if (JsonOrSimple()) {
    std::cout << GoJson(r) << "\n";
    return;
  }
  std::cout << r.deleted() << "\n";
  for (const auto& kv : r.prev_kvs()) PrintKV(kv, false);
}

void Printer::Txn(const etcdserverpb::TxnResponse& r) {
  if (JsonOrSimple()) {
    std::cout << GoJson(r) << "\n";
    return;
  }
  std::cout << (r.succeeded() ? "SUCCESS" : "FAILURE") << "\n";
  for (const auto& op : r.responses()) {
    std::cout << "\n";
    switch (op.response_case()) {
      case etcdserverpb::ResponseOp::kResponseDeleteRange:
        Del(op.response_delete_range());
        break;
      case etcdserverpb::ResponseOp::kResponsePut:
        Put(op.response_put());
        break;
      case etcdserverpb::ResponseOp::kResponseRange:
        Get(op.response_range());
        break;
      default:
        std::cout << "unexpected response " << op.ShortDebugString() << "\n";
    }
  }
}

namespace {

// printer.go makeMemberListTable.
std::vector<std::vector<std::string>> MemberRows(
    const etcdserverpb::MemberListResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : r.members()) {
    rows.push_back({absl::StrFormat("%x", m.id()),
                    m.name().empty() ? "unstarted" : "started", m.name(),
                    absl::StrJoin(m.peerurls(), ","),
                    absl::StrJoin(m.clienturls(), ","),
                    m.islearner() ? "true" : "false"});
  }
  return rows;
}

// printer.go makeEndpointStatusTable.
std::vector<std::vector<std::string>> StatusRows(
    const std::vector<EndpointStatus>& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [ep, s] : list) {
    rows.push_back(
        {ep, absl::StrFormat("%x", s.header().member_id()), s.version(),
         HumanizeBytes(static_cast<uint64_t>(s.dbsize())),
         s.leader() == s.header().member_id() ? "true" : "false",
         s.islearner() ? "true" : "false", absl::StrCat(s.raftterm()),
         absl::StrCat(s.raftindex()), absl::StrCat(s.raftappliedindex()),
         absl::StrJoin(s.errors(), ", ")});
  }
  return rows;
}

void PrintRows(const std::vector<std::vector<std::string>>& rows) {
  for (const auto& row : rows) std::cout << absl::StrJoin(row, ", ") << "\n";
}

}  // namespace

void Printer::MemberList(const etcdserverpb::MemberListResponse& r) {
  if (format_ == "table") {
    std::cout << RenderTable(
        {"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"},
        MemberRows(r));
  } else if (JsonOrSimple()) {
    std::cout << GoJson(r) << "\n";
  } else {
    PrintRows(MemberRows(r));
  }
}

void Printer::EndpointStatusList(const std::vector<EndpointStatus>& list) {
  if (format_ == "table") {
    std::cout << RenderTable(
        {"endpoint", "ID", "version", "db size", "is leader", "is learner",
         "raft term", "raft index", "raft applied index", "errors"},
        StatusRows(list));
  } else if (JsonOrSimple()) {
    std::vector<std::string> items;
    for (const auto& [ep, s] : list) {
      items.push_back(absl::StrCat("{\"Endpoint\":", GoJsonString(ep),
                                   ",\"Status\":", GoJson(s), "}"));
    }
    std::cout << "[" << absl::StrJoin(items, ",") << "]\n";
  } else {
    PrintRows(StatusRows(list));
  }
}

void Printer::EndpointHealthList(const std::vector<EndpointHealth>& list) {
  if (format_ == "table") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : list) {
      rows.push_back(
          {h.endpoint, h.health ? "true" : "false", h.took, h.error});
    }
    std::cout << RenderTable({"endpoint", "health", "took", "error"}, rows);
  } else if (JsonOrSimple()) {
    std::vector<std::string> items;
    for (const auto& h : list) {
      std::string item =
          absl::StrCat("{\"endpoint\":", GoJsonString(h.endpoint),
                       ",\"health\":", h.health ? "true" : "false",
                       ",\"took\":", GoJsonString(h.took));
      if (!h.error.empty()) {
        absl::StrAppend(&item, ",\"error\":", GoJsonString(h.error));
      }
      items.push_back(item + "}");
    }
    std::cout << "[" << absl::StrJoin(items, ",") << "]\n";
  } else {
    for (const auto& h : list) {
      if (h.error.empty()) {
        std::cerr << h.endpoint
                  << " is healthy: successfully committed proposal: took = "
                  << h.took << "\n";
      } else {
        std::cerr << h.endpoint
                  << " is unhealthy: failed to commit proposal: " << h.error
                  << "\n";
      }
    }
  }
}

}  // namespace raftkv::ctl
