// The per-role message handlers: a short dispatch to one handler per
// message type.
#include "raft/check.h"
#include "raft/raft_impl.h"

namespace raftkv::raft {

using raftpb::Entry;
using raftpb::Message;

void Raft::Impl::StepLeader(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_PROPOSE:
      Propose(std::vector<Entry>(m.entries().begin(), m.entries().end()))
          .IgnoreError();  // a forwarded proposal is retried by its client
      return;
    case raftpb::MSG_READ_INDEX:
      HandleReadIndex(m);
      return;
    case raftpb::MSG_TRANSFER_LEADER:
      HandleTransferLeader(m);
      return;
    default:
      break;
  }
  auto it = tracker_.progress.find(m.from());
  if (it == tracker_.progress.end()) return;  // not (or no longer) a member
  Progress& pr = it->second;
  switch (m.type()) {
    case raftpb::MSG_APPEND_ENTRIES_RESPONSE:
      HandleAppendResponse(m, pr);
      break;
    case raftpb::MSG_HEARTBEAT_RESPONSE:
      HandleHeartbeatResponse(m, pr);
      break;
    default:
      break;  // e.g. late vote responses
  }
}

void Raft::Impl::StepCandidate(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_APPEND_ENTRIES:
      BecomeFollower(m.term(), m.from());  // a leader of our term exists
      HandleAppendEntries(m);
      break;
    case raftpb::MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      break;
    case raftpb::MSG_INSTALL_SNAPSHOT:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      break;
    case raftpb::MSG_REQUEST_VOTE_RESPONSE:
    case raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE:
      HandleVoteResponse(m);
      break;
    default:
      break;  // proposals are refused by Propose(); others are stale
  }
}

void Raft::Impl::StepFollower(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_APPEND_ENTRIES:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      break;
    case raftpb::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      break;
    case raftpb::MSG_INSTALL_SNAPSHOT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      break;
    case raftpb::MSG_PROPOSE:
    case raftpb::MSG_READ_INDEX:
    case raftpb::MSG_TRANSFER_LEADER:
      if (lead_ != 0) {
        Message fwd = m;
        fwd.set_to(lead_);
        msgs_.push_back(std::move(fwd));  // keeps the original sender
      }
      break;
    case raftpb::MSG_TIMEOUT_NOW:
      // The leader chose us: campaign now, skipping pre-vote, with a context
      // that lets voters abandon their lease on the old leader.
      Hup(/*transfer=*/true);
      break;
    case raftpb::MSG_READ_INDEX_RESPONSE:
      read_states_.push_back({m.index(), m.context()});
      break;
    default:
      break;
  }
}

absl::Status Raft::Impl::Propose(std::vector<Entry> entries) {
  switch (role_) {
    case Role::kLeader:
      break;
    case Role::kFollower:
      if (lead_ == 0) {
        return absl::FailedPreconditionError("raft: no leader");
      } else {
        Message m;
        m.set_to(lead_);
        m.set_type(raftpb::MSG_PROPOSE);
        for (auto& e : entries) *m.add_entries() = std::move(e);
        Send(std::move(m));
        return absl::OkStatus();
      }
    default:
      return absl::FailedPreconditionError("raft: no leader");
  }
  if (!tracker_.progress.count(id_)) {
    return absl::FailedPreconditionError("raft: leader is not a member");
  }
  if (lead_transferee_ != 0) {
    return absl::FailedPreconditionError(
        "raft: leadership transfer in progress");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    if (e.type() != raftpb::ENTRY_CONF_CHANGE) continue;
    // Checked again here for proposals forwarded by followers.
    raftpb::ConfChange cc;
    const bool valid =
        cc.ParseFromString(e.data()) && pending_conf_index_ <= log_.applied() &&
        ApplyConfChange(tracker_.config, tracker_.progress,
                        tracker_.max_inflight(), log_.LastIndex(), cc)
            .ok();
    if (valid) {
      pending_conf_index_ = log_.LastIndex() + 1 + i;
    } else {
      e = Entry();  // keeps the client's proposal slot as a no-op
    }
  }
  AppendEntry(std::move(entries));
  // Batching: proposals made before the next Ready share one AppendEntries
  // per follower (sent by GetReady).
  broadcast_pending_ = true;
  return absl::OkStatus();
}

}  // namespace raftkv::raft
