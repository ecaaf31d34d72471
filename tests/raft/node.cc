// The scenario driver for one node (see node.h).
#include "tests/raft/node.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/raft/format.h"

namespace raftkv::raft::scenario {

Node::Node(uint64_t id, const NodeOptions& options)
    : id_(id), options_(options), storage_(std::make_unique<MemoryStorage>()) {}

raft::Config Node::MakeConfig(uint64_t applied) const {
  raft::Config c;
  c.id = id_;
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.storage = storage_.get();
  c.applied = applied;
  c.max_inflight_msgs = options_.max_inflight_msgs;
  c.max_size_per_msg = options_.max_size_per_msg;
  c.pre_vote = options_.pre_vote;
  c.check_quorum = options_.check_quorum;
  c.seed = options_.seed != 0 ? options_.seed : id_;
  return c;
}

absl::Status Node::Start(const std::vector<uint64_t>& voters) {
  absl::StatusOr<std::unique_ptr<Raft>> r = Raft::Create(MakeConfig(0));
  if (!r.ok()) return r.status();
  raft_ = std::move(*r);
  conf_at_[0] = raftpb::ConfState();
  if (voters.empty()) return absl::OkStatus();
  return raft_->Bootstrap(voters);
}

void Node::Crash() {
  raft_.reset();
  applied_ = 0;
  data_.clear();
  conf_at_.clear();
}

absl::Status Node::Restart() {
  absl::StatusOr<raftpb::Snapshot> snap = storage_->GetSnapshot();
  if (!snap.ok()) return snap.status();
  ApplySnapshot(*snap);
  absl::StatusOr<std::unique_ptr<Raft>> r =
      Raft::Create(MakeConfig(snap->metadata().index()));
  if (!r.ok()) return r.status();
  raft_ = std::move(*r);
  return absl::OkStatus();
}

Ready Node::HandleReady(std::vector<raftpb::Message>* outbox,
                        std::string* problem) {
  Ready rd = raft_->GetReady();
  // 1. Persist: snapshot, entries, hard state.
  if (rd.snapshot.metadata().index() != 0) {
    absl::Status s = storage_->ApplySnapshot(rd.snapshot);
    if (!s.ok()) {
      *problem = absl::StrCat("node ", id_,
                              ": Ready snapshot not storable: ", s.ToString());
    }
  }
  if (!rd.entries.empty()) storage_->Append(rd.entries);
  if (rd.hard_state) storage_->SetHardState(*rd.hard_state);
  // 2. Send.
  outbox->insert(outbox->end(), rd.messages.begin(), rd.messages.end());
  // 3. Apply.
  if (rd.snapshot.metadata().index() != 0) ApplySnapshot(rd.snapshot);
  Apply(rd.committed_entries);
  // 4. Read states are only printed. 5. Advance.
  raft_->Advance(rd);
  conf_at_[applied_] = raft_->GetStatus().conf_state;
  return rd;
}

void Node::ApplySnapshot(const raftpb::Snapshot& snap) {
  applied_ = snap.metadata().index();
  data_.clear();
  conf_at_.clear();
  conf_at_[applied_] = snap.metadata().conf_state();
  // Payloads inside a snapshot lose their own indexes; file them at the
  // snapshot index in order, which is all DescribeStateMachine needs.
  std::vector<std::string> parts =
      absl::StrSplit(snap.data(), ',', absl::SkipEmpty());
  uint64_t i = 0;
  for (std::string& p : parts) {
    data_[++i] = std::move(p);
  }
}

void Node::Apply(const std::vector<raftpb::Entry>& committed) {
  for (const raftpb::Entry& e : committed) {
    applied_ = e.index();
    if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) {
      data_[e.index()] = e.data();
    }
  }
}

absl::Status Node::Compact(uint64_t index) {
  auto conf = conf_at_.find(index);
  if (conf == conf_at_.end()) {
    std::vector<uint64_t> points;
    for (const auto& [i, cs] : conf_at_) points.push_back(i);
    return absl::InvalidArgumentError(
        absl::StrCat("compact: membership at ", index,
                     " unknown; compact at one of ", FormatIds(points)));
  }
  std::vector<std::string> payloads;
  for (const auto& [i, d] : data_) {
    if (i <= index) payloads.push_back(d);
  }
  return storage_->CreateSnapshot(index, conf->second,
                                  absl::StrJoin(payloads, ","));
}

std::string Node::DescribeStateMachine() const {
  std::vector<std::string> payloads;
  for (const auto& [i, d] : data_) payloads.push_back(d);
  return absl::StrCat(id_, ": applied=", applied_, " data=(",
                      absl::StrJoin(payloads, ","), ")");
}

std::string Node::DescribeLog() const {
  std::string out;
  absl::StatusOr<raftpb::Snapshot> snap = storage_->GetSnapshot();
  if (snap.ok() && snap->metadata().index() != 0) {
    absl::StrAppend(&out, "snapshot ", FormatSnapshotMeta(snap->metadata()),
                    "\n");
  }
  uint64_t first = storage_->FirstIndex();
  uint64_t last = storage_->LastIndex();
  if (first <= last) {
    absl::StatusOr<std::vector<raftpb::Entry>> entries =
        storage_->Entries(first, last + 1, kNoLimit);
    if (!entries.ok())
      return absl::StrCat("error: ", entries.status().ToString());
    for (const raftpb::Entry& e : *entries) {
      absl::StrAppend(&out, FormatEntry(e), "\n");
    }
  }
  const raftpb::HardState& hs = storage_->hard_state();
  absl::StrAppend(&out, "hard state: ", FormatHardState(hs), "\n");
  return out;
}

}  // namespace raftkv::raft::scenario
