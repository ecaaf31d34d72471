#include "raft/node/node.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/check.h"

namespace raftkv::raft {

absl::StatusOr<std::unique_ptr<Node>> Node::Start(
    const NodeOptions& options, std::unique_ptr<wal::DurableLog> log,
    Transport* transport, Application* app) {
  std::unique_ptr<Node> node(new Node(options, std::move(log), transport, app));
  Config config;
  config.id = options.id;
  config.election_tick = options.election_tick;
  config.heartbeat_tick = options.heartbeat_tick;
  config.storage = node->log_.get();
  config.applied = options.applied_index;
  config.seed = options.seed;
  config.testing = options.testing;
  auto raft = Raft::Create(config);
  if (!raft.ok()) return raft.status();
  node->raft_ = std::move(*raft);
  const bool fresh = node->log_->LastIndex() == 0 &&
                     node->log_->hard_state().current_term() == 0;
  if (fresh && !options.initial_voters.empty()) {
    if (absl::Status s = node->raft_->Bootstrap(options.initial_voters);
        !s.ok()) {
      return s;
    }
  }
  node->log_snapshot_index_ = node->log_->FirstIndex() - 1;
  // Changes replayed up to the applied index are in this first point.
  node->raft_->TakeConfStates();
  node->conf_history_.emplace_back(options.applied_index,
                                   node->raft_->GetStatus().conf_state);
  node->PublishStatus();
  node->raft_thread_ = std::thread([n = node.get()] {
    pthread_setname_np(pthread_self(), "raftkv-raft");
    n->RunRaft();
  });
  node->apply_thread_ = std::thread([n = node.get()] {
    pthread_setname_np(pthread_self(), "raftkv-apply");
    n->RunApply();
  });
  return node;
}

Node::Node(const NodeOptions& options, std::unique_ptr<wal::DurableLog> log,
           Transport* transport, Application* app)
    : options_(options),
      transport_(transport),
      app_(app),
      log_(std::move(log)) {
  applied_ = options.applied_index;
}

Node::~Node() { Stop(); }

void Node::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (raft_thread_.joinable()) raft_thread_.join();
  {
    absl::MutexLock l(&apply_mu_);
    apply_stopping_ = true;
  }
  if (apply_thread_.joinable()) apply_thread_.join();
}

// ---------------------------------------------------------------------------
// Inputs (any thread)

void Node::Propose(std::string data, ErrorCallback on_error) {
  Input in;
  in.kind = Input::Kind::kPropose;
  in.data = std::move(data);
  in.on_error = std::move(on_error);
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      inbox_.push_back(std::move(in));
      return;
    }
  }
  // Callbacks never run under mu_: they may call back into the Node.
  in.on_error(absl::UnavailableError("etcdserver: server stopped"));
}

void Node::ProposeConfChange(raftpb::ConfChange cc, ErrorCallback on_error) {
  Input in;
  in.kind = Input::Kind::kConfChange;
  in.cc = std::move(cc);
  in.on_error = std::move(on_error);
  absl::MutexLock l(&mu_);
  inbox_.push_back(std::move(in));
}

void Node::ReadIndex(ReadCallback done) {
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      reads_waiting_.push_back(std::move(done));
      return;
    }
  }
  done(absl::UnavailableError("etcdserver: server stopped"));
}

void Node::TransferLeadership(uint64_t transferee) {
  Input in;
  in.kind = Input::Kind::kTransfer;
  in.id = transferee;
  absl::MutexLock l(&mu_);
  inbox_.push_back(std::move(in));
}

void Node::Campaign() {
  Input in;
  in.kind = Input::Kind::kCampaign;
  absl::MutexLock l(&mu_);
  inbox_.push_back(std::move(in));
}

void Node::Receive(raftpb::Message m) {
  if (m.to() != options_.id) return;  // misrouted: drop
  Input in;
  in.kind = Input::Kind::kMessage;
  in.message = std::move(m);
  absl::MutexLock l(&mu_);
  inbox_.push_back(std::move(in));
}

void Node::ReportUnreachable(uint64_t id) {
  Input in;
  in.kind = Input::Kind::kUnreachable;
  in.id = id;
  absl::MutexLock l(&mu_);
  inbox_.push_back(std::move(in));
}

void Node::ReportSnapshot(uint64_t id, bool ok) {
  Input in;
  in.kind = Input::Kind::kSnapshotStatus;
  in.id = id;
  in.ok = ok;
  absl::MutexLock l(&mu_);
  inbox_.push_back(std::move(in));
}

absl::StatusOr<std::unique_ptr<SnapshotSink>> Node::BeginSnapshot(
    const raftpb::Message& m) {
  return app_->BeginSnapshot(m);
}

// ---------------------------------------------------------------------------
// Status (any thread)

absl::Status Node::WaitApplied(uint64_t index, absl::Time deadline) {
  absl::MutexLock l(&apply_mu_);
  auto done = [this, index]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_) {
    return applied_ >= index || apply_stopping_;
  };
  apply_mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (applied_ >= index) return absl::OkStatus();
  if (apply_stopping_) {
    return absl::UnavailableError("etcdserver: server stopped");
  }
  return absl::DeadlineExceededError("etcdserver: request timed out");
}

uint64_t Node::applied_index() const {
  absl::MutexLock l(&apply_mu_);
  return applied_;
}

NodeStatus Node::status() const {
  NodeStatus st;
  {
    absl::MutexLock l(&mu_);
    st = status_;
  }
  st.applied = applied_index();
  return st;
}

uint64_t Node::leader() const {
  absl::MutexLock l(&mu_);
  return status_.leader;
}

uint64_t Node::term() const {
  absl::MutexLock l(&mu_);
  return status_.term;
}

absl::Status Node::health() const {
  absl::MutexLock l(&mu_);
  return failed_;
}

void Node::PublishStatus() {
  NodeStatus st;
  const Status s = raft_->GetStatus();
  st.id = options_.id;
  st.leader = s.soft_state.leader_id;
  st.role = s.soft_state.role;
  st.term = s.hard_state.current_term();
  st.commit = s.hard_state.commit_index();
  st.last_index = s.last_index;
  st.conf_state = s.conf_state;
  for (const auto& [id, pr] : s.progress) st.match_index[id] = pr.match_index;
  st.refused = s.refused;
  absl::MutexLock l(&mu_);
  status_ = std::move(st);
}

void Node::Fail(absl::Status status) {
  absl::MutexLock l(&mu_);
  if (failed_.ok()) {
    failed_ = absl::Status(status.code(),
                           absl::StrCat("raftkv: member ", options_.id,
                                        " stopped: ", status.message()));
  }
  stopping_ = true;
}

}  // namespace raftkv::raft
