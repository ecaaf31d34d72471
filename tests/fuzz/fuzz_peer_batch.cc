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
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rpc/raft_peer.pb.h"
#include "tests/fuzz/peer_cluster.h"

namespace {

using raftkv::fuzz::Member;
using raftkv::fuzz::PeerCluster;
using raftkv::raftpb::Message;

constexpr int kMaxMessages = 64;

// The checks rpc/peer/peer_service.cc applies before a message reaches the
// core (PeerService::Acceptable), with `to` made right.
bool PassDoor(Message* m, uint64_t receiver) {
  m->set_to(receiver);
  return m->from() != 0 && m->from() != receiver &&
         m->type() != raftkv::raftpb::MSG_UNKNOWN &&
         raftkv::raftpb::MessageType_IsValid(m->type());
}

}  // namespace

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
      if (!raw && !PassDoor(&msg, id)) continue;
      m.raft->Step(msg).IgnoreError();
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
    }
  }
  cluster.CheckAll();
  return 0;
}
