#include "tests/rpc/peer_test_util.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace raftkv::rpc::testing {

uint64_t Fnv1a(const std::string& data, uint64_t h) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool Eventually(const std::function<bool()>& cond) {
  const absl::Time deadline = absl::Now() + kDeadline;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

raftpb::Message Msg(uint64_t from, uint64_t to, uint64_t index,
                    raftpb::MessageType type) {
  raftpb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(1);
  m.set_index(index);
  return m;
}

// Appends to the handler's State; Finish marks it complete.
class RecordingSink : public raft::SnapshotSink {
 public:
  explicit RecordingSink(RecordingHandler* h) : h_(h) {}
  absl::Status Write(const std::string& chunk) override {
    absl::MutexLock lock(&h_->mu_);
    if (h_->state_.fail_sink_write) return absl::DataLossError("disk full");
    h_->state_.snapshot_data.append(chunk);
    return absl::OkStatus();
  }
  absl::Status Finish() override {
    absl::MutexLock lock(&h_->mu_);
    h_->state_.snapshot_finished = true;
    return absl::OkStatus();
  }

 private:
  RecordingHandler* const h_;
};

void RecordingHandler::Receive(raftpb::Message m) {
  absl::MutexLock lock(&mu_);
  state_.received.push_back(std::move(m));
}

void RecordingHandler::ReportUnreachable(uint64_t id) {
  absl::MutexLock lock(&mu_);
  ++state_.unreachable[id];
}

void RecordingHandler::ReportSnapshot(uint64_t id, bool ok) {
  absl::MutexLock lock(&mu_);
  state_.snapshot_reports.emplace_back(id, ok);
}

absl::StatusOr<std::unique_ptr<raft::SnapshotSink>>
RecordingHandler::BeginSnapshot(const raftpb::Message& /*m*/) {
  absl::MutexLock lock(&mu_);
  state_.snapshot_data.clear();
  state_.snapshot_finished = false;
  return std::make_unique<RecordingSink>(this);
}

bool RecordingHandler::WaitUntil(const std::function<bool(const State&)>& done,
                                 absl::Duration deadline) {
  absl::MutexLock lock(&mu_);
  auto holds = [&]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done(state_); };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), deadline);
}

RecordingHandler::State RecordingHandler::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

void RecordingHandler::set_fail_sink_write(bool v) {
  absl::MutexLock lock(&mu_);
  state_.fail_sink_write = v;
}

Member::Member(uint64_t id, uint64_t cluster_id, int port,
               PeerTransportOptions options)
    : id_(id), cluster_id_(cluster_id), port_(port) {
  service_ = std::make_unique<PeerService>(id_, cluster_id_, &handler_);
  StartServer();
  transport_ = std::make_unique<PeerTransport>(id_, cluster_id_, &handler_,
                                               std::move(options));
}

Member::~Member() {
  transport_->Stop();
  StopServer();
}

std::string Member::url() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

void Member::StopServer() {
  if (server_.server == nullptr) return;
  // Peer streams are long-lived: a deadline of "now" cancels them instead
  // of waiting for the senders to hang up.
  server_.server->Shutdown(std::chrono::system_clock::now());
  server_.server.reset();
}

void Member::StartServer() {
  absl::StatusOr<PeerServer> server =
      StartPeerServer(absl::StrCat("127.0.0.1:", port_), service_.get());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  port_ = server_.port;
}

void Connect(const std::vector<Member*>& members) {
  for (Member* a : members) {
    for (Member* b : members) {
      if (a != b) a->transport().AddPeer(b->id(), b->url());
    }
  }
}

}  // namespace raftkv::rpc::testing
