// MessageCheck: the door of the Raft core. Every message that arrives from
// the network passes CheckMessage before any Raft rule looks at it
// (STYLE.md 17: network input is checked where it enters). A message no
// correct member could have sent is refused: Raft::Step drops it, counts it
// by kind (Status::refused) and returns InvalidArgument naming the kind.
//
// What is refused is what a correct member never sends, judged from the
// receiver's own state (ReceiverView). What a correct member does send but
// is stale or from a peer outside our membership is NOT refused; the rules
// already handle it as Raft prescribes:
//   - old terms (answered or ignored by the term rules);
//   - votes and vote requests from members we do not know yet (a joiner
//     campaigns once it learned a membership this member has not applied);
//   - AppendEntries, heartbeats and snapshots from an unknown leader (a
//     joiner has no membership until the leader's log or snapshot gives it
//     one; a lagging member may not have applied the leader's addition);
//   - responses from a removed member (the leader ignores them);
//   - a snapshot older than our commit index (answered with our commit).
//
// The CHECKs behind Step rely on this filter: next_index never passes the
// leader's last index + 1 (acknowledgements are bounded), the log stays
// contiguous with non-decreasing terms (entries are checked), commit never
// passes the last index (heartbeat commits are bounded), terms and indexes
// stay far from overflow, and every vote response carries a non-zero term.
//
// Assumption: members share Config::max_size_per_msg (raftkv never sets it;
// the simulator and scenario clusters use one value): a batch of more than
// one entry larger than the receiver's limit is refused as oversized.
#ifndef RAFTKV_RAFT_MESSAGE_CHECK_H_
#define RAFTKV_RAFT_MESSAGE_CHECK_H_

#include <array>
#include <cstdint>
#include <string>

#include "raft/raftpb.pb.h"
#include "raft/ready.h"

namespace raftkv::raft {

// Why a message was refused. Names (RefusalName) appear in logs, in the
// scenario outputs and as the `kind` label of the server's
// raftkv_peer_messages_refused_total metric: never rename one.
enum class Refusal : int {
  kAccepted = 0,
  // The envelope.
  kUnknownType,        // MSG_UNKNOWN or a number outside MessageType
  kZeroFrom,           // from == 0
  kWrongTo,            // to is not this member
  kFromSelf,           // from == this member (only forwarded types may be)
  kZeroTerm,           // term 0 on a type that carries the sender's term
  kForwardedWithTerm,  // term set on MSG_PROPOSE/READ_INDEX/TRANSFER_LEADER
  kTermOutOfRange,     // a term field at or above kMaxTerm
  kIndexOutOfRange,    // an index field at or above kMaxIndex
  kLogTermPastTerm,    // log_term above the message's term
  // Entries (MSG_APPEND_ENTRIES, MSG_PROPOSE).
  kOversizedEntries,      // > 1 entry and more bytes than max_size_per_msg
  kBadEntryType,          // an EntryType this version does not know
  kEntriesNotContiguous,  // entry i is not at index + 1 + i
  kEntryTermOutOfOrder,   // 0, below log_term, decreasing, or above term
  // Snapshots.
  kSnapshotBadMetadata,   // index 0, term 0, or term above the message term
  kSnapshotBadConfState,  // no voter, id 0, or learners among the voters
  // Against the receiver's state.
  kNotFromLeader,        // a leader's message in our term from a non-leader
  kCommitPastLastIndex,  // heartbeat commit beyond our last index
  kAckPastLastIndex,     // AppendEntries response index beyond our last
  kRejectHintPastIndex,  // reject hint above the rejected index
  kReadRoundNotIssued,   // heartbeat answer for a read round never sent
  kNumRefusals,          // not a kind: the count of enum values
};

inline constexpr int kNumRefusalKinds = static_cast<int>(Refusal::kNumRefusals);

// Terms and indexes at or above these are refused: no cluster gets near
// them (2^62 elections or entries), and staying below keeps every `+ 1` in
// the core far from overflow.
inline constexpr uint64_t kMaxTerm = uint64_t{1} << 62;
inline constexpr uint64_t kMaxIndex = uint64_t{1} << 62;

// "ack_past_last_index" etc.; "accepted" for kAccepted.
const char* RefusalName(Refusal kind);

// What the receiver knows that the checks need. Raft::Impl fills it from
// its own state; a test or fuzzer may fill it by hand.
struct ReceiverView {
  uint64_t id = 0;    // this member
  uint64_t term = 0;  // current_term
  Role role = Role::kFollower;
  uint64_t lead = 0;  // the leader of `term` as far as we know (0: none)
  uint64_t last_index = 0;
  // On a leader: the newest ReadIndex round id it has put in a heartbeat.
  uint64_t last_read_round = 0;
  // Largest batch of more than one entry accepted, in ByteSizeLong bytes.
  uint64_t max_entries_bytes = ~uint64_t{0};
};

// Returns kAccepted, or the first reason `m` is refused with `*detail`
// (if non-null) set to the offending values ("index=1000000 last=5").
// Pure: no state, no I/O; safe to call from any thread.
Refusal CheckMessage(const raftpb::Message& m, const ReceiverView& view,
                     std::string* detail = nullptr);

// Per-kind counts of refused messages, indexed by Refusal.
using RefusalCounts = std::array<uint64_t, kNumRefusalKinds>;

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_MESSAGE_CHECK_H_
