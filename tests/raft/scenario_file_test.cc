// Tests of the scenario script format: parsing keeps comments and blank
// lines, and rendering with unchanged outputs reproduces the file.
#include "tests/raft/scenario_file.h"

#include "gtest/gtest.h"
#include "tests/raft/command.h"

namespace raftkv::raft::scenario {
namespace {

TEST(ScenarioFileTest, RoundTrip) {
  const std::string text =
      "# header\n\nadd-nodes 3\n----\nok\nmore\n\n# next\n"
      "campaign 1\n----\n1: x\n\n# trailing\n";
  absl::StatusOr<ScenarioFile> f = ParseScenario(text);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->blocks.size(), 2u);
  EXPECT_EQ(f->blocks[0].line, 3);
  EXPECT_EQ(f->blocks[0].expected, "ok\nmore\n");
  EXPECT_EQ(f->blocks[1].preamble, "# next\n");
  EXPECT_EQ(RenderScenario(*f, {"ok\nmore\n", "1: x\n"}), text);
  EXPECT_EQ(RenderScenario(*f, {"a\n", "b\n"}),
            "# header\n\nadd-nodes 3\n----\na\n\n# next\n"
            "campaign 1\n----\nb\n\n# trailing\n");
}

TEST(ScenarioFileTest, MissingSeparatorIsAnError) {
  EXPECT_FALSE(ParseScenario("campaign 1\nok\n").ok());
}

TEST(CommandTest, ParsesArgsOptionsAndLists) {
  absl::StatusOr<Command> c =
      ParseCommand("add-nodes 3 voters=(1,2,3) pre-vote=false");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "add-nodes");
  EXPECT_EQ(*c->ArgUint(0), 3u);
  EXPECT_EQ(*c->OptionList("voters"), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(*c->OptionBool("pre-vote", true));
  EXPECT_FALSE(c->CheckOptions({"voters"}).ok());
  EXPECT_EQ(*ParseIdList("()"), std::vector<uint64_t>{});
}

}  // namespace
}  // namespace raftkv::raft::scenario
