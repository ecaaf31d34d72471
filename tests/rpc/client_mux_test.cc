// ClientMux (rpc/http/client_mux.h): gRPC and HTTP/1.1 on one port, silent
// and garbage connections, and shutdown with connections open. Real sockets
// on 127.0.0.1; every wait is bounded by a deadline.
#include "rpc/http/client_mux.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "rpc/rpc.grpc.pb.h"

namespace raftkv::rpc::http {
namespace {

constexpr absl::Duration kSniff = absl::Milliseconds(300);

// Answers Status with a fixed version, so a test sees its call arrive.
class FakeMaintenance : public etcdserverpb::Maintenance::Service {
 public:
  grpc::Status Status(grpc::ServerContext*, const etcdserverpb::StatusRequest*,
                      etcdserverpb::StatusResponse* resp) override {
    resp->set_version("mux-test");
    return grpc::Status::OK;
  }
};

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// A TCP connection to 127.0.0.1:`port` (blocking), or -1.
int Dial(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Everything `fd` receives until the peer closes it, or "TIMEOUT" if it is
// still open after `timeout`.
std::string ReadUntilClosed(int fd, absl::Duration timeout) {
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return "TIMEOUT";
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(ms)) <= 0) continue;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

class ClientMuxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;  // no listening port: the mux feeds it
    builder.RegisterService(&maintenance_);
    grpc_ = builder.BuildAndStart();
    ASSERT_NE(grpc_, nullptr);
    // A garbage request line is answered 400 and the connection then idles
    // like any other; one with no line end waits for the read timeout.
    http_.set_keep_alive_timeout(1);
    http_.set_read_timeout(1);
    http_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello\n", "text/plain");
    });
    ClientMuxOptions options;
    options.sniff_timeout = kSniff;
    auto mux = ClientMux::Listen("127.0.0.1", 0, options);
    ASSERT_TRUE(mux.ok()) << mux.status();
    mux_ = std::move(*mux);
    ASSERT_GT(mux_->port(), 0);
    mux_->Start(grpc_.get(), &http_);
  }
  void TearDown() override {
    mux_.reset();
    if (grpc_) grpc_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  // A Status call over a fresh channel to the mux's port.
  grpc::Status CallStatus(std::string* version) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", mux_->port()),
                                       grpc::InsecureChannelCredentials());
    auto stub = etcdserverpb::Maintenance::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    etcdserverpb::StatusResponse resp;
    grpc::Status s = stub->Status(&ctx, etcdserverpb::StatusRequest(), &resp);
    *version = resp.version();
    return s;
  }

  void ExpectBothServed() {
    std::string version;
    grpc::Status s = CallStatus(&version);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(version, "mux-test");
    httplib::Client http("127.0.0.1", mux_->port());
    auto res = http.Get("/hello");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "hello\n");
  }

  FakeMaintenance maintenance_;
  std::unique_ptr<grpc::Server> grpc_;
  HttpServer http_;
  std::unique_ptr<ClientMux> mux_;
};

TEST_F(ClientMuxTest, GrpcAndHttpOnOnePort) {
  ExpectBothServed();
  const ClientMux::Stats s = mux_->stats();
  EXPECT_GE(s.grpc, 1);
  EXPECT_EQ(s.http, 1);
  EXPECT_EQ(s.silent, 0);
}

TEST_F(ClientMuxTest, HttpKeepAliveServesSeveralRequests) {
  http_.set_keep_alive_timeout(30);  // however slow this machine is
  httplib::Client http("127.0.0.1", mux_->port());
  http.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    auto res = http.Get("/hello");
    ASSERT_TRUE(res) << i << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "hello\n");
  }
  auto missing = http.Get("/nowhere");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(mux_->stats().http, 1);  // one connection
}

TEST_F(ClientMuxTest, PipelinedHttpRequestsAreAllAnswered) {
  const int fd = Dial(mux_->port());
  ASSERT_GE(fd, 0);
  const std::string two =
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd, two.data(), two.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(two.size()));
  const std::string out = ReadUntilClosed(fd, absl::Seconds(10));
  close(fd);
  size_t answers = 0;
  for (size_t at = out.find("HTTP/1.1 200"); at != std::string::npos;
       at = out.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 2u) << out;
}

TEST_F(ClientMuxTest, SilentConnectionIsClosedAtItsDeadline) {
  const int fd = Dial(mux_->port());
  ASSERT_GE(fd, 0);
  const absl::Time start = absl::Now();
  EXPECT_EQ(ReadUntilClosed(fd, absl::Seconds(10)), "");
  const absl::Duration took = absl::Now() - start;
  close(fd);
  EXPECT_GE(took, kSniff - absl::Milliseconds(50));
  EXPECT_TRUE(
      WaitFor([&] { return mux_->stats().silent == 1; }, absl::Seconds(5)));
  ExpectBothServed();
}

TEST_F(ClientMuxTest, PartialPrefaceThenSilenceIsClosedAtItsDeadline) {
  const int fd = Dial(mux_->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(send(fd, "PRI * HT", 8, MSG_NOSIGNAL), 8);
  EXPECT_EQ(ReadUntilClosed(fd, absl::Seconds(10)), "");
  close(fd);
  EXPECT_TRUE(
      WaitFor([&] { return mux_->stats().silent == 1; }, absl::Seconds(5)));
  EXPECT_EQ(mux_->stats().grpc, 0);
  ExpectBothServed();
}

TEST_F(ClientMuxTest, GarbageGetsBadRequestOrCloseAndServingGoesOn) {
  for (const std::string& garbage :
       {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
        std::string("NONSENSE\r\n\r\n"), std::string("\r\n\r\n\r\n\r\n")}) {
    const int fd = Dial(mux_->port());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(garbage.size()));
    const std::string out = ReadUntilClosed(fd, absl::Seconds(15));
    close(fd);
    EXPECT_NE(out, "TIMEOUT");
    EXPECT_TRUE(out.empty() || absl::StartsWith(out, "HTTP/1.1 400")) << out;
  }
  ExpectBothServed();
}

TEST_F(ClientMuxTest, PeerClosingBeforeSendingIsCounted) {
  const int fd = Dial(mux_->port());
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_TRUE(
      WaitFor([&] { return mux_->stats().closed == 1; }, absl::Seconds(5)));
  EXPECT_EQ(mux_->stats().silent, 0);
}

TEST_F(ClientMuxTest, StopEndsIdleKeepAliveConnectionsPromptly) {
  // An HTTP connection idling in keep-alive after its answer, and one still
  // unclassified: Stop waits for neither.
  http_.set_keep_alive_timeout(30);
  const int idle = Dial(mux_->port());
  ASSERT_GE(idle, 0);
  const std::string get = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(idle, get.data(), get.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(get.size()));
  std::string answer;
  ASSERT_TRUE(WaitFor(
      [&] {
        char buf[4096];
        const ssize_t n = recv(idle, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) answer.append(buf, static_cast<size_t>(n));
        return absl::StrContains(answer, "\r\n\r\nhello\n");
      },
      absl::Seconds(10)))
      << answer;
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 200")) << answer;
  const int silent = Dial(mux_->port());
  ASSERT_GE(silent, 0);
  const absl::Time start = absl::Now();
  mux_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(ReadUntilClosed(idle, absl::Seconds(5)), "");
  EXPECT_EQ(ReadUntilClosed(silent, absl::Seconds(5)), "");
  close(idle);
  close(silent);
}

// Holds each Status call a while and records how many ran at once.
class SlowMaintenance : public etcdserverpb::Maintenance::Service {
 public:
  grpc::Status Status(grpc::ServerContext*, const etcdserverpb::StatusRequest*,
                      etcdserverpb::StatusResponse*) override {
    const int now = ++active_;
    int seen = max_active_;
    while (now > seen && !max_active_.compare_exchange_weak(seen, now)) {
    }
    absl::SleepFor(absl::Milliseconds(100));
    --active_;
    return grpc::Status::OK;
  }
  int max_active() const { return max_active_; }

 private:
  std::atomic<int> active_{0};
  std::atomic<int> max_active_{0};
};

TEST(LoopbackChannelTest, CallsAreBoundByTheServersStreamLimit) {
  SlowMaintenance maintenance;
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1);
  builder.RegisterService(&maintenance);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto channel = LoopbackChannel(server.get());
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = etcdserverpb::Maintenance::NewStub(*channel);
  {
    // One call first, so that the client has the server's SETTINGS (the
    // stream limit) before the concurrent ones: streams opened before
    // they arrive are not bound by it, as HTTP/2 allows.
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    etcdserverpb::StatusResponse resp;
    ASSERT_TRUE(stub->Status(&ctx, etcdserverpb::StatusRequest(), &resp).ok());
  }
  std::vector<std::thread> calls;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    calls.emplace_back([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
      etcdserverpb::StatusResponse resp;
      if (stub->Status(&ctx, etcdserverpb::StatusRequest(), &resp).ok()) ++ok;
    });
  }
  for (auto& t : calls) t.join();
  EXPECT_EQ(ok, 3);
  // One stream at a time on the one HTTP/2 connection.
  EXPECT_EQ(maintenance.max_active(), 1);
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

TEST(ClientMuxListenTest, RefusesAPortInUseAndNonNumericHosts) {
  auto first = ClientMux::Listen("127.0.0.1", 0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(ClientMux::Listen("127.0.0.1", (*first)->port()).ok());
  EXPECT_FALSE(ClientMux::Listen("example.com", 0).ok());
  auto localhost = ClientMux::Listen("localhost", 0);
  EXPECT_TRUE(localhost.ok()) << localhost.status();
}

}  // namespace
}  // namespace raftkv::rpc::http
