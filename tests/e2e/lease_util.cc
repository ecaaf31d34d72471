#include "tests/e2e/lease_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/time/clock.h"

namespace raftkv::e2e {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

constexpr absl::Duration kCallTimeout = absl::Seconds(5);

}  // namespace

absl::StatusOr<int64_t> GrantLease(client::Client& c, int64_t ttl, int64_t id,
                                   int ep) {
  grpc::ClientContext ctx;
  c.PrepareContext(ctx, kCallTimeout);
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  req.set_id(id);
  etcdserverpb::LeaseGrantResponse resp;
  grpc::Status s = c.lease(ep).LeaseGrant(&ctx, req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp.id();
}

absl::Status RevokeLease(client::Client& c, int64_t id, int ep) {
  grpc::ClientContext ctx;
  c.PrepareContext(ctx, kCallTimeout);
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(id);
  etcdserverpb::LeaseRevokeResponse resp;
  return FromGrpc(c.lease(ep).LeaseRevoke(&ctx, req, &resp));
}

absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> LeaseTtl(
    client::Client& c, int64_t id, bool keys, int ep) {
  grpc::ClientContext ctx;
  c.PrepareContext(ctx, kCallTimeout);
  etcdserverpb::LeaseTimeToLiveRequest req;
  req.set_id(id);
  req.set_keys(keys);
  etcdserverpb::LeaseTimeToLiveResponse resp;
  grpc::Status s = c.lease(ep).LeaseTimeToLive(&ctx, req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> KeepAliveOnce(
    client::Client& c, int64_t id, int ep) {
  grpc::ClientContext ctx;
  c.PrepareContext(ctx, kCallTimeout);
  auto stream = c.lease(ep).LeaseKeepAlive(&ctx);
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(id);
  etcdserverpb::LeaseKeepAliveResponse resp;
  const bool ok = stream->Write(req) && stream->Read(&resp);
  stream->WritesDone();
  if (ok) {
    ctx.TryCancel();
    stream->Finish().IgnoreError();
    return resp;
  }
  grpc::Status s = stream->Finish();
  if (s.ok()) return absl::UnavailableError("keep-alive stream ended");
  return FromGrpc(s);
}

absl::StatusOr<etcdserverpb::PutResponse> PutWithLease(client::Client& c,
                                                       const std::string& key,
                                                       const std::string& value,
                                                       int64_t lease) {
  etcdserverpb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  return c.Put(req);
}

absl::StatusOr<bool> KeyExists(client::Client& c, const std::string& key) {
  auto r = c.Get(key);
  if (!r.ok()) return r.status();
  return r->kvs_size() > 0;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& log_path)
    : log_path_(log_path) {
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
}

BackgroundProcess::~BackgroundProcess() { Stop(); }

bool BackgroundProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void BackgroundProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string BackgroundProcess::Output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

PrefixWatcher::PrefixWatcher(client::Client& c, int ep, std::string prefix)
    : client_(c), ep_(ep), prefix_(std::move(prefix)) {}

PrefixWatcher::~PrefixWatcher() {
  ctx_.TryCancel();
  if (reader_.joinable()) reader_.join();
}

absl::Status PrefixWatcher::Start(absl::Duration timeout) {
  client_.PrepareContext(ctx_, absl::InfiniteDuration());
  stream_ = client_.watch(ep_).Watch(&ctx_);
  etcdserverpb::WatchRequest req;
  auto* create = req.mutable_create_request();
  create->set_key(prefix_);
  std::string end = prefix_;
  end.back() = static_cast<char>(end.back() + 1);
  create->set_range_end(end);
  if (!stream_->Write(req)) return FromGrpc(stream_->Finish());
  // The "created" response; a read that never comes is bounded by a timer
  // that cancels the call.
  bool done = false;
  absl::Mutex mu;
  std::thread timer([&] {
    absl::MutexLock l(&mu);
    auto cond = [&] { return done; };
    if (!mu.AwaitWithTimeout(absl::Condition(&cond), timeout)) {
      ctx_.TryCancel();
    }
  });
  etcdserverpb::WatchResponse resp;
  const bool ok = stream_->Read(&resp);
  {
    absl::MutexLock l(&mu);
    done = true;
  }
  timer.join();
  if (!ok) return FromGrpc(stream_->Finish());
  if (!resp.created() || resp.canceled()) {
    return absl::InternalError("watch not created: " + resp.DebugString());
  }
  reader_ = std::thread([this] { ReadLoop(); });
  return absl::OkStatus();
}

void PrefixWatcher::ReadLoop() {
  etcdserverpb::WatchResponse resp;
  while (stream_->Read(&resp)) {
    absl::MutexLock l(&mu_);
    for (const auto& e : resp.events()) events_.push_back(e);
  }
  stream_->Finish().IgnoreError();
}

std::vector<mvccpb::Event> PrefixWatcher::Events() const {
  absl::MutexLock l(&mu_);
  return events_;
}

bool PrefixWatcher::WaitForEvents(size_t n, absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto cond = [&] {
    mu_.AssertHeld();
    return events_.size() >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
}

}  // namespace raftkv::e2e
