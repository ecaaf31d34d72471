// --experimental-initial-corrupt-check (issue 13's integrity check, which
// etcd's e2e harness passes to every member): a member whose store holds
// the same history as its peers starts; one whose store was altered on disk
// while it was stopped refuses to start with etcd's message, and the rest of
// the cluster keeps serving. Maintenance.HashKV agrees across members.
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

}  // namespace
}  // namespace raftkv::e2e
