// Format: the compact, stable text forms of Raft values used in scenario
// outputs. Changing any of these rewrites every expectation, so keep them
// boring. Examples:
//
//   entry:    1/4 EntryNormal "data"          (term/index type payload)
//             2/5 EntryConfChange v4 l5 r2 transition=joint-explicit
//   message:  1->2 MSG_APPEND_ENTRIES term=1 log_term=1 index=3 commit=3
//                 entries=[1/4 EntryNormal "data"]   (one line)
//   conf:     voters=(1,2,3) learners=(4)
#ifndef RAFTKV_TESTS_RAFT_FORMAT_H_
#define RAFTKV_TESTS_RAFT_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "raft/raftpb.pb.h"
#include "raft/ready.h"

namespace raftkv::raft::scenario {

std::string FormatIds(const std::vector<uint64_t>& ids);     // "(1,2,3)"
std::string FormatConfChange(const raftpb::ConfChange& cc);  // "v4 l5 r2"
std::string FormatConfState(const raftpb::ConfState& cs);
std::string FormatEntry(const raftpb::Entry& e);
std::string FormatSnapshotMeta(const raftpb::SnapshotMetadata& meta);
std::string FormatHardState(const raftpb::HardState& hs);
std::string FormatMessage(const raftpb::Message& m);

// A Ready as indented lines, each prefixed with `indent`; only the parts
// that are set appear.
std::string FormatReady(const Ready& rd, const std::string& indent);

// One line: "1: Leader term=2 vote=1 lead=1 commit=5 applied=5 last=5".
std::string FormatStateLine(const Status& st);

// The full Status, including the leader's view of every follower.
std::string FormatStatus(const Status& st);

}  // namespace raftkv::raft::scenario

#endif  // RAFTKV_TESTS_RAFT_FORMAT_H_
