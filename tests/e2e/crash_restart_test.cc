// Bar 3 of issue 4: kill -9 all three members in the middle of a write load
// and restart them: every acknowledged write is present, and the revisions
// continue without gaps.
//
// Every write is a Put of a new key, so each revision the store reached
// belongs to exactly one key (create_revision == mod_revision). "Without
// gaps" is checked from the data: after the restart the mod_revisions of all
// keys are exactly 2..R where R is the store revision (an empty store is at
// revision 1), every acknowledged write kept the revision its response
// reported, and the next write after the restart gets revision R+1.
#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/load.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

TEST(CrashRestartTest, KillAllMidLoadAndRestart) {
  ProcessCluster cluster(ClusterOptions{});
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();

  WriteLoad load(cluster.client_endpoints(), /*writers=*/4, "crash");
  load.Start();
  ASSERT_TRUE(
      WaitFor([&] { return load.acked_count() >= 300; }, absl::Seconds(60)))
      << "acked " << load.acked_count() << " failures " << load.failures();
  // Kill all three while writes are in flight, in a random-ish order (the
  // leader is not singled out).
  for (int i = 0; i < cluster.size(); ++i) cluster.Kill(i);
  load.Stop();
  const std::vector<AckedWrite> acked = load.acked();
  int64_t max_acked_revision = 0;
  for (const AckedWrite& a : acked) {
    max_acked_revision = std::max(max_acked_revision, a.revision);
  }

  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(cluster.StartMember(i).ok());
  }
  ASSERT_TRUE(cluster.WaitForLeader(absl::Seconds(60)).ok()) << cluster.Logs();

  auto c = cluster.ClientOfAll(absl::Seconds(10));
  ASSERT_NE(c, nullptr);
  auto read = ReadPrefix(*c, "crash/");
  ASSERT_TRUE(read.ok()) << read.status();
  std::printf(
      "killed all members after %zu acknowledged writes (max revision %lld); "
      "after restart the store is at revision %lld with %zu keys\n",
      acked.size(), static_cast<long long>(max_acked_revision),
      static_cast<long long>(read->revision), read->kvs.size());

  // Every acknowledged write is present, with the revision it was given.
  int missing = 0;
  for (const AckedWrite& a : acked) {
    auto it = read->kvs.find(a.key);
    const bool ok = it != read->kvs.end() && it->second.value() == a.value &&
                    it->second.mod_revision() == a.revision;
    if (!ok && ++missing <= 5) {
      ADD_FAILURE() << "acknowledged " << a.key << " at revision " << a.revision
                    << " is "
                    << (it == read->kvs.end()
                            ? std::string("missing")
                            : absl::StrCat("at revision ",
                                           it->second.mod_revision()));
    }
  }
  EXPECT_EQ(missing, 0);
  EXPECT_GE(read->revision, max_acked_revision);

  // No gaps: the keys' revisions are exactly 2..R.
  std::vector<int64_t> revisions;
  for (const auto& [key, kv] : read->kvs) {
    EXPECT_EQ(kv.create_revision(), kv.mod_revision()) << key;
    revisions.push_back(kv.mod_revision());
  }
  std::sort(revisions.begin(), revisions.end());
  ASSERT_EQ(static_cast<int64_t>(revisions.size()), read->revision - 1);
  for (size_t i = 0; i < revisions.size(); ++i) {
    ASSERT_EQ(revisions[i], static_cast<int64_t>(i) + 2)
        << "revision sequence has a gap or a duplicate";
  }

  // And the next write continues the sequence.
  auto put = c->Put("crash/after-restart", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->header().revision(), read->revision + 1);
  // Every member reaches that revision and holds the same keys.
  for (int i = 0; i < cluster.size(); ++i) {
    auto mine = cluster.ClientOf(i, absl::Seconds(10));
    ASSERT_NE(mine, nullptr);
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = ReadPrefix(*mine, "crash/", /*serializable=*/true, 0);
          return r.ok() && r->revision == read->revision + 1;
        },
        absl::Seconds(30)))
        << cluster.name(i);
    auto r = ReadPrefix(*mine, "crash/", /*serializable=*/true, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->kvs.size(), read->kvs.size() + 1) << cluster.name(i);
  }
}

}  // namespace
}  // namespace raftkv::e2e
