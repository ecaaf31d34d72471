// The JSON gateway library (rpc/gateway/gateway.h) against the real services
// of a 3-member raftkv cluster: an httplib::Server on 127.0.0.1:0 in this
// process carries the gateway's routes, calling member 0 over a gRPC channel
// whose interceptor counts the calls still open; requests are real HTTP
// (httplib::Client, and curl where installed).
//
// Every wait polls a condition with a deadline.
#include "rpc/gateway/gateway.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "rpc/rpc.pb.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

namespace pb = etcdserverpb;
using google::protobuf::util::JsonStringToMessage;

// Counts the gRPC calls begun and not yet finished on a channel.
class OpenCalls : public grpc::experimental::Interceptor {
 public:
  explicit OpenCalls(std::atomic<int>* open) : open_(open) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    using grpc::experimental::InterceptionHookPoints;
    if (m->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      open_->fetch_add(1);
    }
    if (m->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      open_->fetch_sub(1);
    }
    m->Proceed();
  }

 private:
  std::atomic<int>* open_;
};

class OpenCallsFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit OpenCallsFactory(std::atomic<int>* open) : open_(open) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new OpenCalls(open_);
  }

 private:
  std::atomic<int>* open_;
};

struct Reply {
  int status = 0;
  std::string body;
};

// The pieces of a streamed response seen so far.
class Chunks {
 public:
  void Add(const char* data, size_t len) {
    absl::MutexLock l(&mu_);
    text_.append(data, len);
  }
  std::string text() const {
    absl::MutexLock l(&mu_);
    return text_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
};

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    cluster_ = new ProcessCluster(options);
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s << "\n" << cluster_->Logs();
    std::vector<
        std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(std::make_unique<OpenCallsFactory>(&open_calls_));
    auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
        cluster_->client_endpoint(0), grpc::InsecureChannelCredentials(),
        grpc::ChannelArguments(), std::move(interceptors));
    http_ = new httplib::Server;
    rpc::gateway::Options gw;
    gw.max_request_bytes = 64 * 1024;
    rpc::gateway::RegisterRoutes(http_, channel, gw);
    port_ = http_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    serving_ = new std::thread([] { http_->listen_after_bind(); });
    ASSERT_TRUE(WaitFor([] { return http_->is_running(); }, absl::Seconds(5)));
    // Right after the start a follower answers keepalives, which it forwards
    // to the leader, with "etcdserver: no leader" for a moment: wait that
    // out once here.
    ASSERT_TRUE(WaitFor(
        [] { return Post("/v3/lease/keepalive", R"({"ID":1})").status == 200; },
        absl::Seconds(10), absl::Milliseconds(100)));
  }

  static void TearDownTestSuite() {
    if (http_ != nullptr) http_->stop();
    if (serving_ != nullptr) serving_->join();
    delete serving_;
    delete http_;
    delete cluster_;
  }

  void SetUp() override {
    ASSERT_NE(http_, nullptr);
    // Every call of the previous test has ended (no stream leaked).
    ASSERT_TRUE(
        WaitFor([] { return open_calls_.load() == 0; }, absl::Seconds(5)))
        << open_calls_.load() << " calls still open";
  }

  static std::string Url() { return absl::StrCat("http://127.0.0.1:", port_); }

  static Reply Post(const std::string& path, const std::string& body) {
    httplib::Client client(Url());
    client.set_read_timeout(10, 0);
    auto res = client.Post(path, body, "application/json");
    if (!res) return Reply{-1, httplib::to_string(res.error())};
    return Reply{res->status, res->body};
  }

  // POST with a streamed response, collected into `chunks`; once `stop` is
  // set, the next piece that arrives makes the client drop the connection.
  static std::thread PostStream(const std::string& path,
                                const std::string& body, Chunks* chunks,
                                std::atomic<bool>* stop) {
    return std::thread([path, body, chunks, stop] {
      httplib::Client client(Url());
      client.set_read_timeout(30, 0);
      httplib::Request req;
      req.method = "POST";
      req.path = path;
      req.body = body;
      req.set_header("Content-Type", "application/json");
      req.content_receiver = [&](const char* data, size_t len, uint64_t,
                                 uint64_t) {
        chunks->Add(data, len);
        return !stop->load();
      };
      client.send(req);
    });
  }

  static ProcessCluster* cluster_;
  static httplib::Server* http_;
  static std::thread* serving_;
  static int port_;
  static std::atomic<int> open_calls_;
};

ProcessCluster* GatewayTest::cluster_ = nullptr;
httplib::Server* GatewayTest::http_ = nullptr;
std::thread* GatewayTest::serving_ = nullptr;
int GatewayTest::port_ = 0;
std::atomic<int> GatewayTest::open_calls_{0};

template <typename M>
M Parse(const std::string& json) {
  M m;
  auto s = JsonStringToMessage(json, &m);
  EXPECT_TRUE(s.ok()) << s.ToString() << " in " << json;
  return m;
}

TEST_F(GatewayTest, PutRangeDeleteRangeTxnCompaction) {
  // Go's json.Marshal style (etcd's tests): numbers, base64 bytes.
  Reply put = Post("/v3/kv/put", R"({"key":"Zm9v","value":"YmFy"})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_TRUE(absl::StrContains(put.body, R"("revision":")")) << put.body;
  const int64_t rev = Parse<pb::PutResponse>(put.body).header().revision();
  EXPECT_GT(rev, 1);

  Reply range = Post("/v3/kv/range", R"({"key":"Zm9v"})");
  ASSERT_EQ(range.status, 200) << range.body;
  EXPECT_TRUE(absl::StrContains(range.body, R"("value":"YmFy")")) << range.body;
  EXPECT_TRUE(absl::StrContains(range.body, R"("mod_revision":")"))
      << range.body;  // .proto field names
  EXPECT_EQ(Parse<pb::RangeResponse>(range.body).kvs(0).value(), "bar");

  // grpc-gateway's own JSON style (camelCase, enum names) is accepted too.
  Reply txn = Post("/v3/kv/txn", R"({"compare":[{"key":"dHhu",
      "result":"EQUAL","target":"CREATE","createRevision":"0"}],
      "success":[{"requestPut":{"key":"dHhu","value":"MQ=="}}]})");
  ASSERT_EQ(txn.status, 200) << txn.body;
  EXPECT_TRUE(absl::StrContains(txn.body, R"("succeeded":true)")) << txn.body;
  EXPECT_TRUE(absl::StrContains(txn.body, R"("response_put":{"header":)"))
      << txn.body;

  Reply del = Post("/v3/kv/deleterange", R"({"key":"Zm9v","prev_kv":true})");
  ASSERT_EQ(del.status, 200) << del.body;
  auto deleted = Parse<pb::DeleteRangeResponse>(del.body);
  EXPECT_EQ(deleted.deleted(), 1);
  EXPECT_EQ(deleted.prev_kvs(0).value(), "bar");

  Reply compact =
      Post("/v3/kv/compaction", absl::StrCat(R"({"revision":)", rev, "}"));
  ASSERT_EQ(compact.status, 200) << compact.body;
  Reply old = Post("/v3/kv/range",
                   absl::StrCat(R"({"key":"Zm9v","revision":)", rev - 1, "}"));
  EXPECT_EQ(old.status, 400) << old.body;  // OutOfRange
  EXPECT_TRUE(absl::StrContains(
      old.body, "etcdserver: mvcc: required revision has been compacted"))
      << old.body;
}

TEST_F(GatewayTest, LeaseGrantKeepAliveTimeToLiveLeasesRevoke) {
  Reply grant = Post("/v3/lease/grant", R"({"ID":7001,"TTL":30})");
  ASSERT_EQ(grant.status, 200) << grant.body;
  EXPECT_TRUE(absl::StrContains(grant.body, R"("ID":"7001")")) << grant.body;
  EXPECT_TRUE(absl::StrContains(grant.body, R"("TTL":"30")")) << grant.body;

  Reply put =
      Post("/v3/kv/put", R"({"key":"bGVhc2Vk","value":"eA==","lease":7001})");
  ASSERT_EQ(put.status, 200) << put.body;

  // One request, one response, then the stream ends (the gateway closes its
  // sending side after the body, as grpc-gateway).
  Reply keep = Post("/v3/lease/keepalive", R"({"ID":7001})");
  ASSERT_EQ(keep.status, 200) << keep.body;
  ASSERT_TRUE(absl::StartsWith(keep.body, R"({"result":{)")) << keep.body;
  EXPECT_TRUE(absl::EndsWith(keep.body, "}\n")) << keep.body;
  EXPECT_TRUE(absl::StrContains(keep.body, R"("ID":"7001")")) << keep.body;
  EXPECT_TRUE(absl::StrContains(keep.body, R"("TTL":"30")")) << keep.body;

  for (const char* path : {"/v3/lease/timetolive", "/v3/kv/lease/timetolive"}) {
    Reply ttl = Post(path, R"({"ID":7001,"keys":true})");
    ASSERT_EQ(ttl.status, 200) << ttl.body;
    auto r = Parse<pb::LeaseTimeToLiveResponse>(ttl.body);
    EXPECT_EQ(r.grantedttl(), 30);
    ASSERT_EQ(r.keys_size(), 1) << ttl.body;
    EXPECT_EQ(r.keys(0), "leased");
  }
  Reply leases = Post("/v3/lease/leases", "{}");
  ASSERT_EQ(leases.status, 200) << leases.body;
  EXPECT_TRUE(absl::StrContains(leases.body, R"("ID":"7001")")) << leases.body;

  Reply revoke = Post("/v3/lease/revoke", R"({"ID":7001})");
  ASSERT_EQ(revoke.status, 200) << revoke.body;
  EXPECT_TRUE(absl::StrContains(revoke.body, R"("revision":")"));
  Reply again = Post("/v3/kv/lease/revoke", R"({"ID":7001})");
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_EQ(again.body,
            R"({"error":"etcdserver: requested lease not found",)"
            R"("message":"etcdserver: requested lease not found","code":5})");
}

TEST_F(GatewayTest, ClusterAndMaintenance) {
  Reply list = Post("/v3/cluster/member/list", "");  // empty body: {} request
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(Parse<pb::MemberListResponse>(list.body).members_size(), 3);
  Reply status = Post("/v3/maintenance/status", "{}");
  ASSERT_EQ(status.status, 200) << status.body;
  auto st = Parse<pb::StatusResponse>(status.body);
  EXPECT_NE(st.leader(), 0u);
  EXPECT_TRUE(absl::StartsWith(st.version(), "3.4")) << status.body;
  Reply alarms = Post("/v3/maintenance/alarm", R"({"action":"GET"})");
  EXPECT_EQ(alarms.status, 200) << alarms.body;
}

TEST_F(GatewayTest, PrefixesAndRouting) {
  for (const char* prefix : {"/v3beta", "/v3alpha"}) {
    Reply r = Post(absl::StrCat(prefix, "/kv/range"), R"({"key":"Zm9v"})");
    EXPECT_EQ(r.status, 200) << prefix << " " << r.body;
    EXPECT_TRUE(absl::StrContains(r.body, R"("header":{)")) << r.body;
  }
  Reply unknown = Post("/v3/kv/nothing", "{}");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "Not Found\n");  // grpc-gateway's, not JSON
  // The v3lock and v3election routes reach gRPC (an answer or a gRPC error
  // in JSON, whether or not this member serves those services yet).
  for (const char* path : {"/v3/lock/unlock", "/v3/election/leader"}) {
    Reply r = Post(path, "{}");
    EXPECT_TRUE(absl::StartsWith(r.body, "{")) << path << " " << r.body;
  }
  httplib::Client client(Url());
  auto get = client.Get("/v3/kv/range");
  ASSERT_TRUE(get);
  EXPECT_NE(get->status, 200);
}

TEST_F(GatewayTest, ErrorShapes) {
  Reply bad = Post("/v3/kv/put", R"({"key": "Zm9v",)");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_TRUE(absl::StartsWith(bad.body, R"({"error":")")) << bad.body;
  EXPECT_TRUE(absl::EndsWith(bad.body, R"(,"code":3})")) << bad.body;

  Reply wrong_type = Post("/v3/kv/put", R"({"key":12,"value":[1]})");
  EXPECT_EQ(wrong_type.status, 400) << wrong_type.body;
  EXPECT_TRUE(absl::EndsWith(wrong_type.body, R"(,"code":3})"));

  // etcd's malformed txn (unknown fields ignored, an op with no request).
  Reply malformed = Post(
      "/v3/kv/txn",
      R"({"compare":[{"result":0,"target":1,"key":"Zm9v","TargetUnion":null}],)"
      R"("success":[{"Request":{"RequestPut":{"key":"Zm9v","value":"YmFy"}}}]})");
  EXPECT_NE(malformed.status, 200) << malformed.body;
  EXPECT_TRUE(absl::StartsWith(malformed.body, R"({"error":")"))
      << malformed.body;

  Reply empty_key = Post("/v3/kv/put", R"({"value":"YmFy"})");
  EXPECT_EQ(empty_key.status, 400) << empty_key.body;
  EXPECT_EQ(empty_key.body,
            R"({"error":"etcdserver: key is not provided",)"
            R"("message":"etcdserver: key is not provided","code":3})");

  // Larger than twice the 64 KiB limit plus 64 KiB: refused unread.
  Reply huge =
      Post("/v3/kv/put", absl::StrCat(R"({"key":"Zm9v","value":")",
                                      std::string(256 * 1024, 'A'), R"("})"));
  EXPECT_EQ(huge.status, 429) << huge.body.substr(0, 200);
  EXPECT_TRUE(absl::EndsWith(huge.body, R"(,"code":8})")) << huge.body;
}

TEST_F(GatewayTest, WatchStreamsEventsAndEndsWithTheClient) {
  Chunks chunks;
  std::atomic<bool> stop{false};
  std::thread watcher =
      PostStream("/v3/watch", R"({"create_request":{"key":"d2F0Y2hlZA=="}})",
                 &chunks, &stop);
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(chunks.text(), R"("created":true)"); },
      absl::Seconds(10)))
      << chunks.text();
  EXPECT_TRUE(absl::StartsWith(chunks.text(), R"({"result":{"header":)"))
      << chunks.text();
  // A put made after the watch started arrives on the stream.
  Reply put = Post("/v3/kv/put", R"({"key":"d2F0Y2hlZA==","value":"bmV3"})");
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(chunks.text(), R"("value":"bmV3")"); },
      absl::Seconds(10)))
      << chunks.text();
  EXPECT_EQ(open_calls_.load(), 1);
  // The client leaves (at the next event): the gateway cancels the watch.
  stop = true;
  ASSERT_EQ(
      Post("/v3/kv/put", R"({"key":"d2F0Y2hlZA==","value":"bGFzdA=="})").status,
      200);
  watcher.join();
  EXPECT_TRUE(WaitFor([] { return open_calls_.load() == 0; }, absl::Seconds(5)))
      << open_calls_.load();
}

TEST_F(GatewayTest, CurlWatchQuitsAndTheStreamIsCancelled) {
  if (!raftkv::testing::HaveProgram("curl")) GTEST_SKIP() << "no curl";
  Reply put = Post("/v3/kv/put", R"({"key":"Y3VybA==","value":"b25l"})");
  ASSERT_EQ(put.status, 200) << put.body;
  const int64_t rev = Parse<pb::PutResponse>(put.body).header().revision();
  // As etcd's TestV3CurlWatch (which starts at revision 1, compacted here by
  // an earlier test): a watch from the put's revision; curl gives up after
  // 2 s with the connection idle, and the gateway must notice.
  auto run = raftkv::testing::RunProgram(
      {"curl", "-sS", "-m", "2", "-L", Url() + "/v3beta/watch", "-X", "POST",
       "-d",
       absl::StrCat(R"({"create_request":{"key":"Y3VybA==","start_revision":)",
                    rev, "}}")});
  EXPECT_EQ(run.exit_code, 28) << run.err;  // curl: operation timed out
  EXPECT_TRUE(absl::StrContains(run.out, R"("value":"b25l")")) << run.out;
  EXPECT_TRUE(WaitFor([] { return open_calls_.load() == 0; }, absl::Seconds(5)))
      << open_calls_.load();
}

TEST_F(GatewayTest, KeepAliveOfAnUnknownLease) {
  // etcd answers TTL 0, not an error; the default is left out of the JSON.
  Reply keep = Post("/v3/lease/keepalive", R"({"ID":424242})");
  ASSERT_EQ(keep.status, 200) << keep.body;
  EXPECT_TRUE(absl::StartsWith(keep.body, R"({"result":{"header":)"))
      << keep.body;
  EXPECT_FALSE(absl::StrContains(keep.body, R"("TTL")")) << keep.body;
}

}  // namespace
}  // namespace raftkv::e2e
