// README.md's "Driving a one-member cluster by hand" example, kept compiling
// and true (STYLE.md: docs that run).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/raft.h"

namespace raftkv::raft {
namespace {

TEST(ReadmeExample, OneMemberCommitsAProposal) {
  MemoryStorage storage;
  Config config;
  config.id = 1;
  config.storage = &storage;
  auto raft = Raft::Create(config).value();
  ASSERT_TRUE(raft->Bootstrap({1}).ok());
  raft->Campaign();
  ASSERT_TRUE(raft->Propose("hello").ok());
  std::vector<std::string> applied;
  while (raft->HasReady()) {
    Ready rd = raft->GetReady();
    if (rd.snapshot.metadata().index() != 0) {
      ASSERT_TRUE(storage.ApplySnapshot(rd.snapshot).ok());
    }
    storage.Append(rd.entries);
    if (rd.hard_state) storage.SetHardState(*rd.hard_state);
    EXPECT_TRUE(rd.messages.empty());
    for (const auto& e : rd.committed_entries) {
      if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) {
        applied.push_back(e.data());
      }
    }
    raft->Advance(rd);
  }
  EXPECT_EQ(raft->role(), Role::kLeader);
  EXPECT_EQ(applied, std::vector<std::string>{"hello"});
}

}  // namespace
}  // namespace raftkv::raft
