// CheckMessage: the checks of message_check.h, one small function per part
// of a message (envelope, ranges, entries, snapshot, receiver's state).
#include "raft/message_check.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/read_only.h"

namespace raftkv::raft {

using raftpb::Message;
using raftpb::MessageType;

namespace {

// Types a follower forwards to its leader on behalf of a local caller: they
// carry no term, and `from` is the caller's member (for MSG_TRANSFER_LEADER,
// the transferee), which may be anyone, this member included.
bool Forwarded(MessageType t) {
  return t == raftpb::MSG_PROPOSE || t == raftpb::MSG_READ_INDEX ||
         t == raftpb::MSG_TRANSFER_LEADER;
}

// Types only the leader of the message's term sends.
bool FromLeader(MessageType t) {
  return t == raftpb::MSG_APPEND_ENTRIES || t == raftpb::MSG_HEARTBEAT ||
         t == raftpb::MSG_INSTALL_SNAPSHOT || t == raftpb::MSG_TIMEOUT_NOW ||
         t == raftpb::MSG_READ_INDEX_RESPONSE;
}

// Sets *detail (if any) and returns kind: `return Refuse(k, detail, ...)`.
template <typename... Args>
Refusal Refuse(Refusal kind, std::string* detail, const Args&... args) {
  if (detail != nullptr) *detail = absl::StrCat(args...);
  return kind;
}

Refusal CheckEnvelope(const Message& m, const ReceiverView& view,
                      std::string* detail) {
  if (m.type() == raftpb::MSG_UNKNOWN ||
      !raftpb::MessageType_IsValid(m.type())) {
    return Refuse(Refusal::kUnknownType, detail);
  }
  if (m.from() == 0) return Refuse(Refusal::kZeroFrom, detail);
  if (m.to() != view.id) {
    return Refuse(Refusal::kWrongTo, detail, "to=", m.to(), " self=", view.id);
  }
  const bool forwarded = Forwarded(m.type());
  if (!forwarded && m.from() == view.id) {
    return Refuse(Refusal::kFromSelf, detail, "self=", view.id);
  }
  if (forwarded && m.term() != 0) {
    return Refuse(Refusal::kForwardedWithTerm, detail);
  }
  if (!forwarded && m.term() == 0) {
    return Refuse(Refusal::kZeroTerm, detail);
  }
  return Refusal::kAccepted;
}

Refusal CheckRanges(const Message& m, std::string* detail) {
  const std::pair<const char*, uint64_t> terms[] = {
      {"term", m.term()},
      {"log_term", m.log_term()},
      {"snapshot_term", m.snapshot().metadata().term()}};
  for (const auto& [name, t] : terms) {
    if (t >= kMaxTerm) {
      return Refuse(Refusal::kTermOutOfRange, detail, name, "=", t);
    }
  }
  const std::pair<const char*, uint64_t> indexes[] = {
      {"index", m.index()},
      {"commit", m.commit()},
      {"reject_hint", m.reject_hint()},
      {"snapshot_index", m.snapshot().metadata().index()}};
  for (const auto& [name, i] : indexes) {
    if (i >= kMaxIndex) {
      return Refuse(Refusal::kIndexOutOfRange, detail, name, "=", i);
    }
  }
  for (const raftpb::Entry& e : m.entries()) {
    if (e.term() >= kMaxTerm) {
      return Refuse(Refusal::kTermOutOfRange, detail, "entry_term=", e.term());
    }
    if (e.index() >= kMaxIndex) {
      return Refuse(Refusal::kIndexOutOfRange, detail,
                    "entry_index=", e.index());
    }
  }
  // The sender's last (or previous) log term is one of its own terms.
  const bool carries_log_term =
      m.type() == raftpb::MSG_APPEND_ENTRIES ||
      m.type() == raftpb::MSG_APPEND_ENTRIES_RESPONSE ||
      m.type() == raftpb::MSG_REQUEST_VOTE ||
      m.type() == raftpb::MSG_REQUEST_PRE_VOTE;
  if (carries_log_term && m.log_term() > m.term()) {
    return Refuse(Refusal::kLogTermPastTerm, detail, "log_term=", m.log_term(),
                  " term=", m.term());
  }
  return Refusal::kAccepted;
}

Refusal CheckEntries(const Message& m, const ReceiverView& view,
                     std::string* detail) {
  if (m.entries().empty()) return Refusal::kAccepted;
  uint64_t bytes = 0;
  for (const raftpb::Entry& e : m.entries()) {
    if (!raftpb::EntryType_IsValid(e.type())) {
      return Refuse(Refusal::kBadEntryType, detail, "entry_type=", e.type());
    }
    bytes += e.ByteSizeLong();
  }
  // The sender stops a batch before it passes max_size_per_msg, except that
  // a single entry always goes (RaftLog::EntriesFrom).
  if (m.entries_size() > 1 && bytes > view.max_entries_bytes) {
    return Refuse(Refusal::kOversizedEntries, detail,
                  "entries=", m.entries_size(), " bytes=", bytes,
                  " limit=", view.max_entries_bytes);
  }
  // A forwarded proposal's terms and indexes are assigned by the leader.
  if (m.type() != raftpb::MSG_APPEND_ENTRIES) return Refusal::kAccepted;
  uint64_t prev_term = m.log_term();
  for (int i = 0; i < m.entries_size(); ++i) {
    const raftpb::Entry& e = m.entries(i);
    if (e.index() != m.index() + 1 + static_cast<uint64_t>(i)) {
      return Refuse(Refusal::kEntriesNotContiguous, detail, "index=", m.index(),
                    " entry[", i, "].index=", e.index());
    }
    // A leader's log has non-decreasing terms, none above its own.
    if (e.term() == 0 || e.term() < prev_term || e.term() > m.term()) {
      return Refuse(Refusal::kEntryTermOutOfOrder, detail, "entry[", i,
                    "].term=", e.term(), " previous=", prev_term,
                    " term=", m.term());
    }
    prev_term = e.term();
  }
  return Refusal::kAccepted;
}

Refusal CheckConfState(const raftpb::ConfState& cs, std::string* detail) {
  if (cs.voters().empty()) {
    return Refuse(Refusal::kSnapshotBadConfState, detail, "voters=()");
  }
  std::set<uint64_t> voters(cs.voters().begin(), cs.voters().end());
  voters.insert(cs.voters_outgoing().begin(), cs.voters_outgoing().end());
  const std::set<uint64_t> outgoing(cs.voters_outgoing().begin(),
                                    cs.voters_outgoing().end());
  const std::set<uint64_t> learners(cs.learners().begin(), cs.learners().end());
  if (voters.count(0) > 0 || learners.count(0) > 0) {
    return Refuse(Refusal::kSnapshotBadConfState, detail, "member id 0");
  }
  for (uint64_t id : learners) {
    if (voters.count(id) > 0) {
      return Refuse(Refusal::kSnapshotBadConfState, detail, "learner ", id,
                    " is a voter");
    }
  }
  for (uint64_t id : cs.learners_next()) {
    if (outgoing.count(id) == 0 || learners.count(id) > 0) {
      return Refuse(Refusal::kSnapshotBadConfState, detail, "learner_next ", id,
                    " not an outgoing voter");
    }
  }
  return Refusal::kAccepted;
}

Refusal CheckSnapshot(const Message& m, std::string* detail) {
  if (m.type() != raftpb::MSG_INSTALL_SNAPSHOT) return Refusal::kAccepted;
  const raftpb::SnapshotMetadata& meta = m.snapshot().metadata();
  if (meta.index() == 0 || meta.term() == 0 || meta.term() > m.term()) {
    return Refuse(Refusal::kSnapshotBadMetadata, detail,
                  "snapshot_index=", meta.index(),
                  " snapshot_term=", meta.term(), " term=", m.term());
  }
  return CheckConfState(meta.conf_state(), detail);
}

// Checks that depend on what the receiver holds. Only messages of the
// receiver's term (or, for heartbeats, a newer one) are judged: older ones
// are left to the term rules, which ignore or answer them.
Refusal CheckAgainstState(const Message& m, const ReceiverView& view,
                          std::string* detail) {
  if (m.term() < view.term) return Refusal::kAccepted;
  // Raft elects at most one leader per term.
  if (m.term() == view.term && FromLeader(m.type()) && view.lead != 0 &&
      m.from() != view.lead) {
    return Refuse(Refusal::kNotFromLeader, detail, "leader=", view.lead);
  }
  // The leader never tells a follower to commit past what it acknowledged
  // (SendHeartbeat sends min(match, commit)).
  if (m.type() == raftpb::MSG_HEARTBEAT && m.commit() > view.last_index) {
    return Refuse(Refusal::kCommitPastLastIndex, detail, "commit=", m.commit(),
                  " last=", view.last_index);
  }
  if (view.role != Role::kLeader || m.term() != view.term) {
    return Refusal::kAccepted;
  }
  // Answers to this leader's own messages: they name no index it lacks.
  if (m.type() == raftpb::MSG_APPEND_ENTRIES_RESPONSE) {
    if (m.index() > view.last_index) {
      return Refuse(Refusal::kAckPastLastIndex, detail, "index=", m.index(),
                    " last=", view.last_index);
    }
    if (m.reject() && m.reject_hint() > m.index()) {
      return Refuse(Refusal::kRejectHintPastIndex, detail,
                    "reject_hint=", m.reject_hint(), " index=", m.index());
    }
  }
  if (m.type() == raftpb::MSG_HEARTBEAT_RESPONSE) {
    const uint64_t round = ReadOnly::DecodeRoundId(m.context());
    if (round > view.last_read_round) {
      return Refuse(Refusal::kReadRoundNotIssued, detail, "round=", round,
                    " last_round=", view.last_read_round);
    }
  }
  return Refusal::kAccepted;
}

}  // namespace

const char* RefusalName(Refusal kind) {
  switch (kind) {
    case Refusal::kAccepted:
      return "accepted";
    case Refusal::kUnknownType:
      return "unknown_type";
    case Refusal::kZeroFrom:
      return "zero_from";
    case Refusal::kWrongTo:
      return "wrong_to";
    case Refusal::kFromSelf:
      return "from_self";
    case Refusal::kZeroTerm:
      return "zero_term";
    case Refusal::kForwardedWithTerm:
      return "forwarded_with_term";
    case Refusal::kTermOutOfRange:
      return "term_out_of_range";
    case Refusal::kIndexOutOfRange:
      return "index_out_of_range";
    case Refusal::kLogTermPastTerm:
      return "log_term_past_term";
    case Refusal::kOversizedEntries:
      return "oversized_entries";
    case Refusal::kBadEntryType:
      return "bad_entry_type";
    case Refusal::kEntriesNotContiguous:
      return "entries_not_contiguous";
    case Refusal::kEntryTermOutOfOrder:
      return "entry_term_out_of_order";
    case Refusal::kSnapshotBadMetadata:
      return "snapshot_bad_metadata";
    case Refusal::kSnapshotBadConfState:
      return "snapshot_bad_conf_state";
    case Refusal::kNotFromLeader:
      return "not_from_leader";
    case Refusal::kCommitPastLastIndex:
      return "commit_past_last_index";
    case Refusal::kAckPastLastIndex:
      return "ack_past_last_index";
    case Refusal::kRejectHintPastIndex:
      return "reject_hint_past_index";
    case Refusal::kReadRoundNotIssued:
      return "read_round_not_issued";
    case Refusal::kNumRefusals:
      break;
  }
  return "unknown";
}

Refusal CheckMessage(const Message& m, const ReceiverView& view,
                     std::string* detail) {
  Refusal r = CheckEnvelope(m, view, detail);
  if (r == Refusal::kAccepted) r = CheckRanges(m, detail);
  if (r == Refusal::kAccepted) r = CheckEntries(m, view, detail);
  if (r == Refusal::kAccepted) r = CheckSnapshot(m, detail);
  if (r == Refusal::kAccepted) r = CheckAgainstState(m, view, detail);
  return r;
}

}  // namespace raftkv::raft
