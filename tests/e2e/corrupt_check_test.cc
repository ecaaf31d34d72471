// --experimental-initial-corrupt-check (issue 13's integrity check, which
// etcd's e2e harness passes to every member): a member whose store holds
// the same history as its peers starts; one whose store was altered on disk
// while it was stopped refuses to start with etcd's message, and the rest of
// the cluster keeps serving. Maintenance.HashKV agrees across members. And
// --experimental-corrupt-check-time: the leader's periodic and
// post-compaction checks find such a member while it runs and raise
// CORRUPT, after which every member refuses writes.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "kv/key_layout.h"
#include "kv/mvccpb.pb.h"
#include "leveldb/db.h"
#include "rpc/rpc.grpc.pb.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

constexpr char kFlag[] = "--experimental-initial-corrupt-check";

// Rewrites, in member's stopped store, the newest version of `key` with
// another value (same revision): silent on-disk damage.
void CorruptValue(const std::string& data_dir, const std::string& key) {
  leveldb::DB* raw = nullptr;
  leveldb::Options options;
  leveldb::Status s = leveldb::DB::Open(options, data_dir + "/store", &raw);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  it->Seek(kv::layout::HistoryLowerBound(key));
  ASSERT_TRUE(it->Valid());
  auto parts = kv::layout::ParseHistoryKey(
      std::string_view(it->key().data(), it->key().size()));
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->key, key);
  std::string value = it->value().ToString();
  ASSERT_FALSE(value.empty());
  ASSERT_EQ(value[0], kv::layout::kPutTag);
  mvccpb::KeyValue kv;
  ASSERT_TRUE(kv.ParseFromString(value.substr(1)));
  kv.set_value("damaged on disk");
  const std::string history_key = it->key().ToString();
  it.reset();
  s = db->Put(leveldb::WriteOptions(), history_key,
              std::string(1, kv::layout::kPutTag) + kv.SerializeAsString());
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// HashKV of member i at `rev`.
absl::StatusOr<etcdserverpb::HashKVResponse> HashKv(ProcessCluster& cluster,
                                                    int i, int64_t rev) {
  auto channel = grpc::CreateChannel(cluster.client_endpoint(i),
                                     grpc::InsecureChannelCredentials());
  auto stub = etcdserverpb::Maintenance::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  etcdserverpb::HashKVRequest req;
  req.set_revision(rev);
  etcdserverpb::HashKVResponse resp;
  grpc::Status s = stub->HashKV(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return resp;
}

TEST(CorruptCheckTest, DamagedMemberRefusesToStartOthersServe) {
  ClusterOptions options;
  options.extra_flags = {kFlag};
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.WaitForLeader(absl::Seconds(30)).ok()) << cluster.Logs();
  auto c = cluster.ClientOfAll(absl::Seconds(10));
  ASSERT_NE(c, nullptr);
  int64_t last = 0;
  for (int k = 0; k < 20; ++k) {
    etcdserverpb::PutRequest put;
    put.set_key(absl::StrCat("key", k));
    put.set_value(absl::StrCat("value", k));
    auto r = c->Put(put);
    ASSERT_TRUE(r.ok()) << r.status();
    last = r->header().revision();
  }
  // Every member reaches the last revision; their hashes at it agree.
  uint32_t hash = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    absl::StatusOr<etcdserverpb::HashKVResponse> h;
    ASSERT_TRUE(WaitFor(
        [&] {
          h = HashKv(cluster, i, last);
          return h.ok();
        },
        absl::Seconds(20)))
        << h.status();
    if (i == 0) hash = h->hash();
    EXPECT_EQ(h->hash(), hash) << "member " << i;
  }
  auto future = HashKv(cluster, 0, last + 1000);
  EXPECT_EQ(future.status().message(),
            "etcdserver: mvcc: required revision is a future revision");

  // A clean restart passes the check.
  const int victim = 2;
  cluster.Terminate(victim);  // graceful: LevelDB closed cleanly
  ASSERT_TRUE(cluster.StartMember(victim).ok());
  // The second "succeeded" line (the first is from the first start), then
  // the member serves again.
  auto count = [&](const std::string& what) {
    const std::string log = cluster.Log(victim, 1 << 22);
    int n = 0;
    for (size_t at = log.find(what); at != std::string::npos;
         at = log.find(what, at + 1)) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return count("succeeded on initial corruption checking") == 2 &&
               count("serving clients on") == 2;
      },
      absl::Seconds(30)))
      << cluster.Log(victim);
  ASSERT_TRUE(cluster.Running(victim));

  // Damage one value while it is stopped: it must refuse to start.
  cluster.Terminate(victim);  // graceful: LevelDB closed cleanly
  CorruptValue(cluster.data_dir(victim), "key7");
  ASSERT_TRUE(cluster.StartMember(victim).ok());
  ASSERT_TRUE(
      WaitFor([&] { return !cluster.Running(victim); }, absl::Seconds(30)))
      << "the damaged member kept running:\n"
      << cluster.Log(victim);
  EXPECT_NE(cluster.ExitCode(victim), 0);
  EXPECT_NE(
      cluster.Log(victim, 1 << 20).find("found data inconsistency with peers"),
      std::string::npos)
      << cluster.Log(victim);

  // The two healthy members still serve reads and writes (once they agree
  // on a leader: the victim may have led before it stopped).
  ASSERT_TRUE(cluster.WaitForLeader(absl::Seconds(30)).ok()) << cluster.Logs();
  auto healthy = cluster.ClientOfMembers({0, 1}, absl::Seconds(10));
  ASSERT_NE(healthy, nullptr);
  etcdserverpb::PutRequest put;
  put.set_key("after");
  put.set_value("ok");
  auto r = healthy->Put(put);
  for (int i = 0; i < 2 && !r.ok(); ++i) {
    auto st = cluster.Status(i);
    std::printf("member %d: %s\n", i,
                st.ok() ? st->ShortDebugString().c_str()
                        : st.status().ToString().c_str());
  }
  EXPECT_TRUE(r.ok()) << r.status() << cluster.Log(0, 1 << 20)
                      << cluster.Log(1, 1 << 20);
}

// Maintenance.Alarm GET on member i.
absl::StatusOr<etcdserverpb::AlarmResponse> Alarms(ProcessCluster& cluster,
                                                   int i) {
  auto stub = etcdserverpb::Maintenance::NewStub(grpc::CreateChannel(
      cluster.client_endpoint(i), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  etcdserverpb::AlarmRequest req;
  req.set_action(etcdserverpb::AlarmRequest::GET);
  etcdserverpb::AlarmResponse resp;
  grpc::Status s = stub->Alarm(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return resp;
}

// Writes key0..key19 through any member; returns the last revision.
int64_t WriteKeys(ProcessCluster& cluster) {
  auto c = cluster.ClientOfAll(absl::Seconds(10));
  int64_t last = 0;
  for (int k = 0; k < 20; ++k) {
    auto r = c->Put(absl::StrCat("key", k), absl::StrCat("value", k));
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) last = r->header().revision();
  }
  return last;
}

// Stops a follower, damages key7 in its store and starts it again (without
// the initial check, so the damage goes unseen until a running check);
// waits until it has applied `last`. Returns its index.
int DamageAFollower(ProcessCluster& cluster, int64_t last) {
  auto leader = cluster.WaitForLeader(absl::Seconds(30));
  EXPECT_TRUE(leader.ok()) << leader.status();
  const int victim = (leader.ok() ? *leader + 1 : 1) % cluster.size();
  cluster.Terminate(victim);  // graceful: LevelDB closed cleanly
  CorruptValue(cluster.data_dir(victim), "key7");
  EXPECT_TRUE(cluster.StartMember(victim).ok());
  EXPECT_TRUE(WaitFor([&] { return HashKv(cluster, victim, last).ok(); },
                      absl::Seconds(30)))
      << cluster.Log(victim);
  return victim;
}

// Waits until every member lists a CORRUPT alarm; returns the member ID the
// first one names (0 if none within the deadline).
uint64_t WaitForCorruptAlarm(ProcessCluster& cluster) {
  uint64_t named = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    const bool raised = WaitFor(
        [&] {
          auto a = Alarms(cluster, i);
          if (!a.ok()) return false;
          for (const auto& m : a->alarms()) {
            if (m.alarm() != etcdserverpb::CORRUPT) continue;
            if (named == 0) named = m.memberid();
            return true;
          }
          return false;
        },
        absl::Seconds(30));
    EXPECT_TRUE(raised) << "member " << i << " lists no CORRUPT alarm\n"
                        << cluster.Logs();
  }
  return named;
}

// What every member does once CORRUPT is raised: writes refused with
// etcd's error, reads served, Status.errors naming the alarm.
void ExpectCorruptRefusals(ProcessCluster& cluster, uint64_t victim_id) {
  for (int i = 0; i < cluster.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("member ", i));
    auto c = cluster.ClientOf(i, absl::Seconds(5));
    auto put = c->Put("refused", "x");
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(put.status().message(), "etcdserver: corrupt cluster");
    auto get = c->Get("key3");
    ASSERT_TRUE(get.ok()) << get.status();
    ASSERT_EQ(get->kvs_size(), 1);
    auto st = cluster.Status(i);
    ASSERT_TRUE(st.ok()) << st.status();
    bool listed = false;
    for (const std::string& e : st->errors()) {
      listed |= e == absl::StrCat("memberID:", victim_id, " alarm:CORRUPT ");
    }
    EXPECT_TRUE(listed) << st->ShortDebugString();
  }
}

// --experimental-corrupt-check-time: the leader finds a follower whose
// store was damaged while it was stopped, and CORRUPT stops writes
// cluster-wide.
TEST(CorruptCheckTest, PeriodicCheckRaisesCorruptForTheDamagedMember) {
  ClusterOptions options;
  options.extra_flags = {"--experimental-corrupt-check-time=1s"};
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  const int64_t last = WriteKeys(cluster);
  ASSERT_GT(last, 0);
  // Healthy: a few checks pass and raise nothing.
  const int leader = *cluster.WaitForLeader(absl::Seconds(30));
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string log = cluster.Log(leader, 1 << 20);
        return log.find("enabled corruption checking") != std::string::npos;
      },
      absl::Seconds(10)));
  const int victim = DamageAFollower(cluster, last);
  if (HasFatalFailure()) return;
  const uint64_t victim_id = cluster.MemberId(victim);
  const uint64_t named = WaitForCorruptAlarm(cluster);
  ASSERT_NE(named, 0u);
  // The damaged member is the one named, unless it led when a check ran
  // (then it names a healthy peer: a leader cannot tell which side is
  // wrong, as in etcd).
  if (named != victim_id) {
    EXPECT_NE(cluster.Log(victim, 1 << 22).find("raising alarm CORRUPT"),
              std::string::npos)
        << cluster.Logs();
  }
  ExpectCorruptRefusals(cluster, named);
}

// With the periodic check an hour apart, the check after a compaction
// (at the compaction's revision) finds the damage.
TEST(CorruptCheckTest, CompactionCheckFindsDamageBetweenPeriodicChecks) {
  ClusterOptions options;
  options.extra_flags = {"--experimental-corrupt-check-time=1h"};
  ProcessCluster cluster(options);
  ASSERT_TRUE(cluster.Start(absl::Seconds(60)).ok()) << cluster.Logs();
  const int64_t last = WriteKeys(cluster);
  ASSERT_GT(last, 0);
  const int victim = DamageAFollower(cluster, last);
  if (HasFatalFailure()) return;
  // Nothing has checked yet.
  for (int i = 0; i < cluster.size(); ++i) {
    absl::StatusOr<etcdserverpb::AlarmResponse> a;
    ASSERT_TRUE(WaitFor(
        [&] {
          a = Alarms(cluster, i);  // through Raft: needs a known leader
          return a.ok();
        },
        absl::Seconds(20)))
        << a.status();
    EXPECT_EQ(a->alarms_size(), 0) << "member " << i;
  }
  auto c = cluster.ClientOfAll(absl::Seconds(10));
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(last);
  auto done = c->Compact(compact);
  ASSERT_TRUE(done.ok()) << done.status();
  const uint64_t named = WaitForCorruptAlarm(cluster);
  ASSERT_NE(named, 0u);
  if (named != cluster.MemberId(victim)) {
    EXPECT_NE(cluster.Log(victim, 1 << 22).find("raising alarm CORRUPT"),
              std::string::npos)
        << cluster.Logs();
  }
  ExpectCorruptRefusals(cluster, named);
}

}  // namespace
}  // namespace raftkv::e2e
