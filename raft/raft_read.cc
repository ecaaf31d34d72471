// ReadIndex (thesis 6.4) and leadership transfer (thesis 3.10).
#include "raft/check.h"
#include "raft/raft_impl.h"

namespace raftkv::raft {

using raftpb::Message;

void Raft::Impl::ReadIndex(std::string ctx) {
  Message m;
  m.set_type(raftpb::MSG_READ_INDEX);
  m.set_context(std::move(ctx));
  if (role_ == Role::kLeader) {
    m.set_from(id_);
    HandleReadIndex(m);
  } else if (lead_ != 0) {
    m.set_to(lead_);
    Send(std::move(m));
  }
  // Without a leader the read is dropped; the caller retries on timeout.
}

void Raft::Impl::HandleReadIndex(const Message& m) {
  ReadRequest req{m.context(), m.from()};
  if (tracker_.IsSingleton() ||
      config_.testing.unsafe_read_index_without_heartbeat) {
    RespondToRead(req, log_.committed());
    return;
  }
  // Until the leader commits an entry of its own term it does not know the
  // latest commit index (thesis 6.4 step 1): hold the read.
  if (!CommittedEntryInCurrentTerm()) {
    pending_reads_.push_back(m);
    return;
  }
  const uint64_t round = read_only_.Add(req, log_.committed(), id_);
  if (round != 0) BroadcastHeartbeat(ReadOnly::EncodeRoundId(round));
}

void Raft::Impl::RespondToRead(const ReadRequest& req, uint64_t index) {
  if (req.from == id_ || req.from == 0) {
    read_states_.push_back({index, req.ctx});
    return;
  }
  Message resp;
  resp.set_to(req.from);
  resp.set_type(raftpb::MSG_READ_INDEX_RESPONSE);
  resp.set_index(index);
  resp.set_context(req.ctx);
  Send(std::move(resp));
}

void Raft::Impl::ReleasePendingReads() {
  std::vector<Message> pending;
  pending.swap(pending_reads_);
  for (const Message& m : pending) HandleReadIndex(m);
}

void Raft::Impl::TransferLeadership(uint64_t transferee) {
  Message m;
  m.set_type(raftpb::MSG_TRANSFER_LEADER);
  m.set_from(transferee);
  if (role_ == Role::kLeader) {
    HandleTransferLeader(m);
  } else if (lead_ != 0) {
    m.set_to(lead_);
    msgs_.push_back(std::move(m));
  }
}

void Raft::Impl::HandleTransferLeader(const Message& m) {
  const uint64_t transferee = m.from();
  auto it = tracker_.progress.find(transferee);
  if (it == tracker_.progress.end() || it->second.is_learner ||
      !tracker_.IsVoter(transferee)) {
    return;
  }
  if (lead_transferee_ == transferee || transferee == id_) return;
  AbortLeaderTransfer();
  // The transfer must finish within one election timeout (see Tick);
  // proposals are refused meanwhile so the transferee can catch up.
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (it->second.match_index == log_.LastIndex()) {
    Message timeout;
    timeout.set_to(transferee);
    timeout.set_type(raftpb::MSG_TIMEOUT_NOW);
    Send(std::move(timeout));
  } else {
    MaybeSendAppend(transferee, /*send_if_empty=*/true);
  }
}

void Raft::Impl::ReportUnreachable(uint64_t id) {
  if (role_ != Role::kLeader) return;
  auto it = tracker_.progress.find(id);
  if (it == tracker_.progress.end()) return;
  // Pipelined messages were probably lost: fall back to probing.
  if (it->second.state == Progress::State::kReplicate) it->second.BecomeProbe();
}

void Raft::Impl::ReportSnapshot(uint64_t id, bool ok) {
  if (role_ != Role::kLeader) return;
  auto it = tracker_.progress.find(id);
  if (it == tracker_.progress.end()) return;
  Progress& pr = it->second;
  if (pr.state != Progress::State::kSnapshot) return;
  if (!ok) pr.pending_snapshot = 0;
  // Probe next: on success the follower's answer moves it to replicate; on
  // failure the next probe triggers a new snapshot. Wait for a heartbeat
  // answer before probing (probe_sent), so a dead peer is not hammered.
  pr.BecomeProbe();
  pr.probe_sent = true;
}

}  // namespace raftkv::raft
