// The raft thread's loop and the apply thread's loop of Node.
#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/check.h"
#include "raft/node/node.h"

namespace raftkv::raft {

namespace {

std::string EncodeReadCtx(uint64_t n) { return absl::StrCat("r", n); }
uint64_t DecodeReadCtx(const std::string& ctx) {
  if (ctx.size() < 2 || ctx[0] != 'r') return 0;
  uint64_t n = 0;
  for (size_t i = 1; i < ctx.size(); ++i) n = n * 10 + (ctx[i] - '0');
  return n;
}

// A read not answered within this many election timeouts fails with etcd's
// timeout error; the client retries (possibly on another member).
constexpr int kReadTimeoutElections = 3;

}  // namespace

void Node::RunRaft() {
  absl::Time next_tick = absl::Now() + options_.tick_interval;
  while (true) {
    std::vector<Input> inputs;
    std::vector<ReadCallback> reads;
    {
      absl::MutexLock l(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !inbox_.empty() || !reads_waiting_.empty();
      };
      mu_.AwaitWithDeadline(absl::Condition(&has_work), next_tick);
      if (stopping_) break;
      inputs.swap(inbox_);
      reads.swap(reads_waiting_);
    }
    HandleInputs(std::move(inputs));
    if (!reads.empty()) {
      // All reads that arrived since the last loop share one ReadIndex.
      const uint64_t ctx = next_read_ctx_++;
      reads_in_flight_[ctx].callbacks = std::move(reads);
      raft_->ReadIndex(EncodeReadCtx(ctx));
    }
    const absl::Time now = absl::Now();
    if (now >= next_tick) {
      raft_->Tick();
      AgeReads();
      LogRefusals(now);
      next_tick += options_.tick_interval;
      if (next_tick < now) next_tick = now + options_.tick_interval;
    }
    while (raft_->HasReady() && health().ok()) HandleReady();
    if (!health().ok()) break;
    MaybeCompactLog();
    PublishStatus();
  }
  FailReads(absl::UnavailableError("etcdserver: server stopped"));
  std::vector<Input> dropped;
  std::vector<ReadCallback> reads;
  {
    absl::MutexLock l(&mu_);
    dropped.swap(inbox_);
    reads.swap(reads_waiting_);
  }
  for (auto& in : dropped) {
    if (in.on_error)
      in.on_error(absl::UnavailableError("etcdserver: server stopped"));
  }
  for (auto& cb : reads)
    cb(absl::UnavailableError("etcdserver: server stopped"));
  absl::MutexLock l(&apply_mu_);
  apply_stopping_ = true;
}

void Node::HandleInputs(std::vector<Input> inputs) {
  for (Input& in : inputs) {
    switch (in.kind) {
      case Input::Kind::kMessage:
        // A refused message is counted by the core, logged by LogRefusals.
        raft_->Step(in.message).IgnoreError();
        break;
      case Input::Kind::kPropose:
        if (absl::Status s = raft_->Propose(std::move(in.data)); !s.ok()) {
          in.on_error(absl::UnavailableError("etcdserver: no leader"));
        } else if (options_.unsafe_ack_before_commit) {
          in.on_error(absl::OkStatus());
        }
        break;
      case Input::Kind::kConfChange:
        if (absl::Status s = raft_->ProposeConfChange(in.cc); !s.ok()) {
          in.on_error(s);
        }
        break;
      case Input::Kind::kTransfer:
        raft_->TransferLeadership(in.id);
        break;
      case Input::Kind::kUnreachable:
        raft_->ReportUnreachable(in.id);
        break;
      case Input::Kind::kSnapshotStatus:
        raft_->ReportSnapshot(in.id, in.ok);
        break;
      case Input::Kind::kCampaign:
        raft_->Campaign();
        break;
    }
  }
}

void Node::HandleReady() {
  Ready rd = raft_->GetReady();
  if (rd.soft_state && rd.soft_state->leader_id != last_leader_) {
    // Reads in flight were addressed to the old leader's rounds.
    if (last_leader_ != 0) {
      FailReads(absl::UnavailableError("etcdserver: leader changed"));
    }
    last_leader_ = rd.soft_state->leader_id;
  }
  SendMessages(&rd.messages, /*before_persist=*/true);
  if (absl::Status s = Persist(rd); !s.ok()) {
    Fail(s);
    return;
  }
  SendMessages(&rd.messages, /*before_persist=*/false);
  if (!rd.read_states.empty()) CompleteReads(rd.read_states);
  // The entries move to the apply thread. Advance still needs to see them
  // (the core counts them as applied, and applies membership changes, which
  // permits the next change): it gets the conf-change entries and an empty
  // stand-in for the last one, not a copy of every payload.
  std::vector<raftpb::Entry> handed_off;
  for (const raftpb::Entry& e : rd.committed_entries) {
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) handed_off.push_back(e);
  }
  if (!rd.committed_entries.empty() &&
      (handed_off.empty() ||
       handed_off.back().index() != rd.committed_entries.back().index())) {
    raftpb::Entry last;
    last.set_index(rd.committed_entries.back().index());
    last.set_term(rd.committed_entries.back().term());
    handed_off.push_back(std::move(last));
  }
  if (rd.snapshot.metadata().index() != 0 || !rd.committed_entries.empty()) {
    ApplyTask task;
    task.snapshot = rd.snapshot;
    task.entries = std::move(rd.committed_entries);
    absl::MutexLock l(&apply_mu_);
    apply_queue_.push_back(std::move(task));
  }
  rd.committed_entries = std::move(handed_off);
  raft_->Advance(rd);
  if (rd.snapshot.metadata().index() != 0) {
    conf_history_.clear();
    conf_history_.emplace_back(rd.snapshot.metadata().index(),
                               rd.snapshot.metadata().conf_state());
  }
  for (auto& point : raft_->TakeConfStates()) {
    conf_history_.push_back(std::move(point));
  }
}

absl::Status Node::Persist(const Ready& rd) {
  const bool has_snapshot = rd.snapshot.metadata().index() != 0;
  if (has_snapshot) {
    if (absl::Status s = log_->ApplySnapshot(rd.snapshot.metadata(), false);
        !s.ok() && !IsCompacted(s)) {
      return s;
    }
    log_snapshot_index_ = rd.snapshot.metadata().index();
  }
  if (!rd.entries.empty() || rd.hard_state) {
    const raftpb::HardState* hs = rd.hard_state ? &*rd.hard_state : nullptr;
    return log_->Save(hs, rd.entries,
                      rd.must_sync && !options_.unsafe_no_fsync);
  }
  if (has_snapshot) return log_->Sync();
  return absl::OkStatus();
}

// Sends the messages that may (before_persist) or must wait for the WAL.
void Node::SendMessages(std::vector<raftpb::Message>* msgs,
                        bool before_persist) {
  std::vector<raftpb::Message> now, later;
  for (auto& m : *msgs) {
    (MaySendBeforePersist(m) == before_persist ? now : later)
        .push_back(std::move(m));
  }
  *msgs = std::move(later);
  std::vector<raftpb::Message> batch;
  for (auto& m : now) {
    if (m.type() != raftpb::MSG_INSTALL_SNAPSHOT) {
      batch.push_back(std::move(m));
      continue;
    }
    auto source = app_->OpenSnapshot();
    if (!source.ok()) {
      raft_->ReportSnapshot(m.to(), false);
      continue;
    }
    transport_->SendSnapshot(std::move(m), std::move(*source));
  }
  if (!batch.empty()) transport_->Send(std::move(batch));
}

void Node::LogRefusals(absl::Time now) {
  const Status st = raft_->GetStatus();
  for (const auto& [kind, count] : st.refused) {
    auto& [logged, at] = refusals_logged_[kind];
    if (count == logged || now - at < absl::Seconds(1)) continue;
    std::fprintf(stderr,
                 "raftkv: refused peer messages member=%llu kind=%s new=%llu "
                 "total=%llu last: %s\n",
                 static_cast<unsigned long long>(options_.id), kind.c_str(),
                 static_cast<unsigned long long>(count - logged),
                 static_cast<unsigned long long>(count),
                 st.last_refused.at(kind).c_str());
    logged = count;
    at = now;
  }
}

void Node::CompleteReads(const std::vector<ReadState>& states) {
  for (const ReadState& rs : states) {
    const uint64_t ctx = DecodeReadCtx(rs.request_ctx);
    // A read state answers its own batch and every older one still waiting
    // (an older round's answer may have been lost with a dropped message).
    while (!reads_in_flight_.empty() &&
           reads_in_flight_.begin()->first <= ctx) {
      for (auto& cb : reads_in_flight_.begin()->second.callbacks) cb(rs.index);
      reads_in_flight_.erase(reads_in_flight_.begin());
    }
  }
}

void Node::FailReads(const absl::Status& status) {
  for (auto& [ctx, batch] : reads_in_flight_) {
    for (auto& cb : batch.callbacks) cb(status);
  }
  reads_in_flight_.clear();
}

void Node::AgeReads() {
  const int limit = kReadTimeoutElections * options_.election_tick;
  for (auto it = reads_in_flight_.begin(); it != reads_in_flight_.end();) {
    if (++it->second.age_ticks < limit) {
      ++it;
      continue;
    }
    for (auto& cb : it->second.callbacks) {
      cb(absl::UnavailableError("etcdserver: request timed out"));
    }
    it = reads_in_flight_.erase(it);
  }
}

raftpb::ConfState Node::ConfStateAt(uint64_t index) const {
  raftpb::ConfState cs = conf_history_.front().second;
  for (const auto& [at, state] : conf_history_) {
    if (at > index) break;
    cs = state;
  }
  return cs;
}

// Releases log entries once enough are applied and durable in the state
// machine, keeping `catchup_entries` for slightly slow followers.
void Node::MaybeCompactLog() {
  const uint64_t applied = applied_index();
  if (applied < log_snapshot_index_ + options_.snapshot_count +
                    options_.catchup_entries) {
    return;
  }
  auto durable = app_->SyncApplied();
  if (!durable.ok()) {
    Fail(durable.status());
    return;
  }
  // The membership is only known from the first recorded point on.
  uint64_t index = *durable > options_.catchup_entries
                       ? *durable - options_.catchup_entries
                       : 0;
  index = std::max(index, conf_history_.front().first);
  if (index <= log_snapshot_index_ || index > *durable) return;
  const raftpb::ConfState conf_state = ConfStateAt(index);
  if (conf_state.voters_size() == 0) {
    // A restart from this snapshot would know no members: fail closed.
    Fail(absl::InternalError(absl::StrCat("raft: no voters known at index ",
                                          index, "; not compacting")));
    return;
  }
  if (absl::Status s = log_->CreateSnapshot(index, conf_state); !s.ok()) {
    Fail(s);
    return;
  }
  log_snapshot_index_ = index;
  while (conf_history_.size() > 1 && conf_history_[1].first <= index) {
    conf_history_.erase(conf_history_.begin());
  }
}

void Node::RunApply() {
  while (true) {
    ApplyTask task;
    {
      absl::MutexLock l(&apply_mu_);
      auto has_task = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_) {
        return apply_stopping_ || !apply_queue_.empty();
      };
      apply_mu_.Await(absl::Condition(&has_task));
      if (apply_queue_.empty()) return;  // stopping, nothing left
      task = std::move(apply_queue_.front());
      apply_queue_.pop_front();
    }
    uint64_t last = 0;
    absl::Status s;
    if (task.snapshot.metadata().index() != 0) {
      s = app_->InstallSnapshot(task.snapshot.metadata());
      last = task.snapshot.metadata().index();
    }
    if (s.ok() && !task.entries.empty()) {
      s = app_->Apply(task.entries);
      last = task.entries.back().index();
    }
    if (!s.ok()) {
      Fail(s);
      absl::MutexLock l(&apply_mu_);
      apply_stopping_ = true;
      return;
    }
    absl::MutexLock l(&apply_mu_);
    applied_ = std::max(applied_, last);
  }
}

}  // namespace raftkv::raft
