// fuzz_peer_batch: the peer message path. Input: one option byte, then a
// serialized raftkv.peerpb.MessageBatch (rpc/raft_peer.proto) as a peer's
// Stream would carry it. Every message of the batch, with the `from` it
// claims, is stepped into the Raft core of a deterministic three-member
// cluster holding a real log (peer_cluster.h), Readys are handled (persisted
// into the MemoryStorage, applied) and the core's invariants checked after
// each step. No sequence of bytes from the network may stop a member
// (DESIGN.md "Security"; STYLE.md 17), so any CHECK failure, abort or
// sanitizer report is a finding.
//
// Option byte (the structured part of the input):
//   bits 0-1  receiver: 0 the leader (1), 1 an up-to-date follower (2),
//             2 the lagging follower (3), 3 both the leader and follower 2
//   bit 2     the leader's log is compacted into a snapshot first
//   bit 3     raw: step messages exactly as decoded; otherwise they first
//             pass the transport's door as rpc/peer/peer_service.cc does
//             (`to` set to the receiver, from != 0, from != receiver, a
//             known type) — the door drops messages `to` someone else, so
//             rewriting `to` just spends no inputs on that.
//   bit 4     network: the members' own messages are delivered among them
//             after each step (the input is one lying peer in a live
//             cluster); otherwise the receiver's messages are dropped
//   bit 5     the receiver ticks once after each message
//   bit 6     relative: term, log_term, index, commit, reject_hint, entry
//             terms and indexes and snapshot metadata are zigzag-encoded
//             deltas from the receiver's current term and last index, so
//             mutations land next to the values that matter (a commit one
//             past the last index, the previous term, ...) instead of
//             anywhere in 2^64
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "rpc/raft_peer.pb.h"
#include "tests/fuzz/peer_cluster.h"

namespace {

using raftkv::fuzz::Member;
using raftkv::fuzz::PeerCluster;
using raftkv::raftpb::Message;

constexpr int kMaxMessages = 64;

// RAFTKV_FUZZ_VERBOSE=1: print every message stepped and the receiver's
// state after it (for reading a reproducer, docs/fuzzing.md).
bool g_verbose = false;

void Print(const char* what, const Member& m, const Message* msg) {
  const raftkv::raft::Status st = m.raft->GetStatus();
  std::fprintf(stderr, "%s member=%llu role=%s term=%llu commit=%llu "
               "applied=%llu last=%llu%s%s\n",
               what, static_cast<unsigned long long>(m.id),
               raftkv::raft::RoleName(m.raft->role()),
               static_cast<unsigned long long>(st.hard_state.current_term()),
               static_cast<unsigned long long>(st.hard_state.commit_index()),
               static_cast<unsigned long long>(st.applied),
               static_cast<unsigned long long>(st.last_index),
               msg != nullptr ? " msg: " : "",
               msg != nullptr ? msg->ShortDebugString().c_str() : "");
}

// The checks rpc/peer/peer_service.cc applies before a message reaches the
// core (PeerService::Acceptable), with `to` made right.
bool PassDoor(Message* m, uint64_t receiver) {
  m->set_to(receiver);
  return m->from() != 0 && m->from() != receiver &&
         m->type() != raftkv::raftpb::MSG_UNKNOWN &&
         raftkv::raftpb::MessageType_IsValid(m->type());
}

// value + zigzag-decoded delta, clamped to [0, 2^64).
uint64_t Rel(uint64_t base, uint64_t zigzag) {
  const int64_t delta =
      static_cast<int64_t>(zigzag >> 1) ^ -static_cast<int64_t>(zigzag & 1);
  if (delta < 0) {
    const uint64_t down = static_cast<uint64_t>(-(delta + 1)) + 1;
    return down > base ? 0 : base - down;
  }
  const uint64_t up = static_cast<uint64_t>(delta);
  return up > ~base ? ~uint64_t{0} : base + up;
}

// Rewrites the relative fields of `m` against the receiver's state.
void MakeAbsolute(Message* m, const Member& receiver) {
  const raftkv::raft::Status st = receiver.raft->GetStatus();
  const uint64_t term = st.hard_state.current_term();
  const uint64_t last = st.last_index;
  // term 0 (a forwarded message) stays 0; else it is 1 + the zigzag delta.
  if (m->term() != 0) m->set_term(Rel(term, m->term() - 1));
  m->set_log_term(Rel(term, m->log_term()));
  m->set_index(Rel(last, m->index()));
  m->set_commit(Rel(last, m->commit()));
  m->set_reject_hint(Rel(last, m->reject_hint()));
  for (auto& e : *m->mutable_entries()) {
    e.set_term(Rel(term, e.term()));
    e.set_index(Rel(last, e.index()));
  }
  if (m->has_snapshot()) {
    auto* meta = m->mutable_snapshot()->mutable_metadata();
    meta->set_index(Rel(last, meta->index()));
    meta->set_term(Rel(term, meta->term()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* v = std::getenv("RAFTKV_FUZZ_VERBOSE");
  g_verbose = v != nullptr && std::string(v) == "1";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t options = data[0];
  raftkv::peerpb::MessageBatch batch;
  if (!batch.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;

  const int receiver_choice = options & 3;
  const bool compact_leader = (options & 4) != 0;
  const bool raw = (options & 8) != 0;
  const bool network = (options & 16) != 0;
  const bool tick = (options & 32) != 0;
  const bool relative = (options & 64) != 0;

  std::vector<uint64_t> receivers;
  switch (receiver_choice) {
    case 0: receivers = {PeerCluster::kLeader}; break;
    case 1: receivers = {PeerCluster::kFollower}; break;
    case 2: receivers = {PeerCluster::kLagging}; break;
    default: receivers = {PeerCluster::kLeader, PeerCluster::kFollower};
  }

  PeerCluster cluster(compact_leader);
  int stepped = 0;
  for (const Message& original : batch.messages()) {
    if (++stepped > kMaxMessages) break;
    for (uint64_t id : receivers) {
      Member& m = cluster.member(id);
      Message msg = original;
      if (relative) MakeAbsolute(&msg, m);
      if (!raw && !PassDoor(&msg, id)) continue;
      if (g_verbose) Print("step", m, &msg);
      const absl::Status s = m.raft->Step(msg);
      if (g_verbose && !s.ok()) {
        std::fprintf(stderr, "  refused: %s\n", s.ToString().c_str());
      }
      cluster.Check(m);
      if (tick) {
        m.raft->Tick();
        cluster.Check(m);
      }
      if (network) {
        cluster.Stabilize();
      } else {
        cluster.Drain(m, nullptr);
      }
      if (g_verbose) Print("  after", m, nullptr);
    }
  }
  cluster.CheckAll();
  return 0;
}
