// Backup and restore across raftkv and etcd (issue 13; docs/backup.md):
//  - raftkv -> etcd: a 3-member raftkv cluster with puts, overwrites,
//    deletes, a compaction and a lease with keys; `etcdctl snapshot save`
//    from it, `etcdctl snapshot status`, `etcdctl snapshot restore`; the
//    real etcd started on the restored dir serves the same keys, values,
//    revisions (current and historical), compact revision and lease;
//  - etcd -> raftkv: the same workload on etcd, its snapshot restored with
//    `raftkvctl snapshot restore` for each member of a 3-member raftkv
//    cluster, which then serves the same;
//  - `raftkvctl snapshot save` while a writer runs: no write fails, and the
//    file restores to exactly the cluster's state at the file's revision;
//  - a corrupted file: etcdctl and raftkvctl refuse to restore it with the
//    hash error, and raftkvctl leaves no data dir behind.
// Skipped where etcd or etcdctl is not installed.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/e2e/lease_util.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::RunResult;

constexpr int64_t kLeaseId = 0x5eed;
constexpr int64_t kLeaseTtl = 600;

RunResult RunCommand(const std::vector<std::string>& argv,
                     absl::Duration timeout = absl::Seconds(60)) {
  RunResult r =
      raftkv::testing::RunProgram(argv, "", {"ETCDCTL_API=3"}, timeout);
  std::printf("$ %s\n[exit %d]\n%s%s", absl::StrJoin(argv, " ").c_str(),
              r.exit_code, r.out.c_str(), r.err.substr(0, 4000).c_str());
  return r;
}

bool HaveEtcd() {
  return raftkv::testing::HaveProgram("etcd") &&
         raftkv::testing::HaveProgram("etcdctl");
}

// The --initial-cluster of `cluster`'s members.
std::string InitialCluster(const ProcessCluster& cluster) {
  std::vector<std::string> parts;
  for (int i = 0; i < cluster.size(); ++i) {
    parts.push_back(absl::StrCat(cluster.name(i), "=", cluster.peer_url(i)));
  }
  return absl::StrJoin(parts, ",");
}

// `tool snapshot restore` of `file` into member i's data dir.
RunResult Restore(const std::string& tool, const std::string& file,
                  const ProcessCluster& cluster, int i,
                  const std::string& token) {
  return RunCommand({tool, "snapshot", "restore", file, "--name",
                     cluster.name(i), "--data-dir", cluster.data_dir(i),
                     "--initial-cluster", InitialCluster(cluster),
                     "--initial-cluster-token", token,
                     "--initial-advertise-peer-urls", cluster.peer_url(i)});
}

absl::StatusOr<etcdserverpb::RangeResponse> RangeAt(client::Client& c,
                                                    const std::string& prefix,
                                                    int64_t rev) {
  etcdserverpb::RangeRequest req;
  req.set_key(prefix);
  std::string end = prefix;
  end.back()++;
  req.set_range_end(end);
  req.set_revision(rev);
  return c.Range(req);
}

// What a restored cluster must serve.
struct Expected {
  PrefixRead now;
  int64_t compact = 0;
  // Reads at the compact revision and at one between it and now.
  int64_t mid = 0;
  std::vector<mvccpb::KeyValue> at_compact;
  std::vector<mvccpb::KeyValue> at_mid;
};

std::vector<mvccpb::KeyValue> Kvs(const etcdserverpb::RangeResponse& r) {
  return {r.kvs().begin(), r.kvs().end()};
}

// Puts, overwrites, deletes, a compaction, then a lease with two keys and
// more writes; returns what the cluster serves afterwards.
absl::StatusOr<Expected> Workload(client::Client& c) {
  for (int i = 0; i < 50; ++i) {
    auto r = c.Put(absl::StrFormat("snap/k%02d", i), absl::StrCat("v1-", i));
    if (!r.ok()) return r.status();
  }
  for (int i = 0; i < 20; ++i) {
    auto r = c.Put(absl::StrFormat("snap/k%02d", i), absl::StrCat("v2-", i));
    if (!r.ok()) return r.status();
  }
  for (int i = 40; i < 50; ++i) {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(absl::StrFormat("snap/k%02d", i));
    auto r = c.DeleteRange(del);
    if (!r.ok()) return r.status();
  }
  Expected want;
  auto head = c.Get("snap/k00");
  if (!head.ok()) return head.status();
  want.compact = head->header().revision() - 15;
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(want.compact);
  compact.set_physical(true);
  if (auto r = c.Compact(compact); !r.ok()) return r.status();
  auto lease = GrantLease(c, kLeaseTtl, kLeaseId);
  if (!lease.ok()) return lease.status();
  for (const char* key : {"snap/leased1", "snap/leased2"}) {
    auto r = PutWithLease(c, key, "held", kLeaseId);
    if (!r.ok()) return r.status();
  }
  for (int i = 0; i < 5; ++i) {
    auto r = c.Put(absl::StrFormat("snap/k%02d", i), absl::StrCat("v3-", i));
    if (!r.ok()) return r.status();
  }
  auto now = ReadPrefix(c, "snap/");
  if (!now.ok()) return now.status();
  want.now = *now;
  want.mid = want.compact + 8;
  auto at_compact = RangeAt(c, "snap/", want.compact);
  if (!at_compact.ok()) return at_compact.status();
  want.at_compact = Kvs(*at_compact);
  auto at_mid = RangeAt(c, "snap/", want.mid);
  if (!at_mid.ok()) return at_mid.status();
  want.at_mid = Kvs(*at_mid);
  return want;
}

void ExpectSameKvs(const std::vector<mvccpb::KeyValue>& got,
                   const std::vector<mvccpb::KeyValue>& want,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].SerializeAsString(), want[i].SerializeAsString())
        << what << ": got " << got[i].ShortDebugString() << " want "
        << want[i].ShortDebugString();
  }
}

// The restored cluster (any member) serves `want`.
void Verify(client::Client& c, const Expected& want) {
  auto now = ReadPrefix(c, "snap/");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->revision, want.now.revision);
  ASSERT_EQ(now->kvs.size(), want.now.kvs.size());
  for (const auto& [key, kv] : want.now.kvs) {
    auto it = now->kvs.find(key);
    ASSERT_NE(it, now->kvs.end()) << key;
    EXPECT_EQ(it->second.SerializeAsString(), kv.SerializeAsString())
        << "got " << it->second.ShortDebugString() << " want "
        << kv.ShortDebugString();
  }
  auto at_compact = RangeAt(c, "snap/", want.compact);
  ASSERT_TRUE(at_compact.ok()) << at_compact.status();
  ExpectSameKvs(Kvs(*at_compact), want.at_compact, "at the compact revision");
  auto at_mid = RangeAt(c, "snap/", want.mid);
  ASSERT_TRUE(at_mid.ok()) << at_mid.status();
  ExpectSameKvs(Kvs(*at_mid), want.at_mid, "between compact and now");
  auto below = RangeAt(c, "snap/", want.compact - 1);
  ASSERT_FALSE(below.ok());
  EXPECT_TRUE(absl::StrContains(below.status().message(),
                                "required revision has been compacted"))
      << below.status();
  auto ttl = LeaseTtl(c, kLeaseId, /*keys=*/true);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->grantedttl(), kLeaseTtl);
  EXPECT_GT(ttl->ttl(), 0);
  std::vector<std::string> keys(ttl->keys().begin(), ttl->keys().end());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"snap/leased1", "snap/leased2"}));
}

// Starts every member of `cluster` (on restored data dirs) and waits for a
// leader.
void StartRestored(ProcessCluster& cluster) {
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(cluster.StartMember(i).ok()) << cluster.Logs();
  }
  auto leader = cluster.WaitForLeader(absl::Seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status() << cluster.Logs();
  // A follower forwards lease calls to the leader's client URL, which it
  // knows once the leader's publish entry is applied: wait until every
  // member lists every member's client URLs.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (int i = 0; i < cluster.size(); ++i) {
    auto c = cluster.ClientOf(i, absl::Seconds(10));
    for (;;) {
      auto list = c->MemberList();
      bool published = list.ok() && list->members_size() == cluster.size();
      for (int m = 0; published && m < list->members_size(); ++m) {
        published = list->members(m).clienturls_size() > 0;
      }
      if (published) break;
      ASSERT_LT(absl::Now(), deadline)
          << "member " << cluster.name(i) << " never listed every client URL"
          << cluster.Logs();
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
}

// `etcdctl -w json snapshot status`'s revision (-1 if unreadable).
int64_t StatusRevision(const std::string& tool, const std::string& file,
                       std::string* json = nullptr) {
  RunResult r = RunCommand({tool, "-w", "json", "snapshot", "status", file});
  if (r.exit_code != 0) return -1;
  if (json != nullptr) *json = r.out;
  const size_t at = r.out.find("\"revision\":");
  if (at == std::string::npos) return -1;
  int64_t rev = -1;
  const size_t start = at + 11;
  const size_t end = r.out.find_first_of(",}", start);
  if (!absl::SimpleAtoi(r.out.substr(start, end - start), &rev)) return -1;
  return rev;
}

TEST(SnapshotBackupTest, RaftkvToEtcd) {
  if (!HaveEtcd()) GTEST_SKIP() << "etcd/etcdctl not installed";
  ProcessCluster source{ClusterOptions()};
  ASSERT_TRUE(source.Start(absl::Seconds(60)).ok()) << source.Logs();
  auto c = source.ClientOfAll(absl::Seconds(10));
  auto want = Workload(*c);
  ASSERT_TRUE(want.ok()) << want.status();

  raftkv::testing::TempDir dir;
  const std::string file = dir.path() + "/raftkv.db";
  auto leader = source.WaitForLeader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok());
  // A follower's copy: any member serves Snapshot, as etcd's.
  const int from = (*leader + 1) % source.size();
  RunResult save =
      RunCommand({"etcdctl", "--endpoints=" + source.client_endpoint(from),
                  "snapshot", "save", file});
  ASSERT_EQ(save.exit_code, 0) << source.Log(from);
  EXPECT_TRUE(absl::StrContains(save.out, "Snapshot saved at " + file));

  std::string etcd_json;
  EXPECT_EQ(StatusRevision("etcdctl", file, &etcd_json), want->now.revision);
  // raftkvctl reads the file exactly as etcdctl does.
  std::string raftkv_json;
  StatusRevision(RAFTKVCTL_PATH, file, &raftkv_json);
  EXPECT_EQ(raftkv_json, etcd_json);
  RunResult table =
      RunCommand({"etcdctl", "-w", "table", "snapshot", "status", file});
  EXPECT_EQ(table.exit_code, 0);
  RunResult ours =
      RunCommand({RAFTKVCTL_PATH, "-w", "table", "snapshot", "status", file});
  EXPECT_EQ(ours.out, table.out);

  ClusterOptions etcd_options;
  etcd_options.binary = "etcd";
  etcd_options.size = 1;
  etcd_options.token = "restored-etcd";
  ProcessCluster target(etcd_options);
  RunResult restore = Restore("etcdctl", file, target, 0, etcd_options.token);
  ASSERT_EQ(restore.exit_code, 0);
  StartRestored(target);
  if (HasFatalFailure()) return;
  auto tc = target.ClientOfAll(absl::Seconds(10));
  Verify(*tc, *want);
}

TEST(SnapshotBackupTest, EtcdToRaftkv) {
  if (!HaveEtcd()) GTEST_SKIP() << "etcd/etcdctl not installed";
  ClusterOptions etcd_options;
  etcd_options.binary = "etcd";
  etcd_options.size = 1;
  ProcessCluster source(etcd_options);
  ASSERT_TRUE(source.Start(absl::Seconds(60)).ok()) << source.Logs();
  auto c = source.ClientOfAll(absl::Seconds(10));
  auto want = Workload(*c);
  ASSERT_TRUE(want.ok()) << want.status();

  raftkv::testing::TempDir dir;
  const std::string file = dir.path() + "/etcd.db";
  RunResult save =
      RunCommand({"etcdctl", "--endpoints=" + source.client_endpoint(0),
                  "snapshot", "save", file});
  ASSERT_EQ(save.exit_code, 0);
  std::string etcd_json;
  std::string raftkv_json;
  StatusRevision("etcdctl", file, &etcd_json);
  EXPECT_EQ(StatusRevision(RAFTKVCTL_PATH, file, &raftkv_json),
            want->now.revision);
  EXPECT_EQ(raftkv_json, etcd_json);

  ClusterOptions options;
  options.token = "restored-raftkv";
  ProcessCluster target(options);
  for (int i = 0; i < target.size(); ++i) {
    RunResult restore = Restore(RAFTKVCTL_PATH, file, target, i, options.token);
    ASSERT_EQ(restore.exit_code, 0);
    EXPECT_TRUE(absl::StrContains(restore.err, "added member"));
  }
  StartRestored(target);
  if (HasFatalFailure()) return;
  // Every member holds the whole copy.
  for (int i = 0; i < target.size(); ++i) {
    auto mc = target.ClientOf(i, absl::Seconds(10));
    SCOPED_TRACE(target.name(i));
    Verify(*mc, *want);
  }
  // And the new cluster takes writes on top of the restored revision.
  auto tc = target.ClientOfAll(absl::Seconds(10));
  auto put = tc->Put("snap/after", "restore");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->header().revision(), want->now.revision + 1);
}

TEST(SnapshotBackupTest, SaveWhileWriting) {
  ProcessCluster source{ClusterOptions()};
  ASSERT_TRUE(source.Start(absl::Seconds(60)).ok()) << source.Logs();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> written{0};
  std::atomic<int64_t> failed{0};
  std::thread writer([&] {
    auto c = source.ClientOfAll(absl::Seconds(10));
    const std::string value(100, 'x');
    for (int64_t i = 0; !stop; ++i) {
      if (c->Put(absl::StrFormat("w/%08d", i), value).ok()) {
        ++written;
      } else {
        ++failed;
      }
    }
  });
  struct Join {
    std::thread& t;
    std::atomic<bool>& stop;
    ~Join() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join{writer, stop};
  ASSERT_TRUE(WaitFor([&] { return written >= 2000; }, absl::Seconds(60)));

  raftkv::testing::TempDir dir;
  const std::string file = dir.path() + "/busy.db";
  const int64_t before = written;
  RunResult save =
      RunCommand({RAFTKVCTL_PATH, "--endpoints=" + source.client_endpoint(0),
                  "snapshot", "save", file});
  ASSERT_EQ(save.exit_code, 0) << source.Log(0);
  EXPECT_TRUE(absl::StrContains(save.out, "Snapshot saved at " + file));
  // Writes went on during the save and after it.
  ASSERT_TRUE(
      WaitFor([&] { return written >= before + 500; }, absl::Seconds(60)));
  stop = true;
  writer.join();
  EXPECT_EQ(failed, 0);

  const int64_t rev = StatusRevision(RAFTKVCTL_PATH, file);
  ASSERT_GT(rev, 1);
  auto c = source.ClientOfAll(absl::Seconds(30));
  auto at = RangeAt(*c, "w/", rev);
  ASSERT_TRUE(at.ok()) << at.status();

  ClusterOptions options;
  options.size = 1;
  options.token = "busy-restored";
  ProcessCluster target(options);
  RunResult restore = Restore(RAFTKVCTL_PATH, file, target, 0, options.token);
  ASSERT_EQ(restore.exit_code, 0);
  StartRestored(target);
  if (HasFatalFailure()) return;
  auto tc = target.ClientOfAll(absl::Seconds(30));
  auto got = ReadPrefix(*tc, "w/");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->revision, rev);
  ASSERT_EQ(static_cast<int>(got->kvs.size()), at->kvs_size());
  for (const auto& kv : at->kvs()) {
    auto it = got->kvs.find(kv.key());
    ASSERT_NE(it, got->kvs.end()) << kv.key();
    EXPECT_EQ(it->second.SerializeAsString(), kv.SerializeAsString());
  }
}

TEST(SnapshotBackupTest, CorruptFileRefused) {
  ClusterOptions options;
  options.size = 1;
  ProcessCluster source(options);
  ASSERT_TRUE(source.Start(absl::Seconds(60)).ok()) << source.Logs();
  auto c = source.ClientOfAll(absl::Seconds(10));
  ASSERT_TRUE(c->Put("a", "b").ok());
  raftkv::testing::TempDir dir;
  const std::string file = dir.path() + "/corrupt.db";
  RunResult save =
      RunCommand({RAFTKVCTL_PATH, "--endpoints=" + source.client_endpoint(0),
                  "snapshot", "save", file});
  ASSERT_EQ(save.exit_code, 0);
  // As etcd's TestCtlV3SnapshotCorrupt: 512 zero bytes over the start.
  const int fd = open(file.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const std::string zeros(512, '\0');
  ASSERT_EQ(write(fd, zeros.data(), zeros.size()), 512);
  close(fd);

  ClusterOptions target_options;
  target_options.size = 1;
  ProcessCluster target(target_options);
  RunResult ours = Restore(RAFTKVCTL_PATH, file, target, 0, "t");
  EXPECT_NE(ours.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(ours.err, "\nError: expected sha256 ["))
      << ours.err;
  EXPECT_FALSE(std::filesystem::exists(target.data_dir(0)));
  if (HaveEtcd()) {
    RunResult etcd = Restore("etcdctl", file, target, 0, "t");
    EXPECT_NE(etcd.exit_code, 0);
    EXPECT_TRUE(absl::StrContains(etcd.err, "expected sha256 [")) << etcd.err;
  }
  // With --skip-hash-check the file is read as bbolt reads it: the first
  // meta page is gone, the second (same transaction) still names the tree.
  RunResult skipped =
      RunCommand({RAFTKVCTL_PATH, "snapshot", "restore", file,
                  "--skip-hash-check", "--data-dir", dir.path() + "/skipped"});
  EXPECT_EQ(skipped.exit_code, 0) << skipped.err;
  EXPECT_TRUE(absl::StrContains(skipped.err, "\"key-entries\":1"))
      << skipped.err;
  // With both meta pages damaged nothing is restorable, and nothing is left
  // behind.
  const int fd2 = open(file.c_str(), O_WRONLY);
  ASSERT_GE(fd2, 0);
  // The page size is in the surviving meta page; bbolt's default is 4 KiB.
  ASSERT_EQ(pwrite(fd2, zeros.data(), zeros.size(), 4096), 512);
  close(fd2);
  RunResult broken =
      RunCommand({RAFTKVCTL_PATH, "snapshot", "restore", file,
                  "--skip-hash-check", "--data-dir", dir.path() + "/broken"});
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/broken"));
}

}  // namespace
}  // namespace raftkv::e2e
