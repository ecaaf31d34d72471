// Bar 4 of issue 4: stop one follower, write enough that the leader compacts
// its log (--snapshot-count 100 keeps min(5000, 100/2) = 50 catch-up
// entries), restart the follower: it catches up through a snapshot — the
// leader's raftkv_snapshots_sent_total and the follower's
// raftkv_snapshots_received_total on /metrics go up — and then every member
// returns identical data at the same revision.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

// Key, value and the per-key revisions, for comparing members.
std::string Describe(const mvccpb::KeyValue& kv) {
  return absl::StrCat(kv.key(), "=", kv.value(), " c", kv.create_revision(),
                      " m", kv.mod_revision(), " v", kv.version());
}

// Each member's raft status and snapshot counters, for failure messages.
std::string Diagnose(ProcessCluster& cluster) {
  std::string out;
  for (int i = 0; i < cluster.size(); ++i) {
    auto s = cluster.Status(i);
    absl::StrAppend(
        &out, cluster.name(i), ": ",
        s.ok() ? absl::StrCat("leader=", s->leader(), " term=", s->raftterm(),
                              " index=", s->raftindex(),
                              " applied=", s->raftappliedindex(),
                              " revision=", s->header().revision())
               : s.status().ToString(),
        " sent=", cluster.Metric(i, "raftkv_snapshots_sent_total"),
        " received=", cluster.Metric(i, "raftkv_snapshots_received_total"),
        "\n");
  }
  return out;
}

TEST(SnapshotCatchupTest, RestartedFollowerCatchesUpThroughSnapshot) {
  ClusterOptions options;
  options.snapshot_count = 100;
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  auto leader = cluster.WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int follower = (*leader + 1) % cluster.size();

  auto c = cluster.ClientOfAll(absl::Seconds(10));
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c->Put(absl::StrCat("snap/before/", i), "x").ok());
  }
  // SIGTERM stops a member cleanly (it used to abort in absl's deadlock
  // detector: the signal handler locked a mutex its thread held).
  EXPECT_EQ(cluster.Terminate(follower), 0) << cluster.Log(follower);
  // Writes go to the two running members: a write through a channel to a
  // member that just went away may fail rather than fail over (the client
  // cannot tell whether it was sent).
  std::vector<int> running;
  for (int i = 0; i < cluster.size(); ++i) {
    if (i != follower) running.push_back(i);
  }
  c = cluster.ClientOfMembers(running, absl::Seconds(10));
  ASSERT_NE(c, nullptr);

  // 600 puts, overwrites and deletes: six times --snapshot-count. Values of
  // 4 KiB make the copy ~2 MiB, more than one 1 MiB transport piece (records
  // span pieces; that was once refused as corrupt).
  const std::string pad(4096, 'x');
  for (int i = 0; i < 500; ++i) {
    auto r =
        c->Put(absl::StrCat("snap/k/", i % 400), absl::StrCat("v", i, pad));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
  }
  for (int i = 0; i < 100; ++i) {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(absl::StrCat("snap/k/", i * 3));
    ASSERT_TRUE(c->DeleteRange(del).ok());
  }
  auto now_leader = cluster.WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(now_leader.ok()) << now_leader.status();
  const double sent_before =
      cluster.Metric(*now_leader, "raftkv_snapshots_sent_total");
  ASSERT_GE(sent_before, 0) << "no raftkv_snapshots_sent_total on /metrics";
  auto want = ReadPrefix(*c, "");
  ASSERT_TRUE(want.ok()) << want.status();

  ASSERT_TRUE(cluster.StartMember(follower).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return cluster.Metric(follower, "raftkv_snapshots_received_total") >= 1;
      },
      absl::Seconds(60)))
      << cluster.name(follower) << " received no snapshot\n"
      << Diagnose(cluster);
  ASSERT_TRUE(WaitFor(
      [&] {
        return cluster.Metric(*now_leader, "raftkv_snapshots_sent_total") >
               sent_before;
      },
      absl::Seconds(30)))
      << cluster.name(*now_leader) << " reports no snapshot sent";
  std::printf("%s sent %g snapshot(s); %s received %g\n",
              cluster.name(*now_leader).c_str(),
              cluster.Metric(*now_leader, "raftkv_snapshots_sent_total"),
              cluster.name(follower).c_str(),
              cluster.Metric(follower, "raftkv_snapshots_received_total"));

  // Every member: the same revision and identical data.
  for (int i = 0; i < cluster.size(); ++i) {
    auto mine = cluster.ClientOf(i, absl::Seconds(10));
    ASSERT_NE(mine, nullptr);
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = ReadPrefix(*mine, "", /*serializable=*/true, 0);
          return r.ok() && r->revision == want->revision;
        },
        absl::Seconds(30)))
        << cluster.name(i) << " did not reach revision " << want->revision;
    auto got = ReadPrefix(*mine, "", /*serializable=*/true, 0);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->kvs.size(), want->kvs.size()) << cluster.name(i);
    for (const auto& [key, kv] : want->kvs) {
      auto it = got->kvs.find(key);
      ASSERT_NE(it, got->kvs.end()) << cluster.name(i) << " lacks " << key;
      EXPECT_EQ(Describe(it->second), Describe(kv)) << cluster.name(i);
    }
  }

  // The caught-up follower keeps replicating normally afterwards.
  auto put = c->Put("snap/after", "y");
  ASSERT_TRUE(put.ok()) << put.status();
  auto mine = cluster.ClientOf(follower, absl::Seconds(10));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = ReadPrefix(*mine, "snap/after", /*serializable=*/true, 0);
        return r.ok() && r->kvs.size() == 1;
      },
      absl::Seconds(30)));
}

}  // namespace
}  // namespace raftkv::e2e
