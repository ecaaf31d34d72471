// Issue 6's bar, points 1, 2, 3 and 5, on 3 real raftkv processes
// (heartbeat 50 ms, election timeout 500 ms; minimum TTL therefore 1 s).
// Point 4 (mass expiry) is lease_mass_expiry_test.cc. docs/leases.md lists
// what each test proves.
//
// Time is the subject of these tests, so some waits are "let T pass"; every
// assertion about time has a margin of at least 1 s for a loaded machine,
// and every other wait polls a condition with a deadline.
#include <algorithm>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/lease_util.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

constexpr absl::Duration kElection = absl::Milliseconds(500);

std::unique_ptr<ProcessCluster> StartCluster(
    std::vector<std::string> extra_flags = {},
    std::string binary = RAFTKV_PATH) {
  ClusterOptions options;
  options.binary = std::move(binary);
  options.extra_flags = std::move(extra_flags);
  auto cluster = std::make_unique<ProcessCluster>(options);
  absl::Status s = cluster->Start();
  EXPECT_TRUE(s.ok()) << s << "\n" << cluster->Logs();
  if (!s.ok()) return nullptr;
  return cluster;
}

// ---------------------------------------------------------------------------
// Bar 1: etcdctl's lease commands behave as against etcd.

// The script; "{id}" is the lease granted by the first command, "{all}" every
// endpoint. Outputs are compared after LeaseNormalize.
const std::vector<std::vector<std::string>>& LeaseScript() {
  static const auto* script = new std::vector<std::vector<std::string>>{
      {"lease", "grant", "60"},
      {"put", "--lease={id}", "svc/a", "1"},
      {"put", "--lease={id}", "svc/b", "2"},
      {"put", "plain", "3"},
      {"lease", "timetolive", "{id}"},
      {"lease", "timetolive", "{id}", "--keys"},
      {"lease", "timetolive", "{id}", "--keys", "-w", "json"},
      {"lease", "list"},
      {"lease", "list", "-w", "json"},
      {"lease", "keep-alive", "--once", "{id}"},
      {"lease", "keep-alive", "--once", "{id}", "-w", "json"},
      {"get", "svc/", "--prefix", "-w", "json"},
      {"put", "--lease=1234abcd", "svc/c", "x"},
      {"put", "--lease=zz", "svc/c", "x"},
      {"lease", "grant", "9000000001"},
      {"lease", "grant", "abc"},
      {"lease", "grant"},
      {"lease", "timetolive", "nothex"},
      {"lease", "revoke", "{id}"},
      {"get", "", "--prefix"},
      {"get", "", "--prefix", "-w", "json"},
      {"lease", "timetolive", "{id}"},
      {"lease", "timetolive", "{id}", "-w", "json"},
      {"lease", "keep-alive", "--once", "{id}"},
      {"lease", "revoke", "{id}"},
      {"lease", "list"},
      {"lease", "grant", "1", "-w", "json"},
      {"lease", "revoke", "{id2}", "-w", "json"},
  };
  return *script;
}

// Replaces what differs between two clusters or two runs: IDs, terms,
// member/cluster IDs, the lease IDs, and raft_term.
// etcd lists a lease's keys in Go map order (random): sort every list of
// keys ("attached keys([a b])" and "keys":["..",".."]) before comparing.
std::string SortKeyLists(const std::string& s) {
  std::string out;
  std::smatch m;
  std::string rest = s;
  const std::regex list(R"((attached keys\(\[|"keys":\[)([^\]]*)\])");
  while (std::regex_search(rest, m, list)) {
    const bool json = m[1].str()[0] == '"';
    std::vector<std::string> items =
        absl::StrSplit(m[2].str(), json ? "," : " ", absl::SkipEmpty());
    std::sort(items.begin(), items.end());
    out += m.prefix().str() + m[1].str() +
           absl::StrJoin(items, json ? "," : " ") + "]";
    rest = m.suffix().str();
  }
  return out + rest;
}

std::string LeaseNormalize(std::string s, int64_t id, int64_t id2) {
  s = SortKeyLists(s);
  if (id != 0) {
    s = std::regex_replace(s, std::regex(absl::StrFormat("%016x", id)),
                           "<lease>");
    // etcdctl prints IDs without leading zeros.
    s = std::regex_replace(s, std::regex(absl::StrFormat("%x", id)), "<lease>");
    s = std::regex_replace(s, std::regex(absl::StrCat(id)), "<lease>");
  }
  if (id2 != 0) {
    s = std::regex_replace(s, std::regex(absl::StrFormat("%016x", id2)),
                           "<lease2>");
    // etcdctl prints IDs without leading zeros.
    s = std::regex_replace(s, std::regex(absl::StrFormat("%x", id2)),
                           "<lease2>");
    s = std::regex_replace(s, std::regex(absl::StrCat(id2)), "<lease2>");
  }
  for (const char* field : {"cluster_id", "member_id", "raft_term"}) {
    s = std::regex_replace(s,
                           std::regex(absl::StrCat("\"", field, "\":[0-9]+")),
                           absl::StrCat("\"", field, "\":<n>"));
  }
  // clientv3's JSON log lines on stderr.
  s = std::regex_replace(s, std::regex("\\{\"level\":[^\\n]*\\n"), "");
  // A remaining TTL is a clock reading: 50..60 s shortly after a 60 s grant
  // depending on scheduling and load (and on a new leader's election
  // extension), so only "near the granted TTL" is comparable; granted TTLs
  // stay exact.
  s = std::regex_replace(s, std::regex("remaining\\((5[0-9]|60)s\\)"),
                         "remaining(<~60>s)");
  s = std::regex_replace(s, std::regex("\"ttl\":(5[0-9]|60),"),
                         "\"ttl\":<~60>,");
  return s;
}

struct ScriptRun {
  std::vector<std::string> outputs;  // normalised, one per command
};

// Runs the script with `ctl` against `endpoints`.
ScriptRun RunLeaseScript(const std::string& ctl, const std::string& endpoints) {
  ScriptRun run;
  int64_t id = 0;
  int64_t id2 = 0;
  for (const auto& args : LeaseScript()) {
    std::vector<std::string> argv = {ctl, "--endpoints=" + endpoints};
    std::string joined;
    for (std::string a : args) {
      a = std::regex_replace(a, std::regex("\\{id\\}"),
                             absl::StrFormat("%x", id));
      a = std::regex_replace(a, std::regex("\\{id2\\}"),
                             absl::StrFormat("%x", id2));
      argv.push_back(a);
      absl::StrAppend(&joined, " ", a);
    }
    RunResult r = RunProgram(argv, "", {"ETCDCTL_API=3"});
    // Learn the lease IDs from "lease <hex> granted" / {"ID":n}.
    std::smatch m;
    if (std::regex_search(r.out, m,
                          std::regex("lease ([0-9a-f]{16}) granted"))) {
      (id == 0 ? id : id2) = std::stoll(m[1], nullptr, 16);
    } else if (std::regex_search(
                   r.out, m,
                   std::regex("\"ID\":([0-9]+),\"TTL\":[0-9]+,\"Error\""))) {
      (id == 0 ? id : id2) = std::stoll(m[1]);
    }
    // The echoed command names the lease IDs too, which differ per run.
    run.outputs.push_back(absl::StrCat(
        "$", LeaseNormalize(joined, id, id2), "\n",
        LeaseNormalize(r.out, id, id2), "stderr: ",
        LeaseNormalize(r.err, id, id2), "exit: ", r.exit_code, "\n"));
  }
  return run;
}

TEST(LeaseEtcdctl, EtcdctlAndRaftkvctlBehaveAsAgainstEtcd) {
  if (!raftkv::testing::HaveProgram("etcdctl")) GTEST_SKIP() << "no etcdctl";
  std::unique_ptr<ProcessCluster> raftkv = StartCluster();
  ASSERT_NE(raftkv, nullptr);
  const std::string rk_eps = raftkv->client_endpoint(0);
  ScriptRun rk_etcdctl = RunLeaseScript("etcdctl", rk_eps);

  // raftkvctl against raftkv: same script, same outputs as etcdctl. The
  // cluster's revision moved on, so revisions are compared after
  // normalising them too.
  ScriptRun rk_ctl = RunLeaseScript(RAFTKVCTL_PATH, rk_eps);
  auto no_rev = [](const std::string& s) {
    std::string out = std::regex_replace(s, std::regex("\"revision\":[0-9]+"),
                                         "\"revision\":<rev>");
    out =
        std::regex_replace(out, std::regex("\"(create|mod)_revision\":[0-9]+"),
                           "\"$1_revision\":<rev>");
    // The second run finds the first run's keys: versions moved on too
    // (they are compared exactly against etcd below, on fresh clusters).
    out = std::regex_replace(out, std::regex("\"version\":[0-9]+"),
                             "\"version\":<n>");
    return std::regex_replace(out, std::regex(RAFTKVCTL_PATH), "etcdctl");
  };
  for (size_t i = 0; i < LeaseScript().size(); ++i) {
    EXPECT_EQ(no_rev(rk_ctl.outputs[i]), no_rev(rk_etcdctl.outputs[i]));
  }

  if (!raftkv::testing::HaveProgram("etcd")) {
    for (const auto& o : rk_etcdctl.outputs) std::printf("%s", o.c_str());
    GTEST_SKIP() << "no etcd: compared raftkvctl with etcdctl only";
  }
  std::unique_ptr<ProcessCluster> etcd = StartCluster({}, "etcd");
  ASSERT_NE(etcd, nullptr);
  ScriptRun etcd_run = RunLeaseScript("etcdctl", etcd->client_endpoint(0));
  for (size_t i = 0; i < LeaseScript().size(); ++i) {
    EXPECT_EQ(rk_etcdctl.outputs[i], etcd_run.outputs[i]);
  }
}

// The continuous `lease keep-alive` of etcdctl and of raftkvctl: renewals
// are printed until the lease is revoked, then "expired or revoked".
TEST(LeaseEtcdctl, KeepAliveRunsUntilRevoked) {
  std::unique_ptr<ProcessCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto c = cluster->ClientOfAll();
  raftkv::testing::TempDir dir;
  std::vector<std::string> ctls = {RAFTKVCTL_PATH};
  if (raftkv::testing::HaveProgram("etcdctl")) ctls.push_back("etcdctl");
  for (const std::string& ctl : ctls) {
    auto id = GrantLease(*c, 3);
    ASSERT_TRUE(id.ok()) << id.status();
    const std::string hex = absl::StrFormat("%016x", *id);
    BackgroundProcess ka({ctl, "--endpoints=" + cluster->client_endpoint(1),
                          "lease", "keep-alive", absl::StrFormat("%x", *id)},
                         dir.path() + "/ka.log");
    // TTL 3: renewals every second; wait for three.
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string out = ka.Output();
          size_t n = 0;
          for (size_t p = 0;
               (p = out.find("keepalived", p)) != std::string::npos; ++p) {
            ++n;
          }
          return n >= 3;
        },
        absl::Seconds(15)))
        << ctl << ": " << ka.Output();
    ASSERT_TRUE(RevokeLease(*c, *id).ok());
    ASSERT_TRUE(WaitFor([&] { return !ka.running(); }, absl::Seconds(15)))
        << ctl << ": " << ka.Output();
    EXPECT_TRUE(absl::StrContains(
        ka.Output(), absl::StrCat("lease ", hex, " keepalived with TTL(3)")))
        << ka.Output();
    EXPECT_TRUE(absl::StrContains(
        ka.Output(), absl::StrCat("lease ", hex, " expired or revoked.")))
        << ka.Output();
    std::remove((dir.path() + "/ka.log").c_str());
  }
}

// ---------------------------------------------------------------------------
// Bar 2: expiry within TTL + one election timeout; one revision; watchers
// see the deletes.

TEST(LeaseExpiry, ExpiresWithinTtlPlusElectionTimeoutInOneRevision) {
  std::unique_ptr<ProcessCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto leader = cluster->WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int follower = (*leader + 1) % 3;
  auto c = cluster->ClientOfAll();
  auto follower_client = cluster->ClientOf(follower);
  auto leader_client = cluster->ClientOf(*leader);

  // Watchers on a follower and on the leader.
  PrefixWatcher w1(*follower_client, -1, "svc/");
  PrefixWatcher w2(*leader_client, -1, "svc/");
  absl::Status ws = w1.Start();
  const bool watch_available = !absl::IsUnimplemented(ws);
  if (watch_available) {
    ASSERT_TRUE(ws.ok()) << ws;
    ASSERT_TRUE(w2.Start().ok());
  }

  constexpr int64_t kTtl = 2;
  auto id = GrantLease(*c, kTtl);
  const absl::Time granted = absl::Now();
  ASSERT_TRUE(id.ok()) << id.status();
  for (const char* k : {"svc/a", "svc/b", "svc/c"}) {
    ASSERT_TRUE(PutWithLease(*c, k, "up", *id).ok());
  }
  auto before = ReadPrefix(*c, "svc/");
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->kvs.size(), 3u);

  absl::Time gone;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = ReadPrefix(*c, "svc/");
        if (!r.ok() || !r->kvs.empty()) return false;
        gone = absl::Now();
        return true;
      },
      absl::Seconds(30), absl::Milliseconds(10)));
  const absl::Duration took = gone - granted;
  std::printf("lease TTL %llds expired after %s (bound TTL + election = %s)\n",
              static_cast<long long>(kTtl), absl::FormatDuration(took).c_str(),
              absl::FormatDuration(absl::Seconds(kTtl) + kElection).c_str());
  EXPECT_GE(took, absl::Seconds(kTtl) - absl::Milliseconds(100));
  // TTL + one election timeout, plus 1 s for the revoke's round trip and
  // the polling on a loaded machine.
  EXPECT_LE(took, absl::Seconds(kTtl) + kElection + absl::Seconds(1));

  // One revision: nothing else wrote, so the revoke is revision+1, and the
  // three keys exist just before it.
  auto after = ReadPrefix(*c, "svc/");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->revision, before->revision + 1);
  etcdserverpb::RangeRequest at;
  at.set_key("svc/");
  at.set_range_end("svc0");
  at.set_revision(after->revision - 1);
  auto old = c->Range(at);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->kvs_size(), 3);
  auto ttl = LeaseTtl(*c, *id);
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->ttl(), -1);

  if (!watch_available) {
    // TODO(issue 5): remove once the Watch service exists.
    GTEST_SKIP() << "Watch service UNIMPLEMENTED: deletes checked through the "
                    "revision history only";
  }
  for (PrefixWatcher* w : {&w1, &w2}) {
    ASSERT_TRUE(w->WaitForEvents(6, absl::Seconds(10)));
    std::vector<mvccpb::Event> events = w->Events();
    ASSERT_EQ(events.size(), 6u);
    for (int i = 3; i < 6; ++i) {
      EXPECT_EQ(events[i].type(), mvccpb::Event::DELETE);
      EXPECT_EQ(events[i].kv().mod_revision(), after->revision);
    }
    EXPECT_EQ(events[3].kv().key(), "svc/a");
    EXPECT_EQ(events[5].kv().key(), "svc/c");
  }
}

// ---------------------------------------------------------------------------
// Bar 3: keep-alive through a follower; leader failover.

TEST(LeaseFailover, KeepAliveThroughFollowerSurvivesLeaderKill) {
  if (!raftkv::testing::HaveProgram("etcdctl")) GTEST_SKIP() << "no etcdctl";
  std::unique_ptr<ProcessCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto leader = cluster->WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok());
  const int f1 = (*leader + 1) % 3;
  const int f2 = (*leader + 2) % 3;
  auto c = cluster->ClientOfAll();
  raftkv::testing::TempDir dir;

  constexpr int64_t kTtl = 4;
  auto kept = GrantLease(*c, kTtl);
  auto owned = GrantLease(*c, kTtl);
  ASSERT_TRUE(kept.ok() && owned.ok());
  ASSERT_TRUE(PutWithLease(*c, "kept", "1", *kept).ok());
  ASSERT_TRUE(PutWithLease(*c, "owned", "1", *owned).ok());

  // Real clients keep both alive, each through a follower only.
  BackgroundProcess ka_kept(
      {"etcdctl", "--endpoints=" + cluster->client_endpoint(f1), "lease",
       "keep-alive", absl::StrFormat("%x", *kept)},
      dir.path() + "/kept.log");
  auto owner = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{
          "etcdctl", "--endpoints=" + cluster->client_endpoint(f2), "lease",
          "keep-alive", absl::StrFormat("%x", *owned)},
      dir.path() + "/owned.log");
  // Time passing is the point: 2 TTLs.
  absl::SleepFor(absl::Seconds(2 * kTtl));
  for (const char* k : {"kept", "owned"}) {
    auto e = KeyExists(*c, k);
    ASSERT_TRUE(e.ok() && *e) << k << "\n" << ka_kept.Output();
  }
  auto t = LeaseTtl(*c, *kept);
  ASSERT_TRUE(t.ok());
  EXPECT_GE(t->ttl(), 1);

  // The owner of `owned` stops; 2 s later (its lease then has about 2 s left
  // on the old leader) the leader dies.
  owner->Stop();
  absl::SleepFor(absl::Seconds(2));
  cluster->Kill(*leader);
  const absl::Time killed = absl::Now();
  auto new_leader = cluster->WaitForLeader(absl::Seconds(15), {f1, f2});
  ASSERT_TRUE(new_leader.ok()) << new_leader.status();
  const absl::Time elected = absl::Now();
  std::printf("new leader after %s\n",
              absl::FormatDuration(elected - killed).c_str());

  // `owned` lives on for the new leader's full TTL (+ extension): not
  // revoked at the old leader's remainder (killed + 2 s).
  auto c2 = cluster->ClientOfAll();
  absl::Time owned_gone = absl::InfiniteFuture();
  bool kept_lost = false;
  const absl::Time end =
      elected + absl::Seconds(kTtl) + kElection + absl::Seconds(6);
  while (absl::Now() < end) {
    auto o = KeyExists(*c2, "owned");
    if (o.ok() && !*o && owned_gone == absl::InfiniteFuture()) {
      owned_gone = absl::Now();
    }
    auto k = KeyExists(*c2, "kept");
    if (k.ok() && !*k) kept_lost = true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::printf(
      "owned lease revoked %s after the new leader was seen "
      "(TTL %llds + extension %s)\n",
      absl::FormatDuration(owned_gone - elected).c_str(),
      static_cast<long long>(kTtl), absl::FormatDuration(kElection).c_str());
  EXPECT_FALSE(kept_lost) << ka_kept.Output();
  EXPECT_TRUE(ka_kept.running()) << ka_kept.Output();
  EXPECT_FALSE(absl::StrContains(ka_kept.Output(), "expired or revoked"))
      << ka_kept.Output();
  ASSERT_NE(owned_gone, absl::InfiniteFuture()) << "owned lease never revoked";
  // Not early: the full TTL counted from the new leader's promotion (which
  // precedes our seeing it by at most a poll; 0.3 s slack for that).
  EXPECT_GE(owned_gone - elected,
            absl::Seconds(kTtl) - absl::Milliseconds(300));
  // Not late: TTL + extension + 1.5 s (revoke tick, Raft, polling, load).
  EXPECT_LE(owned_gone - elected,
            absl::Seconds(kTtl) + kElection + absl::Milliseconds(1500));
  auto kt = LeaseTtl(*c2, *kept);
  ASSERT_TRUE(kt.ok());
  EXPECT_GE(kt->ttl(), 1);
}

// ---------------------------------------------------------------------------
// Bar 5: restart of all members.

// Restarts every member (SIGKILL, then start on the same data) and returns
// once a leader is elected.
void RestartAll(ProcessCluster& cluster) {
  for (int i = 0; i < cluster.size(); ++i) cluster.Kill(i);
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(cluster.StartMember(i).ok());
  }
  ASSERT_TRUE(cluster.WaitForLeader(absl::Seconds(30)).ok()) << cluster.Logs();
}

// Waits until a linearizable TimeToLive answers (the new leader promoted).
absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> TtlAfterRestart(
    ProcessCluster& cluster, int64_t id) {
  auto c = cluster.ClientOfAll();
  absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> r;
  WaitFor(
      [&] {
        r = LeaseTtl(*c, id, true);
        return r.ok();
      },
      absl::Seconds(20), absl::Milliseconds(50));
  return r;
}

TEST(LeaseRestart, RemainingTtlSurvivesFullRestartWithCheckpoints) {
  std::unique_ptr<ProcessCluster> cluster =
      StartCluster({"--lease-checkpoint-interval=1s"});
  ASSERT_NE(cluster, nullptr);
  auto c = cluster->ClientOfAll();
  constexpr int64_t kTtl = 30;
  auto id = GrantLease(*c, kTtl);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(PutWithLease(*c, "svc/x", "1", *id).ok());
  // Let 8 s of the TTL pass (checkpoints every second record it).
  absl::SleepFor(absl::Seconds(8));
  auto before = LeaseTtl(*c, *id);
  ASSERT_TRUE(before.ok());
  c.reset();
  RestartAll(*cluster);
  auto after = TtlAfterRestart(*cluster, *id);
  ASSERT_TRUE(after.ok()) << after.status();
  std::printf("checkpoint 1s: remaining %llds before restart, %llds after\n",
              static_cast<long long>(before->ttl()),
              static_cast<long long>(after->ttl()));
  EXPECT_EQ(after->grantedttl(), kTtl);
  // Remaining <= 22 s + 1 s (checkpoint age) + 0.5 s (extension), rounded,
  // and certainly not reset to 30.
  EXPECT_LE(after->ttl(), kTtl - 8 + 2);
  EXPECT_GE(after->ttl(), 10);
  ASSERT_EQ(after->keys_size(), 1);
  EXPECT_EQ(after->keys(0), "svc/x");
}

// With the default interval (5 min, as etcd) no checkpoint has been taken
// yet, so a full restart gives the lease its full TTL again (etcd's
// behaviour: a lease is never expired early, but may live longer).
TEST(LeaseRestart, DefaultIntervalResetsToFullTtlAfterRestart) {
  std::unique_ptr<ProcessCluster> cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  auto c = cluster->ClientOfAll();
  constexpr int64_t kTtl = 30;
  auto id = GrantLease(*c, kTtl);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(PutWithLease(*c, "svc/y", "1", *id).ok());
  absl::SleepFor(absl::Seconds(5));
  c.reset();
  RestartAll(*cluster);
  auto after = TtlAfterRestart(*cluster, *id);
  ASSERT_TRUE(after.ok()) << after.status();
  std::printf("default checkpoint interval: remaining %llds after restart\n",
              static_cast<long long>(after->ttl()));
  EXPECT_GE(after->ttl(), kTtl - 2);
  ASSERT_EQ(after->keys_size(), 1);
}

}  // namespace
}  // namespace raftkv::e2e
