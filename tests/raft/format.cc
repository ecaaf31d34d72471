// Text forms of Raft values for scenario outputs (see format.h).
#include "tests/raft/format.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::raft::scenario {
namespace {

template <typename Repeated>
std::vector<uint64_t> ToVector(const Repeated& r) {
  return std::vector<uint64_t>(r.begin(), r.end());
}

// Payloads are printable in scenarios; binary contexts (e.g. a heartbeat's
// read round) are escaped so outputs stay plain text.
std::string Quote(const std::string& s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

const char* TransitionName(raftpb::ConfChangeTransition t) {
  switch (t) {
    case raftpb::TRANSITION_JOINT_IMPLICIT:
      return "joint-implicit";
    case raftpb::TRANSITION_JOINT_EXPLICIT:
      return "joint-explicit";
    default:
      return "auto";
  }
}

}  // namespace

std::string FormatIds(const std::vector<uint64_t>& ids) {
  return absl::StrCat("(", absl::StrJoin(ids, ","), ")");
}

std::string FormatConfChange(const raftpb::ConfChange& cc) {
  if (cc.changes().empty()) return "leave-joint";
  std::vector<std::string> parts;
  for (const raftpb::ConfChangeSingle& c : cc.changes()) {
    const char* kind = c.type() == raftpb::CONF_ADD_VOTER     ? "v"
                       : c.type() == raftpb::CONF_ADD_LEARNER ? "l"
                                                              : "r";
    parts.push_back(absl::StrCat(kind, c.node_id()));
  }
  std::string out = absl::StrJoin(parts, " ");
  if (cc.transition() != raftpb::TRANSITION_AUTO) {
    absl::StrAppend(&out, " transition=", TransitionName(cc.transition()));
  }
  return out;
}

std::string FormatConfState(const raftpb::ConfState& cs) {
  std::string out = absl::StrCat("voters=", FormatIds(ToVector(cs.voters())));
  if (!cs.voters_outgoing().empty()) {
    absl::StrAppend(&out, "&&", FormatIds(ToVector(cs.voters_outgoing())));
  }
  if (!cs.learners().empty()) {
    absl::StrAppend(&out, " learners=", FormatIds(ToVector(cs.learners())));
  }
  if (!cs.learners_next().empty()) {
    absl::StrAppend(&out,
                    " learners_next=", FormatIds(ToVector(cs.learners_next())));
  }
  if (cs.auto_leave()) absl::StrAppend(&out, " autoleave");
  return out;
}

std::string FormatEntry(const raftpb::Entry& e) {
  std::string out = absl::StrCat(e.term(), "/", e.index(), " ");
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    raftpb::ConfChange cc;
    if (!cc.ParseFromString(e.data())) {
      return absl::StrCat(out, "EntryConfChange <unparseable>");
    }
    return absl::StrCat(out, "EntryConfChange ", FormatConfChange(cc));
  }
  return absl::StrCat(out, "EntryNormal ", Quote(e.data()));
}

std::string FormatSnapshotMeta(const raftpb::SnapshotMetadata& meta) {
  return absl::StrCat("index=", meta.index(), " term=", meta.term(), " ",
                      FormatConfState(meta.conf_state()));
}

std::string FormatHardState(const raftpb::HardState& hs) {
  return absl::StrCat("term=", hs.current_term(), " vote=", hs.voted_for(),
                      " commit=", hs.commit_index());
}

std::string FormatMessage(const raftpb::Message& m) {
  std::string out =
      absl::StrCat(m.from(), "->", m.to(), " ",
                   raftpb::MessageType_Name(m.type()), " term=", m.term());
  if (m.log_term() != 0) absl::StrAppend(&out, " log_term=", m.log_term());
  if (m.index() != 0) absl::StrAppend(&out, " index=", m.index());
  if (m.commit() != 0) absl::StrAppend(&out, " commit=", m.commit());
  if (m.reject()) {
    absl::StrAppend(&out, " reject=true reject_hint=", m.reject_hint());
  }
  if (!m.context().empty()) absl::StrAppend(&out, " ctx=", Quote(m.context()));
  if (!m.entries().empty()) {
    std::vector<std::string> entries;
    for (const raftpb::Entry& e : m.entries()) {
      entries.push_back(FormatEntry(e));
    }
    absl::StrAppend(&out, " entries=[", absl::StrJoin(entries, ", "), "]");
  }
  if (m.has_snapshot() && m.snapshot().metadata().index() != 0) {
    absl::StrAppend(&out, " snapshot=[",
                    FormatSnapshotMeta(m.snapshot().metadata()),
                    " data=", Quote(m.snapshot().data()), "]");
  }
  return out;
}

std::string FormatReady(const Ready& rd, const std::string& indent) {
  std::string out;
  if (rd.soft_state) {
    absl::StrAppend(&out, indent, "soft: ", RoleName(rd.soft_state->role),
                    " lead=", rd.soft_state->leader_id, "\n");
  }
  if (rd.hard_state) {
    absl::StrAppend(&out, indent, "hard: ", FormatHardState(*rd.hard_state),
                    "\n");
  }
  if (rd.snapshot.metadata().index() != 0) {
    absl::StrAppend(&out, indent,
                    "snapshot: ", FormatSnapshotMeta(rd.snapshot.metadata()),
                    "\n");
  }
  for (const raftpb::Entry& e : rd.entries) {
    absl::StrAppend(&out, indent, "append: ", FormatEntry(e), "\n");
  }
  for (const raftpb::Entry& e : rd.committed_entries) {
    absl::StrAppend(&out, indent, "apply: ", FormatEntry(e), "\n");
  }
  for (const ReadState& rs : rd.read_states) {
    absl::StrAppend(&out, indent, "read-state: index=", rs.index,
                    " ctx=", Quote(rs.request_ctx), "\n");
  }
  for (const raftpb::Message& m : rd.messages) {
    absl::StrAppend(&out, indent, "send: ", FormatMessage(m), "\n");
  }
  if (rd.must_sync) absl::StrAppend(&out, indent, "must-sync\n");
  return out;
}

std::string FormatStateLine(const Status& st) {
  return absl::StrCat(st.id, ": ", RoleName(st.soft_state.role),
                      " term=", st.hard_state.current_term(),
                      " vote=", st.hard_state.voted_for(),
                      " lead=", st.soft_state.leader_id,
                      " commit=", st.hard_state.commit_index(),
                      " applied=", st.applied, " last=", st.last_index);
}

std::string FormatStatus(const Status& st) {
  std::string out = absl::StrCat(FormatStateLine(st), "\n");
  absl::StrAppend(&out, "  conf: ", FormatConfState(st.conf_state), "\n");
  if (st.lead_transferee != 0) {
    absl::StrAppend(&out, "  transferring to ", st.lead_transferee, "\n");
  }
  for (const auto& [id, pr] : st.progress) {
    absl::StrAppend(&out, "  progress ", id, ": ", pr.state,
                    " match=", pr.match_index, " next=", pr.next_index,
                    pr.is_learner ? " learner" : "",
                    pr.recent_active ? " active" : "", "\n");
  }
  for (const auto& [kind, count] : st.refused) {
    absl::StrAppend(&out, "  refused ", kind, "=", count, "\n");
  }
  return out;
}

}  // namespace raftkv::raft::scenario
