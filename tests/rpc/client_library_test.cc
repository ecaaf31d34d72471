// raftkv::client::Client against a real single-member etcd 3.4 (calls,
// error codes and messages) and against an in-process fake KV service
// (failover and deadline rules, which a healthy etcd cannot provoke).
#include <atomic>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "rpc/client/client.h"
#include "rpc/client/endpoint.h"
#include "rpc/client/keys.h"
#include "rpc/client/tls.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::testing {
namespace {

using client::CallOptions;
using client::Client;

TEST(KeysTest, PrefixRangeEnd) {
  EXPECT_EQ(client::PrefixRangeEnd("a"), "b");
  EXPECT_EQ(client::PrefixRangeEnd("foo"), "fop");
  EXPECT_EQ(client::PrefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(client::PrefixRangeEnd("a\xff\xff"), "b");
  EXPECT_EQ(client::PrefixRangeEnd(std::string("\x01\xff", 2)), "\x02");
  EXPECT_EQ(client::PrefixRangeEnd("\xff\xff"), std::string("\0", 1));
  EXPECT_EQ(client::PrefixRangeEnd(""), std::string("\0", 1));
  client::KeyRange all = client::PrefixRange("");
  EXPECT_EQ(all.key, std::string("\0", 1));
  EXPECT_EQ(all.range_end, std::string("\0", 1));
  client::KeyRange from = client::FromKeyRange("k");
  EXPECT_EQ(from.key, "k");
  EXPECT_EQ(from.range_end, std::string("\0", 1));
}

TEST(EndpointTest, Parse) {
  EXPECT_EQ(*client::ParseEndpoint("127.0.0.1:2379"), "127.0.0.1:2379");
  EXPECT_EQ(*client::ParseEndpoint("http://127.0.0.1:2379"), "127.0.0.1:2379");
  EXPECT_EQ(*client::ParseEndpoint("http://127.0.0.1:2379/"), "127.0.0.1:2379");
  EXPECT_EQ(*client::ParseEndpoint("localhost"), "localhost:2379");
  EXPECT_EQ(*client::ParseEndpoint("https://127.0.0.1:2379"), "127.0.0.1:2379");
  EXPECT_EQ(client::ParseEndpointUrl("https://h:1")->scheme,
            client::Scheme::kHttps);
  EXPECT_EQ(client::ParseEndpointUrl("http://h:1")->scheme,
            client::Scheme::kHttp);
  EXPECT_EQ(client::ParseEndpointUrl("h:1")->scheme, client::Scheme::kNone);
  EXPECT_EQ(*client::ParseEndpoint("unix://a.sock"), "unix:a.sock");
  EXPECT_EQ(*client::ParseEndpoint("unix://etcd.unix:1/"), "unix:etcd.unix:1");
  EXPECT_FALSE(client::ParseEndpoint("unix://").ok());
  EXPECT_FALSE(client::ParseEndpoint("ftp://h:1").ok());
  EXPECT_FALSE(client::ParseEndpoint("").ok());
  auto list = client::ParseEndpointList("a:1,,http://b:2");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string>{"a:1", "b:2"}));
}

// Which endpoints use TLS: etcdctl 3.4's rules (rpc/client/tls.h).
TEST(ClientTlsTest, SchemeAndFlagsDecideTls) {
  using client::Scheme;
  client::ClientTlsOptions none;
  EXPECT_FALSE(client::UsesTls(none, Scheme::kNone));
  EXPECT_FALSE(client::UsesTls(none, Scheme::kHttp));
  EXPECT_TRUE(client::UsesTls(none, Scheme::kHttps));
  client::ClientTlsOptions ca;
  ca.ca_file = "/ca.pem";
  EXPECT_TRUE(client::UsesTls(ca, Scheme::kNone));
  EXPECT_FALSE(client::UsesTls(ca, Scheme::kHttp));  // http:// stays plain
  client::ClientTlsOptions secure;
  secure.insecure_transport = false;
  EXPECT_TRUE(client::UsesTls(secure, Scheme::kNone));
  client::ClientTlsOptions skip;
  skip.insecure_skip_verify = true;  // alone, no TLS for a bare endpoint
  EXPECT_FALSE(client::UsesTls(skip, Scheme::kNone));
  EXPECT_TRUE(client::ChannelCredentialsFor(none, Scheme::kNone).ok());
}

TEST(ClientTlsTest, UnusableFilesNameTheFlag) {
  TempDir dir;
  const std::string text = dir.path() + "/text.pem";
  { std::ofstream(text) << "not a certificate\n"; }
  auto error = [](client::ClientTlsOptions tls) {
    auto c = client::ChannelCredentialsFor(tls, client::Scheme::kHttps);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(c.status().message());
  };
  client::ClientTlsOptions tls;
  tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(error(tls),
            "--cacert /nonexistent/ca.pem: No such file or directory");
  tls.ca_file = text;
  EXPECT_EQ(error(tls),
            "--cacert " + text + ": no PEM certificate in the file");
  tls = {};
  tls.key_file = text;
  EXPECT_EQ(error(tls), "--key " + text + " given without --cert");
  // A bad file fails Connect too, before any dialing.
  client::Options options;
  options.tls.ca_file = "/nonexistent/ca.pem";
  auto c = Client::Connect({"127.0.0.1:1"}, options);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  // ... unless no endpoint uses TLS.
  options.dial_timeout = absl::ZeroDuration();
  EXPECT_TRUE(Client::Connect({"http://127.0.0.1:1"}, options).ok());
}

// One etcd for all tests of this suite (they use distinct keys).
class EtcdClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!HaveProgram("etcd")) return;
    server_ = new EtcdServer(ServerConfig::WithFreePorts());
    absl::Status s = server_->Start();
    if (!s.ok()) {
      ADD_FAILURE() << s;
      delete server_;
      server_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "etcd not available";
    auto c = Client::Connect({"http://" + server_->endpoint()});
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }

  static EtcdServer* server_;
  std::unique_ptr<Client> client_;
};

EtcdServer* EtcdClientTest::server_ = nullptr;

TEST_F(EtcdClientTest, PutGetRoundTrip) {
  auto put = client_->Put("rt/key", "value");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_NE(put->header().cluster_id(), 0u);
  EXPECT_NE(put->header().member_id(), 0u);
  EXPECT_GT(put->header().revision(), 1);
  auto get = client_->Get("rt/key");
  ASSERT_TRUE(get.ok()) << get.status();
  ASSERT_EQ(get->kvs_size(), 1);
  EXPECT_EQ(get->kvs(0).value(), "value");
  EXPECT_EQ(get->kvs(0).version(), 1);
  EXPECT_EQ(get->kvs(0).mod_revision(), put->header().revision());
}

TEST_F(EtcdClientTest, PrefixAndDelete) {
  for (const char* k : {"pd/a", "pd/b", "pd/c", "pe"}) {
    ASSERT_TRUE(client_->Put(k, "x").ok());
  }
  etcdserverpb::RangeRequest range;
  client::KeyRange r = client::PrefixRange("pd/");
  range.set_key(r.key);
  range.set_range_end(r.range_end);
  range.set_limit(2);
  auto got = client_->Range(range);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kvs_size(), 2);
  EXPECT_TRUE(got->more());
  EXPECT_EQ(got->count(), 3);

  etcdserverpb::DeleteRangeRequest del;
  del.set_key(r.key);
  del.set_range_end(r.range_end);
  del.set_prev_kv(true);
  auto deleted = client_->DeleteRange(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted(), 3);
  EXPECT_EQ(deleted->prev_kvs_size(), 3);
}

TEST_F(EtcdClientTest, EmptyKeyIsInvalidArgument) {
  auto got = client_->Get("");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().message(), "etcdserver: key is not provided");
  auto put = client_->Put("", "v");
  EXPECT_EQ(put.status().message(), "etcdserver: key is not provided");
}

TEST_F(EtcdClientTest, FutureRevisionIsOutOfRange) {
  etcdserverpb::RangeRequest range;
  range.set_key("anything");
  range.set_revision(1'000'000);
  auto got = client_->Range(range);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(got.status().message(),
            "etcdserver: mvcc: required revision is a future revision");
}

TEST_F(EtcdClientTest, CompactedRevisionIsOutOfRange) {
  auto first = client_->Put("cmp/k", "1");
  ASSERT_TRUE(first.ok());
  auto second = client_->Put("cmp/k", "2");
  ASSERT_TRUE(second.ok());
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(second->header().revision());
  compact.set_physical(true);
  ASSERT_TRUE(client_->Compact(compact).ok());

  etcdserverpb::RangeRequest old;
  old.set_key("cmp/k");
  old.set_revision(first->header().revision());
  auto got = client_->Range(old);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(got.status().message(),
            "etcdserver: mvcc: required revision has been compacted");
  // Reading exactly at the compaction revision is allowed.
  old.set_revision(second->header().revision());
  auto at = client_->Range(old);
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(at->kvs(0).value(), "2");
  // Compacting the same revision again is an error.
  auto again = client_->Compact(compact);
  EXPECT_EQ(again.status().message(),
            "etcdserver: mvcc: required revision has been compacted");
}

TEST_F(EtcdClientTest, PutOptionErrors) {
  etcdserverpb::PutRequest put;
  put.set_key("po/missing");
  put.set_ignore_value(true);
  auto got = client_->Put(put);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().message(), "etcdserver: key not found");

  put.set_ignore_value(false);
  put.set_value("v");
  put.set_lease(0x1234);
  got = client_->Put(put);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), "etcdserver: requested lease not found");
}

TEST_F(EtcdClientTest, TxnBranches) {
  ASSERT_TRUE(client_->Put("txn/k", "1").ok());
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key("txn/k");
  cmp->set_target(etcdserverpb::Compare::VALUE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_value("1");
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key("txn/k");
  put->set_value("2");
  txn.add_failure()->mutable_request_range()->set_key("txn/k");
  auto first = client_->Txn(txn);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->succeeded());
  auto second = client_->Txn(txn);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->succeeded());
  ASSERT_EQ(second->responses_size(), 1);
  EXPECT_EQ(second->responses(0).response_range().kvs(0).value(), "2");

  // Two puts of one key in a branch.
  *txn.add_success() = txn.success(0);
  auto dup = client_->Txn(txn);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dup.status().message(),
            "etcdserver: duplicate key given in txn request");
}

TEST_F(EtcdClientTest, MemberListAndStatus) {
  auto members = client_->MemberList();
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->members_size(), 1);
  EXPECT_EQ(members->members(0).name(), "default");
  auto status = client_->Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->leader(), status->header().member_id());
  EXPECT_EQ(status->header().member_id(), members->members(0).id());
  EXPECT_EQ(status->version().substr(0, 4), "3.4.");
}

TEST_F(EtcdClientTest, RawWatchStub) {
  grpc::ClientContext context;
  client_->PrepareContext(context, absl::Seconds(10));
  auto stream = client_->watch().Watch(&context);
  etcdserverpb::WatchRequest create;
  create.mutable_create_request()->set_key("w/k");
  ASSERT_TRUE(stream->Write(create));
  etcdserverpb::WatchResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_TRUE(resp.created());
  ASSERT_TRUE(client_->Put("w/k", "v").ok());
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.events_size(), 1);
  EXPECT_EQ(resp.events(0).kv().value(), "v");
  context.TryCancel();
}

TEST_F(EtcdClientTest, FailoverFromDeadEndpoint) {
  const std::string dead = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  auto c = Client::Connect({dead, server_->endpoint()});
  ASSERT_TRUE(c.ok()) << c.status();
  // Connect settles on the live endpoint; the dead one is skipped for both
  // reads and writes, since nothing was ever sent to it.
  auto put = (*c)->Put("fo/k", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  auto get = (*c)->Get("fo/k");
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ((*c)->current_endpoint(), 1);
}

TEST(ClientConnectTest, NoReachableEndpointTimesOut) {
  const std::string dead = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  client::Options options;
  options.dial_timeout = absl::Milliseconds(200);
  auto c = Client::Connect({dead}, options);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(c.status().message(), "context deadline exceeded");
}

// A KV service that fails every Put and Range with UNAVAILABLE (as a member
// without a leader would), or sleeps for key "slow", counting the calls.
class FlakyKV final : public etcdserverpb::KV::Service {
 public:
  grpc::Status Range(grpc::ServerContext*, const etcdserverpb::RangeRequest* r,
                     etcdserverpb::RangeResponse*) override {
    ++ranges;
    if (r->key() == "slow") {
      absl::SleepFor(absl::Milliseconds(500));
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "etcdserver: request timed out");
  }
  grpc::Status Put(grpc::ServerContext*, const etcdserverpb::PutRequest*,
                   etcdserverpb::PutResponse*) override {
    ++puts;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "etcdserver: request timed out");
  }
  std::atomic<int> ranges{0};
  std::atomic<int> puts{0};
};

class FakeServer {
 public:
  FakeServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&kv_);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { server_->Shutdown(absl::ToChronoTime(absl::Now())); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  FlakyKV& kv() { return kv_; }

 private:
  FlakyKV kv_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(EtcdClientTest, WriteThatReachedAServerIsNotRetried) {
  FakeServer fake;
  // No dial wait: the client starts at the first endpoint, the fake.
  client::Options options;
  options.dial_timeout = absl::ZeroDuration();
  auto c = Client::Connect({fake.endpoint(), server_->endpoint()}, options);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ((*c)->current_endpoint(), 0);
  auto put = (*c)->Put("nr/k", "v");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(put.status().message(), "etcdserver: request timed out");
  EXPECT_EQ(fake.kv().puts.load(), 1);
  auto get = client_->Get("nr/k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->kvs_size(), 0);  // the write never went to etcd
}

TEST_F(EtcdClientTest, ReadFailsOverOnUnavailable) {
  FakeServer fake;
  ASSERT_TRUE(client_->Put("ro/k", "v").ok());
  // No dial wait: the client starts at the first endpoint, the fake.
  client::Options options;
  options.dial_timeout = absl::ZeroDuration();
  auto c = Client::Connect({fake.endpoint(), server_->endpoint()}, options);
  ASSERT_TRUE(c.ok()) << c.status();
  auto get = (*c)->Get("ro/k");
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->kvs(0).value(), "v");
  EXPECT_EQ(fake.kv().ranges.load(), 1);
  EXPECT_EQ((*c)->current_endpoint(), 1);
}

TEST(ClientDeadlineTest, PerCallDeadline) {
  FakeServer fake;
  auto c = Client::Connect({fake.endpoint()});
  ASSERT_TRUE(c.ok()) << c.status();
  CallOptions call;
  call.timeout = absl::Milliseconds(100);
  auto get = (*c)->Get("slow", call);
  EXPECT_EQ(get.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(get.status().message(), "context deadline exceeded");
}

}  // namespace
}  // namespace raftkv::testing
