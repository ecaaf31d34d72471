// Trace: ring-buffer flight recorder of simulator events (see trace.h).
#include "tests/sim/trace.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace raftkv::sim {

const char* ShortTypeName(int type) {
  switch (type) {
    case raftpb::MSG_APPEND_ENTRIES:
      return "App";
    case raftpb::MSG_APPEND_ENTRIES_RESPONSE:
      return "AppResp";
    case raftpb::MSG_REQUEST_VOTE:
      return "Vote";
    case raftpb::MSG_REQUEST_VOTE_RESPONSE:
      return "VoteResp";
    case raftpb::MSG_REQUEST_PRE_VOTE:
      return "PreVote";
    case raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE:
      return "PreVoteResp";
    case raftpb::MSG_INSTALL_SNAPSHOT:
      return "Snap";
    case raftpb::MSG_HEARTBEAT:
      return "Heartbeat";
    case raftpb::MSG_HEARTBEAT_RESPONSE:
      return "HeartbeatResp";
    case raftpb::MSG_PROPOSE:
      return "Prop";
    case raftpb::MSG_READ_INDEX:
      return "ReadIndex";
    case raftpb::MSG_READ_INDEX_RESPONSE:
      return "ReadIndexResp";
    case raftpb::MSG_TIMEOUT_NOW:
      return "TimeoutNow";
    case raftpb::MSG_TRANSFER_LEADER:
      return "TransferLeader";
    default:
      return "Unknown";
  }
}

Trace::Trace(size_t capacity, bool verbose)
    : capacity_(capacity), verbose_(verbose) {
  ring_.reserve(capacity_);
}

void Trace::Note(std::string text) {
  Event e;
  e.kind = EventKind::kNote;
  e.text = std::move(text);
  Record(std::move(e));
}

void Trace::Message(EventKind kind, const raftpb::Message& m,
                    std::string reason) {
  Event e;
  e.kind = kind;
  e.type = m.type();
  e.from = m.from();
  e.to = m.to();
  e.term = m.term();
  e.log_term = m.log_term();
  e.index = m.index();
  e.commit = m.commit();
  e.entries = m.type() == raftpb::MSG_INSTALL_SNAPSHOT
                  ? m.snapshot().metadata().index()
                  : static_cast<uint64_t>(m.entries_size());
  e.reject = m.reject();
  e.text = std::move(reason);
  Record(std::move(e));
}

void Trace::Record(Event e) {
  e.step = step_;
  if (verbose_) std::fprintf(stderr, "%s\n", Format(e).c_str());
  if (capacity_ == 0) return;
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(e));
  } else {
    ring_[next_] = std::move(e);
    next_ = (next_ + 1) % capacity_;
  }
}

std::string Trace::Dump() const {
  std::string out;
  for (size_t i = 0; i < ring_.size(); ++i) {
    absl::StrAppend(&out, Format(ring_[(next_ + i) % ring_.size()]), "\n");
  }
  return out;
}

std::string Trace::Format(const Event& e) {
  std::string head = absl::StrFormat("[%6d] ", e.step);
  if (e.kind == EventKind::kNote) return head + e.text;
  const char* verb = e.kind == EventKind::kSend      ? "send"
                     : e.kind == EventKind::kDeliver ? "recv"
                                                     : "drop";
  std::string line =
      absl::StrFormat("%s%s %d->%d %s term=%d log_term=%d index=%d commit=%d",
                      head, verb, e.from, e.to, ShortTypeName(e.type), e.term,
                      e.log_term, e.index, e.commit);
  if (e.type == raftpb::MSG_INSTALL_SNAPSHOT) {
    absl::StrAppend(&line, " snap_index=", e.entries);
  } else if (e.entries > 0) {
    absl::StrAppend(&line, " entries=", e.entries);
  }
  if (e.reject) absl::StrAppend(&line, " REJECT");
  if (!e.text.empty()) absl::StrAppend(&line, " (", e.text, ")");
  return line;
}

}  // namespace raftkv::sim
