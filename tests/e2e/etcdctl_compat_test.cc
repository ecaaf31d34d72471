// Bar 1 of issue 4: Debian's etcdctl against a 3-member raftkv cluster gives
// the same output as against a 3-member etcd 3.4 cluster, and raftkvctl
// against raftkv gives that output too.
//
// Both clusters are started by the same harness with the same flags (names
// m1..m3, default Raft timings), leadership is moved to m1 in both (so "IS
// LEADER" columns agree), and then the command script of tests/rpc
// (CtlCompatCases) plus a few cluster-wide commands runs against each. The
// normalisation (CompatNormalizer) replaces only what legitimately differs
// between two clusters, each rule explicit:
//   - member and cluster IDs (hashes of different inputs) -> <id:mN>, <cluster>
//   - the members' ports -> <client:mN>, <peer:mN>
//   - raft term, raft index and applied index (etcd's bootstrap writes more
//     entries) -> <term>, <index>
//   - db size (bbolt file vs LevelDB files) -> <size>
//   - the patch level of the claimed version (3.4.23 vs 3.4.0) -> 3.4.x
//   - the order of member list rows (sorted by ID, i.e. by hash) -> by name
// Revisions are not normalised: both stores start at revision 1.
#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_ctl_cases.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::CtlCase;
using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

// Cluster-wide commands on top of the shared script; "{all}" is every
// member's endpoint. Only "endpoint status" (one call per endpoint, printed
// in endpoint order): for any other command etcdctl's balancer picks the
// member that answers, so header.member_id would differ from run to run.
const std::vector<CtlCase>& ClusterCases() {
  static const std::vector<CtlCase>* cases = new std::vector<CtlCase>{
      {{"--endpoints={all}", "endpoint", "status"}},
      {{"--endpoints={all}", "endpoint", "status", "-w", "json"}},
      {{"--endpoints={all}", "endpoint", "status", "-w", "table"}},
  };
  return *cases;
}

// Replaces one cluster's identities, ports and counters by placeholders.
class CompatNormalizer {
 public:
  explicit CompatNormalizer(ProcessCluster& cluster) {
    for (int i = 0; i < cluster.size(); ++i) {
      auto s = cluster.Status(i, absl::Seconds(5));
      EXPECT_TRUE(s.ok()) << s.status();
      if (!s.ok()) continue;
      const std::string tag = cluster.name(i);
      const uint64_t id = s->header().member_id();
      replacements_.push_back({absl::StrCat(id), "<id:" + tag + ">"});
      replacements_.push_back({Hex(id), "<id:" + tag + ">"});
      replacements_.push_back(
          {absl::StrCat(s->header().cluster_id()), "<cluster>"});
      replacements_.push_back({Hex(s->header().cluster_id()), "<cluster>"});
      replacements_.push_back(
          {cluster.client_endpoint(i), "<client:" + tag + ">"});
      replacements_.push_back({cluster.peer_endpoint(i), "<peer:" + tag + ">"});
    }
  }

  std::string operator()(const std::string& text) const {
    std::string s = raftkv::testing::NormalizeCtlOutput(text);
    s = absl::StrReplaceAll(s, replacements_);
    static const std::vector<std::pair<
        std::regex,
        std::string>>* rules = new std::vector<std::pair<std::regex,
                                                         std::string>>{
        // JSON fields.
        {std::regex(R"(("raft_term"|"raftTerm"):\d+)"), "$1:<term>"},
        {std::regex(R"(("raftIndex"|"raftAppliedIndex"):\d+)"), "$1:<index>"},
        {std::regex(R"("version":"3\.4\.\d+")"), R"("version":"3.4.x")"},
        // endpoint status, simple and table: "version, size, leader,
        // learner, term, index, applied".
        {std::regex(
             R"(3\.4\.\d+( *[,|] *)<size>( *[,|] *)(true|false)( *[,|] *)(true|false)( *[,|] *)\d+( *[,|] *)\d+( *[,|] *)\d+)"),
         "3.4.x$1<size>$2$3$4$5$6<term>$7<index>$8<index>"},
    };
    for (const auto& [re, with] : *rules) s = std::regex_replace(s, re, with);
    // Table columns are as wide as their widest cell, which the placeholders
    // change; compare tables with runs of padding collapsed.
    static const std::regex kPadding(R"(( |-)\1+)");
    return SortMembers(std::regex_replace(s, kPadding, "$1"));
  }

 private:
  static std::string Hex(uint64_t v) { return absl::StrFormat("%x", v); }

  // Both servers list members sorted by ID, and IDs are hashes of different
  // inputs, so the order differs: member list rows (simple and table
  // lines, JSON "members" entries) are put in name order.
  static std::string SortMembers(const std::string& text) {
    std::vector<std::string> lines = absl::StrSplit(text, '\n');
    auto is_row = [](const std::string& l) {
      return absl::StartsWith(l, "<id:") || absl::StartsWith(l, "| <id:");
    };
    for (size_t i = 0; i < lines.size();) {
      size_t j = i;
      while (j < lines.size() && is_row(lines[j])) ++j;
      // Rows read "<id:mN>, started, mN, ..." or "| <id:mN> | ...": the ID
      // placeholder carries the name, so sorting the rows orders by name.
      std::sort(lines.begin() + i, lines.begin() + j);
      i = j == i ? i + 1 : j;
    }
    std::string out = absl::StrJoin(lines, "\n");
    static const std::regex kMembers(R"("members":\[\{(.*?)\}\]\})");
    std::smatch m;
    if (std::regex_search(out, m, kMembers)) {
      std::vector<std::string> entries = absl::StrSplit(m[1].str(), "},{");
      std::sort(entries.begin(), entries.end());
      out =
          absl::StrCat(m.prefix().str(), "\"members\":[{",
                       absl::StrJoin(entries, "},{"), "}]}", m.suffix().str());
    }
    return out;
  }
  std::vector<std::pair<std::string, std::string>> replacements_;
};

struct ScriptRun {
  std::vector<RunResult> results;
  std::vector<std::string> commands;
};

// Starts a 3-member cluster of `binary`, moves leadership to m1 and runs
// every case with `ctl`; outputs are normalised before the cluster stops.
ScriptRun RunScript(const std::string& binary, const std::string& ctl,
                    const std::string& dead) {
  ClusterOptions options;
  options.binary = binary;
  options.heartbeat_ms = 0;  // default timings: no spurious elections
  options.election_ms = 0;
  ProcessCluster cluster(options);
  ScriptRun run;
  absl::Status started = cluster.Start(absl::Seconds(60));
  EXPECT_TRUE(started.ok()) << binary << ": " << started;
  if (!started.ok()) return run;
  // Leadership to m1, so both clusters agree on who leads.
  const uint64_t m1 = cluster.MemberId(0);
  RunResult moved = RunProgram(
      {"etcdctl",
       "--endpoints=" + absl::StrJoin(cluster.client_endpoints(), ","),
       "move-leader", absl::StrFormat("%x", m1)},
      "", {"ETCDCTL_API=3"});
  auto leader = cluster.WaitForLeader(absl::Seconds(20));
  EXPECT_TRUE(leader.ok() && *leader == 0)
      << binary << ": move-leader: " << moved.out << moved.err;
  if (!leader.ok() || *leader != 0) return run;

  CompatNormalizer normalize(cluster);
  const std::string all = absl::StrJoin(cluster.client_endpoints(), ",");
  std::vector<CtlCase> cases = raftkv::testing::CtlCompatCases();
  for (const CtlCase& c : ClusterCases()) cases.push_back(c);
  for (const CtlCase& c : cases) {
    std::vector<std::string> argv = {ctl};
    for (std::string& a :
         raftkv::testing::ExpandCtlArgs(c, cluster.client_endpoint(0), dead)) {
      argv.push_back(absl::StrReplaceAll(a, {{"{all}", all}}));
    }
    RunResult r = RunProgram(argv, c.input, {"ETCDCTL_API=3"});
    r.out = normalize(r.out);
    r.err = normalize(r.err);
    run.results.push_back(std::move(r));
    run.commands.push_back(absl::StrJoin(c.args, " "));
  }
  return run;
}

void ExpectSameOutput(const ScriptRun& want, const ScriptRun& got,
                      const std::string& what) {
  ASSERT_EQ(want.results.size(), got.results.size());
  for (size_t i = 0; i < want.results.size(); ++i) {
    SCOPED_TRACE(absl::StrCat(what, ": case ", i, ": ", want.commands[i]));
    EXPECT_EQ(got.results[i].out, want.results[i].out);
    EXPECT_EQ(got.results[i].err, want.results[i].err);
    EXPECT_EQ(got.results[i].exit_code, want.results[i].exit_code);
  }
}

TEST(EtcdctlCompatTest, ThreeMemberRaftkvMatchesEtcd) {
  if (!raftkv::testing::HaveProgram("etcd") ||
      !raftkv::testing::HaveProgram("etcdctl")) {
    GTEST_SKIP() << "etcd/etcdctl not installed (scripts/install-deps.sh)";
  }
  const std::string dead =
      "127.0.0.1:" + std::to_string(raftkv::testing::FreeLoopbackPort());
  const ScriptRun etcd = RunScript("etcd", "etcdctl", dead);
  ASSERT_FALSE(etcd.results.empty());
  // Guard against comparing two equally broken runs.
  int succeeded_with_output = 0;
  for (const RunResult& r : etcd.results) {
    succeeded_with_output += r.exit_code == 0 && !r.out.empty();
  }
  EXPECT_GE(succeeded_with_output, 50);

  const ScriptRun with_etcdctl = RunScript(RAFTKV_PATH, "etcdctl", dead);
  ExpectSameOutput(etcd, with_etcdctl, "etcdctl against raftkv");
  const ScriptRun with_raftkvctl = RunScript(RAFTKV_PATH, RAFTKVCTL_PATH, dead);
  ExpectSameOutput(etcd, with_raftkvctl, "raftkvctl against raftkv");
}

}  // namespace
}  // namespace raftkv::e2e
