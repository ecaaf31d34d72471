#include "raft/ready.h"

namespace raftkv::raft {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "unknown";
}

bool MaySendBeforePersist(const raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MSG_APPEND_ENTRIES:
    case raftpb::MSG_HEARTBEAT:
    case raftpb::MSG_INSTALL_SNAPSHOT:
      return true;
    default:
      return false;
  }
}

}  // namespace raftkv::raft
