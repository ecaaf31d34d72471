// The backend quota and the NOSPACE alarm on a real three-member cluster
// (kv/quota.h, kv/alarms.h, docs/space-and-integrity.md): writing past a
// small --quota-backend-bytes raises NOSPACE; then every member refuses
// puts (and txns with a nested put) with etcd's error, still serves reads,
// deletes and compaction, and answers /health on its client URL with 503
// {"health":"false"} (200 with ?exclude=NOSPACE); the alarm survives a
// restart; `raftkvctl alarm disarm` while still over the quota is undone by
// the next put, as in etcd; `raftkvctl alarm recover` (compact, defragment
// every member, disarm) clears it, shrinking every member's dbSize, and
// writes work again.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "rpc/rpc.grpc.pb.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

// Small enough that 64 KiB values cross it within a few seconds (LevelDB
// keeps them in its log and tables uncompressed: they are random).
constexpr int64_t kQuotaBytes = 4 << 20;
constexpr size_t kValueBytes = 64 << 10;
// The writes overwrite these few keys, so that compaction frees the space.
constexpr int kBigKeys = 4;
constexpr char kNoSpace[] = "etcdserver: mvcc: database space exceeded";

// Incompressible bytes, different for each `seed`.
std::string RandomValue(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string v(kValueBytes, '\0');
  for (char& c : v) c = static_cast<char>(rng());
  return v;
}

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Maintenance.Alarm GET on member i: "NOSPACE/<id>,..." or an error.
absl::StatusOr<std::string> AlarmList(ProcessCluster& cluster, int i) {
  std::unique_ptr<client::Client> c = cluster.ClientOf(i);
  if (c == nullptr) return absl::UnavailableError("member does not answer");
  grpc::ClientContext ctx;
  c->PrepareContext(ctx, absl::Seconds(5));
  etcdserverpb::AlarmRequest req;
  req.set_action(etcdserverpb::AlarmRequest::GET);
  etcdserverpb::AlarmResponse resp;
  if (grpc::Status s = c->maintenance().Alarm(&ctx, req, &resp); !s.ok()) {
    return FromGrpc(s);
  }
  std::vector<std::string> out;
  for (const etcdserverpb::AlarmMember& m : resp.alarms()) {
    out.push_back(absl::StrCat(etcdserverpb::AlarmType_Name(m.alarm()), "/",
                               m.memberid()));
  }
  return absl::StrJoin(out, ",");
}

struct HttpResult {
  int code = 0;  // 0 if curl failed
  std::string body;
};

// GET `path` on member i's client URL (HTTP/1.1 beside gRPC), with curl.
HttpResult HttpGetClientUrl(ProcessCluster& cluster, int i,
                            const std::string& path) {
  RunResult r = RunProgram({"curl", "-s", "--max-time", "5", "-w",
                            "\n%{http_code}", cluster.client_url(i) + path},
                           "", {}, absl::Seconds(10));
  HttpResult out;
  const size_t nl = r.out.rfind('\n');
  if (r.exit_code != 0 || nl == std::string::npos) return out;
  out.body = r.out.substr(0, nl);
  if (!absl::SimpleAtoi(r.out.substr(nl + 1), &out.code)) out.code = 0;
  return out;
}

RunResult Ctl(ProcessCluster& cluster, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      RAFTKVCTL_PATH,
      "--endpoints=" + absl::StrJoin(cluster.client_endpoints(), ","),
      "--command-timeout=60s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, "", {}, absl::Seconds(120));
}

etcdserverpb::TxnRequest NestedPutTxn(const std::string& key) {
  etcdserverpb::TxnRequest txn;
  etcdserverpb::TxnRequest* inner = txn.add_success()->mutable_request_txn();
  etcdserverpb::PutRequest* put = inner->add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value("v");
  txn.add_success()->mutable_request_range()->set_key(key);
  return txn;
}

void ExpectNoSpace(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(s.message(), kNoSpace);
}

class QuotaAlarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(raftkv::testing::HaveProgram("curl"));
    ClusterOptions options;
    options.extra_flags = {absl::StrCat("--quota-backend-bytes=", kQuotaBytes)};
    cluster_ = std::make_unique<ProcessCluster>(options);
    ASSERT_TRUE(cluster_->Start(absl::Seconds(60)).ok()) << cluster_->Logs();
    ASSERT_TRUE(cluster_->WaitForLeader(absl::Seconds(30)).ok());
  }

  // Overwrites the big keys until a put is refused; returns its error.
  absl::Status FillUntilRefused() {
    auto c = cluster_->ClientOfAll(absl::Seconds(10));
    if (c == nullptr) return absl::UnavailableError("no client");
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (absl::Now() < deadline) {
      auto r = c->Put(absl::StrCat("big/", writes_ % kBigKeys),
                      RandomValue(writes_));
      ++writes_;
      if (!r.ok()) return r.status();
    }
    return absl::DeadlineExceededError("the quota was never reached");
  }

  // Waits until every member's Alarm GET answers `want`.
  void ExpectAlarmsEverywhere(const std::string& want) {
    for (int i = 0; i < cluster_->size(); ++i) {
      absl::StatusOr<std::string> got;
      EXPECT_TRUE(WaitFor(
          [&] {
            got = AlarmList(*cluster_, i);
            return got.ok() && *got == want;
          },
          absl::Seconds(20)))
          << "member " << i << ": "
          << (got.ok() ? *got : got.status().ToString()) << ", want " << want;
    }
  }

  // Whether member i's Alarm GET lists a NOSPACE alarm (each member raises
  // one for itself once it finds its own store over the quota).
  bool NoSpaceListedOn(int i) {
    auto got = AlarmList(*cluster_, i);
    return got.ok() && got->find("NOSPACE/") != std::string::npos;
  }

  // Waits until GET `path` on member i's client URL answers `code` (a
  // member may be between leaders or still applying the alarm), then
  // expects `body` exactly.
  void ExpectHttp(int i, const std::string& path, int code,
                  const std::string& body) {
    HttpResult got;
    EXPECT_TRUE(WaitFor(
        [&] {
          got = HttpGetClientUrl(*cluster_, i, path);
          return got.code == code;
        },
        absl::Seconds(10)))
        << path << ": " << got.code << " " << got.body;
    EXPECT_EQ(got.body, body) << path;
  }

  std::unique_ptr<ProcessCluster> cluster_;
  int64_t writes_ = 0;
};

TEST_F(QuotaAlarmTest, NoSpaceRefusesWritesEverywhereUntilRecovered) {
  auto all = cluster_->ClientOfAll(absl::Seconds(10));
  ASSERT_NE(all, nullptr);
  for (int i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(all->Put(absl::StrCat("small/", i), "v").ok());
  }
  const absl::Status refused = FillUntilRefused();
  ExpectNoSpace(refused);
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted)
      << cluster_->Logs();
  std::printf("quota of %lld bytes reached after %lld puts of %zu bytes\n",
              static_cast<long long>(kQuotaBytes),
              static_cast<long long>(writes_), kValueBytes);

  for (int i = 0; i < cluster_->size(); ++i) {
    SCOPED_TRACE(absl::StrCat("member ", i));
    ASSERT_TRUE(WaitFor([&] { return NoSpaceListedOn(i); }, absl::Seconds(20)))
        << AlarmList(*cluster_, i).value_or("error");
    auto c = cluster_->ClientOf(i, absl::Seconds(10));
    ASSERT_NE(c, nullptr);
    ExpectNoSpace(c->Put("k", "v").status());
    ExpectNoSpace(c->Txn(NestedPutTxn("k")).status());
    auto read = c->Get("big/0");
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->kvs_size(), 1);
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(absl::StrCat("small/", i));
    auto deleted = c->DeleteRange(del);
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_EQ(deleted->deleted(), 1);
    etcdserverpb::CompactionRequest compact;
    compact.set_revision(deleted->header().revision());
    auto compacted = c->Compact(compact);
    EXPECT_TRUE(compacted.ok()) << compacted.status();
    ExpectHttp(i, "/health", 503, R"({"health":"false"})");
    ExpectHttp(i, "/health?exclude=NOSPACE", 200, R"({"health":"true"})");
  }

  // The alarm is replicated state: a restarted member still has it.
  const int restarted = 1;
  cluster_->Terminate(restarted);
  ASSERT_TRUE(cluster_->StartMember(restarted).ok());
  ASSERT_TRUE(cluster_->WaitForLeader(absl::Seconds(30)).ok())
      << cluster_->Logs();
  ASSERT_TRUE(
      WaitFor([&] { return NoSpaceListedOn(restarted); }, absl::Seconds(30)))
      << cluster_->Log(restarted);
  {
    auto c = cluster_->ClientOf(restarted, absl::Seconds(10));
    ASSERT_NE(c, nullptr);
    ExpectNoSpace(c->Put("k", "v").status());
  }

  std::vector<etcdserverpb::StatusResponse> before;
  for (int i = 0; i < cluster_->size(); ++i) {
    auto st = cluster_->Status(i);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_LE(st->dbsizeinuse(), st->dbsize());
    EXPECT_GE(st->dbsize(), kQuotaBytes / 2) << "member " << i;
    before.push_back(*st);
  }

  RunResult recovered = Ctl(*cluster_, {"alarm", "recover"});
  ASSERT_EQ(recovered.exit_code, 0) << recovered.out << recovered.err;
  SCOPED_TRACE("alarm recover printed:\n" + recovered.out + recovered.err);
  for (int i = 0; i < cluster_->size(); ++i) {
    EXPECT_NE(
        recovered.out.find(absl::StrCat("Finished defragmenting etcd member[",
                                        cluster_->client_endpoints()[i], "]")),
        std::string::npos)
        << recovered.out;
  }
  ExpectAlarmsEverywhere("");
  for (int i = 0; i < cluster_->size(); ++i) {
    SCOPED_TRACE(absl::StrCat("member ", i));
    auto st = cluster_->Status(i);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_LT(st->dbsize(), before[i].dbsize() / 2);
    EXPECT_LE(st->dbsizeinuse(), st->dbsize());
    EXPECT_EQ(st->errors_size(), 0);
    ExpectHttp(i, "/health", 200, R"({"health":"true"})");
    auto c = cluster_->ClientOf(i, absl::Seconds(10));
    ASSERT_NE(c, nullptr);
    auto put = c->Put(absl::StrCat("after/", i), RandomValue(1000 + i));
    EXPECT_TRUE(put.ok()) << put.status();
  }
}

TEST_F(QuotaAlarmTest, DisarmWhileOverQuotaIsUndoneByTheNextPut) {
  ExpectNoSpace(FillUntilRefused());
  ASSERT_TRUE(WaitFor([&] { return NoSpaceListedOn(0); }, absl::Seconds(20)));
  RunResult listed = Ctl(*cluster_, {"alarm", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(" alarm:NOSPACE \n"), std::string::npos)
      << listed.out;

  RunResult disarmed = Ctl(*cluster_, {"alarm", "disarm"});
  ASSERT_EQ(disarmed.exit_code, 0) << disarmed.err;
  EXPECT_EQ(disarmed.out, listed.out);  // what was disarmed, as etcdctl
  ExpectAlarmsEverywhere("");
  // Still over the quota: the next put of the size that did not fit is
  // refused and raises it again (a tiny one may still fit, as in etcd).
  auto c = cluster_->ClientOf(0, absl::Seconds(10));
  ASSERT_NE(c, nullptr);
  ExpectNoSpace(c->Put("big/0", RandomValue(writes_)).status());
  for (int i = 0; i < cluster_->size(); ++i) {
    EXPECT_TRUE(WaitFor([&] { return NoSpaceListedOn(i); }, absl::Seconds(20)))
        << "member " << i;
  }
  listed = Ctl(*cluster_, {"alarm", "list"});
  EXPECT_NE(listed.out.find(absl::StrCat("memberID:", cluster_->MemberId(0),
                                         " alarm:NOSPACE \n")),
            std::string::npos)
      << listed.out;
}

}  // namespace
}  // namespace raftkv::e2e
